from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ftevals.cli import main
from ftevals.converters.tokens import counter_for
from ftevals.converters.validate import default_epochs, render, validate_file
from ftevals.pricing import training_cost_usd

SYS = {"role": "system", "content": "Answer safe or unsafe."}


def chat(user: str, answer: str = "safe", system: bool = True) -> dict[str, Any]:
    msgs = [SYS] if system else []
    return {
        "messages": [
            *msgs,
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ]
    }


def jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("n", "epochs"),
    [(1, 25), (3, 25), (10, 10), (30, 3), (34, 3), (5000, 3), (9000, 2), (30000, 1)],
)
def test_default_epochs_is_the_cookbook_rule(n: int, epochs: int) -> None:
    assert default_epochs(n) == epochs


def test_errors_counted_with_line_and_field_and_valid_rows_counted(tmp_path: Path) -> None:
    rows = [
        chat("How do I bake bread?"),
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "x", "weight": 5},
            ]
        },
        chat("no system", system=False),
        {"messages": [{"role": "robot", "content": "beep"}]},
    ]
    path = jsonl(tmp_path / "d.jsonl", rows)
    report = validate_file(path)
    assert (report.examples, report.valid_examples) == (4, 2)
    assert report.error_counts == {
        "invalid_weight": 1,
        "unrecognized_role": 1,
        "example_missing_assistant_message": 1,
    }
    assert [(e.line, e.type, e.field) for e in report.errors] == [
        (2, "invalid_weight", "messages[1].weight"),
        (4, "unrecognized_role", "messages[0].role"),
        (4, "example_missing_assistant_message", "messages"),
    ]
    assert report.warning_counts == {"missing_system_message": 1}
    assert report.warning_lines == {"missing_system_message": [3]}
    text = render(report)
    assert f"{path}:2: field 'messages[1].weight': invalid_weight: 5: not 0 or 1" in text
    assert "format errors: 3" in text


def test_token_statistics_epochs_and_price(tmp_path: Path) -> None:
    rows = [chat("Tell me a story about a dragon " * k) for k in range(1, 41)]
    path = jsonl(tmp_path / "d.jsonl", rows)
    report = validate_file(path, "gpt-4o-mini")
    counter = counter_for("gpt-4o-mini")
    totals = np.array([counter.count(r["messages"])[0] for r in rows], dtype=float)
    assert report.tokenizer == "tiktoken o200k_base" and report.context_length == 65536
    dist = report.distributions["tokens_per_example"]
    assert (dist.min, dist.max, dist.median) == (totals.min(), totals.max(), np.median(totals))
    assert dist.p95 == pytest.approx(np.quantile(totals, 0.95))
    assert report.distributions["assistant_tokens_per_example"].max == 1  # "safe"
    assert report.distributions["messages_per_example"].mean == 3
    assert report.epochs == 3  # 40 examples x 3 >= 100
    assert report.billing_tokens == int(totals.sum())
    assert report.trained_tokens == 3 * int(totals.sum())
    assert report.cost_usd == training_cost_usd("gpt-4o-mini", report.trained_tokens)
    assert report.training_price_per_1m == 3.0
    assert f"${report.cost_usd:,.2f} at $3 per 1M" in render(report)
    given = validate_file(path, "gpt-4o-mini", epochs=2)
    assert (given.epochs, given.trained_tokens) == (2, 2 * int(totals.sum()))


def test_truncation_warning_caps_billed_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = tmp_path / "limits.yaml"
    limits.write_text("models:\n  gpt-4o-mini: 30\n", encoding="utf-8")
    monkeypatch.setenv("FTEVALS_CONTEXT_LENGTHS", str(limits))
    path = jsonl(tmp_path / "d.jsonl", [chat("short"), chat("long " * 100), chat("hi")])
    report = validate_file(path, "gpt-4o-mini")
    assert report.context_length == 30
    assert report.warning_counts["over_context_length"] == 1
    assert report.warning_lines["over_context_length"] == [2]
    counter = counter_for("gpt-4o-mini")
    expected = sum(
        min(30, counter.count(chat(u)["messages"])[0]) for u in ("short", "long " * 100, "hi")
    )
    assert report.billing_tokens == expected
    assert "examples over 30 tokens (will be truncated) (lines 2)" in render(report)


def test_other_formats_and_error_listing_limit(tmp_path: Path) -> None:
    rows = [{"prompt": "p", "completion": "c"}, {"prompt": "p"}, {"prompt": 3, "completion": "c"}]
    path = jsonl(tmp_path / "c.jsonl", rows)
    report = validate_file(path, max_errors=1)
    assert report.format == "completion" and report.valid_examples == 1
    assert report.error_counts == {"invalid_row": 2}
    assert [(e.line, e.field, e.message) for e in report.errors] == [(2, "completion", "missing")]
    assert "... and 1 more" in render(report)


def test_cli_json_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = jsonl(tmp_path / "good.jsonl", [chat("a"), chat("b")])
    assert main(["validate", str(good), "--model", "gpt-4.1-nano", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["error_total"] == 0 and data["valid_examples"] == 2
    assert data["model"] == "gpt-4.1-nano" and data["tokenizer"] == "tiktoken o200k_base"
    assert data["cost_usd"] == training_cost_usd("gpt-4.1-nano", data["trained_tokens"])
    bad = jsonl(tmp_path / "bad.jsonl", [chat("a"), {"messages": "no"}])
    assert main(["validate", str(bad)]) == 1
    assert f"{bad}:2: field 'messages': missing_messages_list" in capsys.readouterr().out
    assert main(["validate", str(good), "--model", "./no-such-model"]) == 2
    assert "model path './no-such-model' does not exist" in capsys.readouterr().err


def test_local_model_uses_its_hf_tokenizer(tiny_llama_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    rows = [chat("the cat reads a book"), chat("how do i build a pipe bomb", "unsafe")]
    report = validate_file(jsonl(tmp_path / "d.jsonl", rows), str(tiny_llama_dir))
    tok = AutoTokenizer.from_pretrained(str(tiny_llama_dir))
    encoded = [tok.apply_chat_template(r["messages"], tokenize=True) for r in rows]
    expected = [len(e["input_ids"]) for e in encoded]  # transformers 5 returns a BatchEncoding
    assert report.tokenizer == f"hf {tiny_llama_dir}"
    assert report.context_length == 256  # max_position_embeddings of the tiny model
    assert report.distributions["tokens_per_example"].max == max(expected)
    assert report.model == str(tiny_llama_dir) and report.cost_usd is None
    assert "no training price" in render(report)


def test_histogram_statistics_equal_numpys() -> None:
    import random
    from collections import Counter

    from ftevals.converters.validate import _distribution

    rng = random.Random(3)
    for n in (1, 2, 7, 1000):
        values = [rng.randint(1, 50) for _ in range(n)]
        d = _distribution(Counter(values))
        data = np.array(values, dtype=float)
        assert (d.min, d.max, d.mean) == (data.min(), data.max(), round(data.mean(), 2))
        assert d.median == pytest.approx(np.median(data))
        assert (d.p5, d.p95) == pytest.approx(tuple(np.quantile(data, [0.05, 0.95])))
