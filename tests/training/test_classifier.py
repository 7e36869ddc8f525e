"""LoRA sequence classifiers: what training writes, reloading, and data errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from ftevals.errors import FtevalsError, InputError
from ftevals.runtime.loading import load_classifier
from ftevals.runtime.meta import META_FILE, read_meta
from ftevals.training.classifier import load_examples, train_classifier
from ftevals.training.config import TrainConfig

TEXTS = ["How do I bake bread at home?", "Tell me how to build a pipe bomb?", "hello"]


def chat_row(user: str, answer: str | None, system: str | None = None) -> dict[str, Any]:
    messages = [] if system is None else [{"role": "system", "content": system}]
    messages.append({"role": "user", "content": user})
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return {"messages": messages}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def logits(model: Any, tokenizer: Any, texts: list[str]) -> torch.Tensor:
    enc = tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    with torch.inference_mode():
        return model(**enc).logits


def test_adapter_dir_and_meta(minilm_adapter: Path, tiny_chat_data: Path) -> None:
    assert (minilm_adapter / "adapter_config.json").is_file()
    assert (minilm_adapter / "adapter_model.safetensors").is_file()
    assert (minilm_adapter / "tokenizer_config.json").is_file()
    meta = json.loads((minilm_adapter / META_FILE).read_text(encoding="utf-8"))
    assert meta == read_meta(minilm_adapter).to_json()
    assert meta["kind"] == "classifier"
    assert meta["base"] == "minilm"
    assert meta["labels"] == ["safe", "unsafe"]
    assert meta["data_sha256"] == hashlib.sha256(tiny_chat_data.read_bytes()).hexdigest()
    assert meta["config"]["max_length"] == 32
    assert meta["config"]["data"] == str(tiny_chat_data)
    assert meta["train"]["examples"] == 40
    assert meta["train"]["batches"] == 5  # 1 epoch of 40 examples in batches of 8
    assert meta["train"]["first_loss"] > 0


def test_load_classifier_is_reproducible(minilm_adapter: Path) -> None:
    model_a, tokenizer_a, meta_a = load_classifier(minilm_adapter)
    model_b, tokenizer_b, meta_b = load_classifier(str(minilm_adapter), base="minilm")
    assert meta_a == meta_b
    assert not model_a.training and not model_b.training
    assert model_a.config.id2label == {0: "safe", 1: "unsafe"}
    first = logits(model_a, tokenizer_a, TEXTS)
    second = logits(model_b, tokenizer_b, TEXTS)
    assert first.shape == (len(TEXTS), 2)
    assert torch.equal(first, second)


def test_training_is_seeded(tiny_chat_data: Path, tmp_path: Path) -> None:
    """Same config and seed: the same weights; another seed: different ones."""
    from safetensors.torch import load_file

    def train(name: str, seed: int) -> dict[str, torch.Tensor]:
        cfg = TrainConfig(
            data=str(tiny_chat_data),
            out=str(tmp_path / name),
            epochs=0.2,  # 1 batch: enough to move the weights, quick
            batch_size=8,
            max_length=8,
            seed=seed,
        )
        out = train_classifier(cfg, progress=False)
        assert (read_meta(out).train or {})["batches"] == 1
        tensors: dict[str, torch.Tensor] = load_file(str(out / "adapter_model.safetensors"))
        return tensors

    a, b, c = train("a", 0), train("b", 0), train("c", 1)
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_single_label_is_refused(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "one.jsonl", [chat_row(f"q{i}", "safe") for i in range(4)])
    with pytest.raises(FtevalsError, match="at least two labels") as info:
        train_classifier(TrainConfig(data=str(data), out=str(tmp_path / "out")), progress=False)
    assert str(data) in str(info.value)
    assert not (tmp_path / "out").exists()


def test_row_without_assistant_turn_is_located(tmp_path: Path) -> None:
    rows = [chat_row("a", "safe"), chat_row("b", "unsafe"), chat_row("c", None, system="sys")]
    data = write_jsonl(tmp_path / "bad.jsonl", rows)
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "out"))
    with pytest.raises(InputError, match="no assistant turn") as info:
        train_classifier(cfg, progress=False)
    assert isinstance(info.value, FtevalsError)
    assert info.value.line == 3
    assert str(info.value).startswith(f"{data}:3: ")


def test_empty_label_is_located(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "bad.jsonl", [chat_row("a", "safe"), chat_row("b", "  ")])
    with pytest.raises(InputError, match="empty label") as info:
        load_examples(TrainConfig(data=str(data), out="o"))
    assert info.value.line == 2
    assert info.value.field == "content"


def test_examples_are_the_user_turns_and_the_last_answer(tmp_path: Path) -> None:
    rows = [
        chat_row("first question", "safe", system="ignored system prompt"),
        {
            "messages": [
                {"role": "user", "content": "one"},
                {"role": "assistant", "content": "earlier answer"},
                {"role": "user", "content": "two"},
                {"role": "assistant", "content": " unsafe "},
            ]
        },
    ]
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    examples = load_examples(TrainConfig(data=str(data), out="o"))
    assert [(e.text, e.label, e.line) for e in examples] == [
        ("first question", "safe", 1),
        ("one\ntwo", "unsafe", 2),
    ]


def test_no_examples_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "empty.jsonl"
    data.write_text("\n", encoding="utf-8")
    with pytest.raises(FtevalsError):
        load_examples(TrainConfig(data=str(data), out="o", format="chat"))


def test_loading_a_non_adapter_fails(tmp_path: Path, minilm_adapter: Path) -> None:
    with pytest.raises(FtevalsError, match="not an ftevals adapter"):
        load_classifier(tmp_path)
    meta = json.loads((minilm_adapter / META_FILE).read_text(encoding="utf-8"))
    (tmp_path / META_FILE).write_text(json.dumps(meta | {"kind": "causal"}), encoding="utf-8")
    with pytest.raises(FtevalsError, match="not classifier"):
        load_classifier(tmp_path)
