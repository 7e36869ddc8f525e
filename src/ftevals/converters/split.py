"""Deterministic hash-based train/test split, stable when rows are added.

A row's side depends only on its key (its normalised user content) and the seed, never on the
other rows: adding rows never moves existing ones, and duplicates always land together.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from ftevals.converters.formats import Row, normalise_text
from ftevals.converters.leakage import SplitDuplicates, split_duplicates
from ftevals.errors import FtevalsError

Side = Literal["train", "test"]


def assign_split(row_key: str, test_fraction: float, seed: str = "ftevals") -> Side:
    """``test`` when sha256(seed + NUL + key), read as a number in [0, 1), is < test_fraction."""
    if not 0.0 <= test_fraction <= 1.0:
        raise FtevalsError(f"test fraction must be within [0, 1], got {test_fraction}")
    digest = hashlib.sha256(f"{seed}\0{row_key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    return "test" if point < test_fraction else "train"


def split_key(row: Row) -> str:
    """Normalised content of the user messages before the last assistant turn (all prompt
    messages when there is no user message)."""
    prompt = [m for m in row.prompt_messages() if isinstance(m.get("content"), str)]
    users = [m for m in prompt if m.get("role") == "user"] or prompt
    return "\n".join(normalise_text(m["content"]) for m in users)


def split_rows(
    rows: list[Row], test_fraction: float, seed: str = "ftevals"
) -> tuple[list[Row], list[Row]]:
    """(train, test), each in input order."""
    train: list[Row] = []
    test: list[Row] = []
    for row in rows:
        side = assign_split(split_key(row), test_fraction, seed)
        (test if side == "test" else train).append(row)
    return train, test


def leakage(train_rows: list[Row], test_rows: list[Row]) -> list[str]:
    """Normalised test prompts (:func:`split_key`) also found in train; unique, in test order."""
    train_keys = {split_key(row) for row in train_rows}
    leaked: dict[str, None] = {}
    for row in test_rows:
        key = split_key(row)
        if key in train_keys:
            leaked[key] = None
    return list(leaked)


class SplitCheck:
    """The split keys of each side with their input lines, kept while a file is split, then
    checked for test prompts that duplicate train prompts beyond the split key: punctuation
    differences and near duplicates, which a hash split sends to different sides
    (:func:`ftevals.converters.leakage.split_duplicates`)."""

    def __init__(self) -> None:
        self.sides: dict[str, list[tuple[str, str]]] = {"train": [], "test": []}

    def add(self, side: str, line: int, key: str) -> None:
        self.sides[side].append((f"line {line}", key))

    def result(self) -> SplitDuplicates:
        return split_duplicates(self.sides["train"], self.sides["test"])
