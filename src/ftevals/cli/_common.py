"""Shared helpers of the ``ftevals`` subcommands."""

from __future__ import annotations

from collections.abc import Sequence

from ftevals.errors import FtevalsError


def split_csv(value: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def label_map(pairs: Sequence[str]) -> dict[str, str]:
    """``["A=b", ...]`` -> ``{"A": "b"}``."""
    mapping = {}
    for pair in pairs:
        if "=" not in pair:
            raise FtevalsError(f"--map expects FROM=TO, got {pair!r}")
        src, dst = pair.split("=", 1)
        mapping[src] = dst
    return mapping
