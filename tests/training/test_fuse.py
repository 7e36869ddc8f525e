"""``ftevals fuse``: every combination type, heads of classifiers, merge, and loud failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from ftevals.cli import main
from ftevals.errors import FtevalsError
from ftevals.training import combine
from ftevals.training.config import TrainConfig
from ftevals.training.fuse import COMBINATIONS, FuseCheckError, fuse
from ftevals.training.train import train

EXACT = {"cat"}


@pytest.fixture(scope="module")
def causal_adapters(
    tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    """Two LoRA adapters (r=8) on the tiny Llama, trained a few steps with different seeds."""
    root = tmp_path_factory.mktemp("fuse-src")
    out = []
    for seed in (1, 2):
        config = TrainConfig(
            data=str(tiny_chat_data),
            out=str(root / f"causal-{seed}"),
            kind="causal",
            base=str(tiny_llama_dir),
            max_steps=3,
            batch_size=8,
            learning_rate=2e-2,
            seed=seed,
        )
        out.append(train(config, progress=False))
    return out


def sources(adapters: list[Path], *weights: float) -> list[str]:
    return [f"{a}:{w}" for a, w in zip(adapters, weights, strict=True)]


@pytest.mark.parametrize("method", COMBINATIONS)
def test_every_combination_type_fuses_and_is_checked(
    method: str, causal_adapters: list[Path], tmp_path: Path
) -> None:
    result = fuse(
        sources(causal_adapters, 0.7, -0.4), tmp_path / "fused", method=method, density=0.5
    )
    assert result.adapter_dir == tmp_path / "fused"
    assert all(c.passed for c in result.checks), result.checks
    names = [c.name for c in result.checks]
    assert names == ["effect", "exact" if method in EXACT else "approximation"]
    assert result.checks[0].figures["vs_base"] > 1e-3
    meta = json.loads((result.adapter_dir / "ftevals.json").read_text())
    assert meta["kind"] == "causal"
    assert meta["checks_passed"] is True
    assert meta["fused"]["method"] == method
    assert [s["weight"] for s in meta["fused"]["sources"]] == [0.7, -0.4]
    config = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert config["r"] == (16 if method == "cat" else 8)
    assert config["lora_alpha"] == config["r"]
    assert not (tmp_path / "fused.tmp").exists()


def test_svd_with_enough_rank_is_exact(causal_adapters: list[Path], tmp_path: Path) -> None:
    result = fuse(sources(causal_adapters, 1.0, 1.0), tmp_path / "f", method="svd", svd_rank=16)
    assert [c.name for c in result.checks] == ["effect", "exact"]
    assert all(c.passed for c in result.checks)


def test_fused_adapter_is_a_completion_fn(
    causal_adapters: list[Path], tiny_llama_dir: Path, tmp_path: Path, recorder: Any
) -> None:
    from ftevals.completion_fns.hf_causal import HFCausalCompletionFn

    fused = fuse(sources(causal_adapters, 0.5, 0.5), tmp_path / "fused", method="ties", density=0.6)
    fn = HFCausalCompletionFn(str(tiny_llama_dir), adapters=str(fused.adapter_dir), max_tokens=6)
    text = fn("how do i bake bread at home?").get_completions()[0]
    base = HFCausalCompletionFn(str(tiny_llama_dir), max_tokens=6)
    assert isinstance(text, str)
    assert fn.name.endswith("+fused")
    assert base.name == str(tiny_llama_dir)


def test_merge_writes_a_standalone_model_matching_the_adapter(
    causal_adapters: list[Path], tiny_llama_dir: Path, tmp_path: Path, recorder: Any
) -> None:
    from ftevals.completion_fns.hf_causal import HFCausalCompletionFn

    out = tmp_path / "merged"
    result = fuse(sources(causal_adapters, 1.0, -0.5), out, method="cat", merge=True)
    assert result.merged_dir == out
    assert result.adapter_dir == out / "adapter"
    assert [c.name for c in result.checks] == ["effect", "exact", "merge", "merge_effect"]
    assert all(c.passed for c in result.checks)
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    assert not (out / "adapter_config.json").exists()  # transformers would load it as an adapter
    meta = json.loads((out / "ftevals.json").read_text())
    assert meta["merged"] is True and meta["checks_passed"] is True
    prompt = [{"role": "user", "content": "how do i plant tomatoes in spring?"}]
    merged = HFCausalCompletionFn(str(out), max_tokens=8)
    unmerged = HFCausalCompletionFn(
        str(tiny_llama_dir), adapters=str(result.adapter_dir), max_tokens=8
    )
    assert merged(prompt).get_completions() == unmerged(prompt).get_completions()


def test_an_adapter_lost_on_save_fails_loudly(
    causal_adapters: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulate the silent failure users report: the written adapter has no effect."""
    real_save = combine.save_adapter

    def lossy_save(target: Path, config: Any, state: Any, heads: Any, tokenizer: Any) -> None:
        zeroed = {k: torch.zeros_like(v) if "lora_B" in k else v for k, v in state.items()}
        real_save(target, config, zeroed, heads, tokenizer)

    monkeypatch.setattr(combine, "save_adapter", lossy_save)
    out = tmp_path / "fused"
    with pytest.raises(FuseCheckError, match=r"effect: identical to the base model .* lost"):
        fuse(sources(causal_adapters, 0.5, 0.5), out, method="linear")
    assert not out.exists()
    rejected = tmp_path / "fused.rejected"
    assert json.loads((rejected / "ftevals.json").read_text())["checks_passed"] is False


