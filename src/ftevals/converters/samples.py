"""Rows to OpenAI-evals samples, label normalisation and de-duplication.

A classification sample is ``{"input": [...], "ideal": "label"}`` (what ``evals`` basic match
evals read); a screening sample is ``{"input": [...], "completion": "answer", "line": N}`` so
that a model-graded eval grades the training data itself (evals skips generation when the
sample already holds ``completion``). Row metadata, when not empty, rides along under
``"metadata"`` (evals ignores extra keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ftevals.converters.formats import Row, normalise_text, prompt_and_answer
from ftevals.errors import FtevalsError, InputError

MODES = ("classify", "screen")
SAMPLE_MESSAGE_KEYS = ("role", "content", "name")


class LabelNormaliser:
    """Turns an assistant answer into a label.

    Steps, in order: strip surrounding whitespace (``strip``, on by default); look the value up
    in ``mapping`` (exact key first, then, with ``lower``, case-insensitively); lower-case the
    result (``lower``). Mapping keys are stripped too when ``strip`` is on.
    """

    def __init__(
        self, strip: bool = True, lower: bool = False, mapping: Mapping[str, str] | None = None
    ) -> None:
        self.strip = strip
        self.lower = lower
        self.mapping: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        for key, value in (mapping or {}).items():
            k = key.strip() if strip else key
            if self.mapping.get(k, value) != value:
                raise FtevalsError(
                    f"label map: {key!r} maps to both {self.mapping[k]!r} and {value!r}"
                )
            self.mapping[k] = value
            folded = k.lower()
            if lower and self._folded.get(folded, value).lower() != value.lower():
                other = self._folded[folded]
                msg = f"label map: {key!r} (ignoring case) maps to both {other!r} and {value!r}"
                raise FtevalsError(msg)
            self._folded[folded] = value

    def __call__(self, label: str) -> str:
        value = label.strip() if self.strip else label
        if value in self.mapping:
            value = self.mapping[value]
        elif self.lower and value.lower() in self._folded:
            value = self._folded[value.lower()]
        return value.lower() if self.lower else value

    def __repr__(self) -> str:
        return f"LabelNormaliser(strip={self.strip}, lower={self.lower}, mapping={self.mapping})"


def sample_input(prompt: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prompt messages reduced to the keys evals uses: role, content and name if present."""
    return [{k: m[k] for k in SAMPLE_MESSAGE_KEYS if k in m} for m in prompt]


def row_to_sample(
    row: Row, mode: str = "classify", normalise: LabelNormaliser | None = None
) -> dict[str, Any]:
    """One sample (see the module docstring); rows without an assistant turn raise."""
    if mode not in MODES:
        raise FtevalsError(f"unknown sample mode {mode!r} (expected {', '.join(MODES)})")
    normalise = normalise or LabelNormaliser()
    prompt, answer = prompt_and_answer(row)
    field = f"messages[{len(row.messages) - 1}].content"
    if answer is None:
        raise InputError(row.source, "no assistant turn to use as the label", row.line, "messages")
    label = normalise(answer)
    sample: dict[str, Any] = {"input": sample_input(prompt)}
    if mode == "classify":
        if not label:
            raise InputError(row.source, "empty label (would match any answer)", row.line, field)
        sample["ideal"] = label
    else:
        sample["completion"] = label
        sample["line"] = row.line
    if row.metadata:
        sample["metadata"] = row.metadata
    return sample


def rows_to_samples(
    rows: list[Row], mode: str = "classify", normalise: LabelNormaliser | None = None
) -> list[dict[str, Any]]:
    """Samples for every row, in input order; the first unusable row raises :class:`InputError`.

    ``mode="classify"``: ``input`` = the messages before the last assistant turn and ``ideal`` =
    that turn normalised. ``mode="screen"``: ``input`` as above, ``completion`` = the
    (normalised) last assistant turn and ``line`` = the source line.
    """
    return [row_to_sample(row, mode, normalise) for row in rows]


def prompt_key(row: Row) -> tuple[tuple[str, str], ...]:
    """Duplicate key: normalised (role, content) of the messages before the last assistant."""
    return tuple(
        (
            str(m.get("role")),
            normalise_text(m["content"]) if isinstance(m.get("content"), str) else "",
        )
        for m in row.prompt_messages()
    )


def dedupe(rows: list[Row]) -> tuple[list[Row], int]:
    """Keep the first row of each :func:`prompt_key`; return (kept rows, dropped count)."""
    seen: set[tuple[tuple[str, str], ...]] = set()
    kept: list[Row] = []
    for row in rows:
        key = prompt_key(row)
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept, len(rows) - len(kept)


def label_conflicts(rows: list[Row], normalise: LabelNormaliser | None = None) -> int:
    """How many distinct prompts appear with more than one (normalised) answer."""
    normalise = normalise or LabelNormaliser()
    answers: dict[tuple[tuple[str, str], ...], set[str]] = {}
    for row in rows:
        answer = row.answer()
        if answer is not None:
            answers.setdefault(prompt_key(row), set()).add(normalise(answer))
    return sum(1 for labels in answers.values() if len(labels) > 1)
