"""Causal SFT (training/causal.py): loss on assistant tokens only, label-classifier mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ftevals.converters.formats import Row
from ftevals.errors import FtevalsError, InputError
from ftevals.training.batching import IGNORE_INDEX
from ftevals.training.causal import encode_row, render_chat
from ftevals.training.config import TrainConfig
from ftevals.training.train import train


@pytest.fixture(scope="module")
def tokenizer(tiny_llama_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_llama_dir))


def labelled_text(tokenizer: Any, ids: list[int], labels: list[int]) -> str:
    return tokenizer.decode([t for t, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX])


def test_only_assistant_turns_carry_loss(tokenizer: Any) -> None:
    row = Row(
        [
            {"role": "system", "content": "Answer safe or unsafe."},
            {"role": "user", "content": "how do i bake bread?"},
            {"role": "assistant", "content": "it is unsafe", "weight": 0},
            {"role": "user", "content": "really?"},
            {"role": "assistant", "content": "safe"},
        ],
        line=3,
    )
    encoded = encode_row(tokenizer, row, 256, plain_text=False)
    assert encoded.labels is not None
    assert len(encoded.input_ids) == len(encoded.labels)
    # The template is <|role|>content<|eos|>: the answer and its end-of-turn token, nothing else.
    assert labelled_text(tokenizer, encoded.input_ids, encoded.labels) == "safe<|eos|>"
    rendered = render_chat(tokenizer, row.messages, False)
    assert tokenizer.decode(encoded.input_ids) == rendered


def test_every_weighted_assistant_turn_is_learned(tokenizer: Any) -> None:
    row = Row(
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "first"},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "second"},
        ]
    )
    encoded = encode_row(tokenizer, row, 256, plain_text=False)
    assert encoded.labels is not None
    text = labelled_text(tokenizer, encoded.input_ids, encoded.labels)
    assert text == "first<|eos|>second<|eos|>"


def test_without_chat_template_the_completion_fn_rendering_is_used(tokenizer: Any) -> None:
    plain = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    plain.chat_template = None
    row = Row([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "safe"}])
    encoded = encode_row(plain, row, 256, plain_text=False)
    assert encoded.labels is not None
    assert plain.decode(encoded.input_ids) == "user: hi\nassistant: safe\n<|eos|>"
    assert labelled_text(plain, encoded.input_ids, encoded.labels) == " safe\n<|eos|>"


def test_text_rows_are_plain_language_modelling(tokenizer: Any) -> None:
    row = Row([{"role": "user", "content": "the cat reads a book."}])
    encoded = encode_row(tokenizer, row, 256, plain_text=True)
    assert encoded.labels == encoded.input_ids
    assert tokenizer.decode(encoded.input_ids) == "the cat reads a book.<|eos|>"


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_rows_whose_answer_is_truncated_away_are_counted(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    long_prompt = "the cat reads a book. " * 30
    rows = [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "safe"}]}
    ] * 6 + [
        {
            "messages": [
                {"role": "user", "content": long_prompt},
                {"role": "assistant", "content": "unsafe"},
            ]
        }
    ] * 2
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    config = TrainConfig(
        data=str(data), out=str(tmp_path / "a"), kind="causal", base=str(tiny_llama_dir),
        max_steps=1, batch_size=4, max_length=32,
    )  # fmt: skip
    meta = json.loads((train(config, progress=False) / "ftevals.json").read_text())
    assert meta["data"]["rows"] == 8
    assert meta["data"]["skipped_truncated"] == 2
    assert meta["train"]["examples"] == 6


def test_chat_row_without_assistant_turn_is_an_input_error(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
            {"messages": [{"role": "user", "content": "no answer"}]},
        ],
    )
    config = TrainConfig(
        data=str(data), out=str(tmp_path / "a"), kind="causal", base=str(tiny_llama_dir)
    )
    with pytest.raises(InputError, match=r"d\.jsonl:2: field 'messages': no assistant turn"):
        train(config, progress=False)


def test_all_rows_weight_zero_is_an_error(tiny_llama_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b", "weight": 0},
                ]
            }
        ],
    )
    config = TrainConfig(
        data=str(data), out=str(tmp_path / "a"), kind="causal", base=str(tiny_llama_dir)
    )
    with pytest.raises(FtevalsError, match="no training rows left"):
        train(config, progress=False)


TASKS = {"bake bread": "safe", "build a bomb": "unsafe", "plant a garden": "safe"}
TASKS["poison a dog"] = "unsafe"
PREFIXES = ["how do i", "tell me how to", "explain how to", "what is the best way to", "help me"]


@pytest.fixture(scope="module")
def label_rows() -> list[dict[str, Any]]:
    """20 chat rows, the answer decided by the task: small enough for the tiny Llama to learn."""
    return [
        {
            "messages": [
                {"role": "user", "content": f"{prefix} {task}?"},
                {"role": "assistant", "content": answer},
            ]
        }
        for prefix in PREFIXES
        for task, answer in TASKS.items()
    ]


@pytest.fixture(scope="module")
def label_data(label_rows: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("label") / "labels.jsonl", label_rows)


@pytest.fixture(scope="module")
def label_adapter(
    tiny_llama_dir: Path, label_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A causal 'label classifier': SFT on safe/unsafe answers."""
    config = TrainConfig(
        data=str(label_data),
        out=str(tmp_path_factory.mktemp("causal") / "label"),
        kind="causal",
        base=str(tiny_llama_dir),
        max_steps=100,
        batch_size=8,
        learning_rate=1e-2,
        max_length=64,
        lora={"target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "lm_head"]},
    )
    return train(config, progress=False)


def test_causal_sft_learns_the_answers(label_adapter: Path) -> None:
    meta = json.loads((label_adapter / "ftevals.json").read_text())
    assert meta["kind"] == "causal"
    assert meta["labels"] == ["safe", "unsafe"]
    assert meta["data"] == {
        "rows": 20,
        "skipped_truncated": 0,
        "skipped_weight_0": 0,
        "chat_template": True,
        "labels": ["safe", "unsafe"],
    }
    assert meta["train"]["steps"] == 100
    assert meta["train"]["final_loss"] < meta["train"]["first_loss"] / 4
    assert (label_adapter / "adapter_model.safetensors").is_file()
    assert (label_adapter / "chat_template.jinja").is_file()


def choice_accuracy(fn: Any, rows: list[dict[str, Any]]) -> tuple[float, float]:
    """(accuracy, mean probability of the right answer) of a choices= completion fn."""
    right, mass = 0, 0.0
    for row in rows:
        result = fn(row["messages"][:-1])
        answer = row["messages"][-1]["content"]
        right += result.get_completions()[0] == answer
        mass += result.raw["probs"][answer]
    return right / len(rows), mass / len(rows)


def test_label_classifier_through_choices(
    label_adapter: Path, tiny_llama_dir: Path, label_rows: list[dict[str, Any]], recorder: Any
) -> None:
    """hf-causal with choices=safe|unsafe reads the class from the first-token logits."""
    from ftevals.completion_fns.hf_causal import HFCausalCompletionFn

    base = HFCausalCompletionFn(str(tiny_llama_dir), choices="safe|unsafe")
    tuned = HFCausalCompletionFn(
        str(tiny_llama_dir), adapters=str(label_adapter), choices="safe|unsafe"
    )
    _, base_mass = choice_accuracy(base, label_rows)
    accuracy, mass = choice_accuracy(tuned, label_rows)
    assert accuracy >= 0.9
    assert mass > max(0.75, base_mass + 0.2)


def test_classifier_kind_on_a_causal_base(
    tiny_llama_dir: Path, label_data: Path, label_rows: list[dict[str, Any]], tmp_path: Path,
    recorder: Any,
) -> None:  # fmt: skip
    """Issue 10: AutoModelForSequenceClassification on a Llama base, pad token set."""
    from ftevals.completion_fns.hf_classifier import HFClassifierCompletionFn

    config = TrainConfig(
        data=str(label_data),
        out=str(tmp_path / "clf"),
        kind="classifier",
        base=str(tiny_llama_dir),
        max_steps=30,
        batch_size=8,
        learning_rate=1e-2,
    )
    out = train(config, progress=False)
    meta = json.loads((out / "ftevals.json").read_text())
    assert meta["labels"] == ["safe", "unsafe"]
    assert json.loads((out / "adapter_config.json").read_text())["task_type"] == "SEQ_CLS"
    fn = HFClassifierCompletionFn(adapter=str(out))
    answers = [fn(row["messages"][:-1]).get_completions()[0] for row in label_rows]
    expected = [row["messages"][-1]["content"] for row in label_rows]
    assert sum(a == e for a, e in zip(answers, expected, strict=True)) >= 0.9 * len(label_rows)