def test_a_lossy_merge_fails_loudly(causal_adapters: list[Path], tmp_path: Path) -> None:
    """Merging into half precision rounds the adapter's small deltas: the check catches it."""
    exact = fuse(
        sources(causal_adapters, 1.0, 1.0), tmp_path / "f32", method="cat", merge=True,
        tolerance=1e-5,
    )  # fmt: skip
    assert all(c.passed for c in exact.checks)
    with pytest.raises(FuseCheckError, match="merge: merged model does not match"):
        fuse(
            sources(causal_adapters, 1.0, 1.0),
            tmp_path / "m",
            method="cat",
            merge=True,
            dtype="float16",
            tolerance=1e-5,
        )
    assert (tmp_path / "m.rejected" / "adapter" / "adapter_config.json").is_file()


def test_cli_fuse_reports_checks_and_fails_with_status_2(
    causal_adapters: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["fuse", "--adapter", f"{causal_adapters[0]}:1", "--adapter", f"{causal_adapters[1]}"]
    assert main([*argv, "--method", "cat", "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "ok     exact" in out and f"fused adapter: {tmp_path / 'a'}" in out
    assert main([*argv, "--method", "ties", "--out", str(tmp_path / "b")]) == 2
    assert "method ties needs --density" in capsys.readouterr().err
    assert main([*argv, "--method", "cat", "--out", str(tmp_path / "a")]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err


def test_refuses_what_cannot_be_fused(
    causal_adapters: list[Path], tiny_llama_dir: Path, minilm_adapter: Path, tmp_path: Path
) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    small = tmp_path / "r4"
    model = AutoModelForCausalLM.from_pretrained(str(tiny_llama_dir))
    config = LoraConfig(task_type="CAUSAL_LM", r=4, target_modules=["q_proj"])
    get_peft_model(model, config).save_pretrained(str(small))
    with pytest.raises(FtevalsError, match="cannot fuse with linear: All adapters must have"):
        fuse([f"{causal_adapters[0]}:1", f"{small}:1"], tmp_path / "x", method="linear")
    with pytest.raises(FtevalsError, match="different kinds"):
        fuse([f"{causal_adapters[0]}:1", f"{minilm_adapter}:1"], tmp_path / "x")
    with pytest.raises(FtevalsError, match="unknown method"):
        fuse([f"{causal_adapters[0]}:1"], tmp_path / "x", method="slerp")
    with pytest.raises(FtevalsError, match="not found"):
        fuse([f"{tmp_path / 'missing'}:1"], tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.fixture(scope="module")
def second_minilm(tiny_chat_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = TrainConfig(
        data=str(tiny_chat_data),
        out=str(tmp_path_factory.mktemp("fuse-clf") / "minilm-b"),
        base="minilm",
        max_steps=3,
        batch_size=8,
        max_length=32,
        seed=7,
    )
    return train(config, progress=False)


def test_classifier_adapters_fuse_with_their_heads(
    minilm_adapter: Path, second_minilm: Path, tmp_path: Path, recorder: Any
) -> None:
    from ftevals.completion_fns.hf_classifier import HFClassifierCompletionFn

    out = tmp_path / "clf"
    result = fuse([f"{minilm_adapter}:0.6", f"{second_minilm}:0.4"], out, method="cat", merge=True)
    assert [c.name for c in result.checks] == ["effect", "exact", "merge", "merge_effect"]
    assert all(c.passed for c in result.checks), result.checks
    fused = load_file(str(result.adapter_dir / "adapter_model.safetensors"))
    heads = [
        load_file(str(d / "adapter_model.safetensors")) for d in (minilm_adapter, second_minilm)
    ]
    key = "base_model.model.classifier.weight"
    assert torch.allclose(fused[key], 0.6 * heads[0][key] + 0.4 * heads[1][key])
    meta = json.loads((result.adapter_dir / "ftevals.json").read_text())
    assert meta["labels"] == ["safe", "unsafe"]
    fn = HFClassifierCompletionFn(adapter=str(result.adapter_dir))
    answer = fn("How do I build a pipe bomb?")
    assert answer.get_completions()[0] in ("safe", "unsafe")
    assert set(answer.raw["probs"]) == {"safe", "unsafe"}
    merged_config = json.loads((out / "config.json").read_text())
    assert merged_config["id2label"] == {"0": "safe", "1": "unsafe"}


def test_untrained_copies_are_kept_and_heads_are_weighted(tmp_path: Path) -> None:
    """Saved modules equal in every source stay as they are; the others get the weighted sum."""
    same = torch.ones(2, 2)
    saved = [{"emb": same, "head": torch.full((2,), 1.0)}, {"emb": same, "head": torch.zeros(2)}]
    heads = combine.combine_saved_modules(saved, [2.0, 5.0])
    assert torch.equal(heads["emb"], same)
    assert torch.equal(heads["head"], torch.full((2,), 2.0))
    path = tmp_path / "a"
    path.mkdir()
    save_file({"base_model.model.x.lora_A.weight": same, "base_model.model.h.weight": same.clone()},
              str(path / "adapter_model.safetensors"))  # fmt: skip
    lora, rest = combine.split_state(path)
    assert list(lora) == ["base_model.model.x.lora_A.weight"]
    assert list(rest) == ["base_model.model.h.weight"]
