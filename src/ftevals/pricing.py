"""The one price table (``ftevals/data/prices.yaml``, overridable with ``FTEVALS_PRICES``)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from ftevals.errors import FtevalsError

DEFAULT_TABLE = Path(__file__).resolve().parent / "data" / "prices.yaml"


class Price(BaseModel):
    """USD per 1M tokens for one model."""

    input: float = Field(ge=0, description="Prompt tokens, USD per 1M.")
    output: float = Field(ge=0, description="Completion tokens, USD per 1M.")
    training: float | None = Field(
        default=None, ge=0, description="Fine-tuning, USD per 1M trained tokens."
    )
    fine_tuned: Price | None = Field(
        default=None, description="Inference price of fine-tuned variants."
    )


def _read(path: Path) -> dict[str, Price]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise FtevalsError(f"{path}: cannot read price table: {exc}") from None
    models: Any = loaded.get("models", {}) if isinstance(loaded, dict) else None
    if not isinstance(models, dict):
        raise FtevalsError(f"{path}: expected a `models:` mapping")
    table = {}
    for name, entry in models.items():
        try:
            table[str(name)] = Price.model_validate(entry)
        except ValueError as exc:
            raise FtevalsError(f"{path}: model {name!r}: {exc}") from None
    return table


@functools.cache
def _table(override: str | None) -> dict[str, Price]:
    table = _read(DEFAULT_TABLE)
    if override:
        table.update(_read(Path(override)))
    return table


def price_table() -> dict[str, Price]:
    """All known prices (the packaged table plus ``FTEVALS_PRICES``)."""
    return dict(_table(os.environ.get("FTEVALS_PRICES")))


def price_for(model: str) -> Price | None:
    """The price of a model name: exact, then longest prefix; ``ft:BASE:...`` uses BASE's."""
    table = price_table()
    fine_tuned = model.startswith("ft:")
    name = model.split(":")[1] if fine_tuned and model.count(":") >= 1 else model
    for provider in ("openai/", "azure/"):
        name = name.removeprefix(provider)
    match = table.get(name)
    if match is None:
        prefixes = [k for k in table if name.startswith(k)]
        match = table[max(prefixes, key=len)] if prefixes else None
    if match is not None and fine_tuned:
        return match.fine_tuned
    return match


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Cost of one call, or None when the model has no known price."""
    price = price_for(model)
    if price is None:
        return None
    return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000


def training_cost_usd(model: str, trained_tokens: int) -> float | None:
    """Cost of fine-tuning on ``trained_tokens`` (tokens x epochs), or None if unknown."""
    price = price_for(model)
    if price is None or price.training is None:
        return None
    return trained_tokens * price.training / 1_000_000
