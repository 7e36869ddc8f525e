from __future__ import annotations

from pathlib import Path

import pytest

from ftevals.errors import FtevalsError
from ftevals.pricing import cost_usd, price_for, training_cost_usd


def test_exact_prefix_and_fine_tuned_names() -> None:
    base = price_for("gpt-4o-mini")
    assert base is not None and base.input == 0.15
    assert price_for("gpt-4o-mini-2024-07-18") == base  # longest prefix, not gpt-4o
    tuned = price_for("ft:gpt-4o-mini-2024-07-18:acme::abc123")
    assert tuned is not None and tuned.input == 0.30
    assert price_for("openai/gpt-4o") == price_for("gpt-4o")
    assert price_for("my-local-model") is None


def test_costs() -> None:
    assert cost_usd("gpt-4o", 1_000_000, 0) == pytest.approx(2.50)
    assert cost_usd("gpt-4o", 1000, 500) == pytest.approx((1000 * 2.5 + 500 * 10) / 1e6)
    assert cost_usd("unknown", 10, 10) is None
    assert training_cost_usd("gpt-4o-mini", 2_000_000) == pytest.approx(6.0)
    assert training_cost_usd("gpt-4", 10) is None


def test_override_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = tmp_path / "prices.yaml"
    table.write_text("models:\n  my-local-model: {input: 1.0, output: 2.0}\n", encoding="utf-8")
    monkeypatch.setenv("FTEVALS_PRICES", str(table))
    assert cost_usd("my-local-model", 1_000_000, 1_000_000) == pytest.approx(3.0)
    table2 = tmp_path / "bad.yaml"
    table2.write_text("models:\n  x: {input: -1, output: 0}\n", encoding="utf-8")
    monkeypatch.setenv("FTEVALS_PRICES", str(table2))
    with pytest.raises(FtevalsError, match=r"bad\.yaml"):
        price_for("x")
