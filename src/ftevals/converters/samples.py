"""Rows to OpenAI-evals samples, label normalisation and de-duplication.

A classification sample is ``{"input": [...], "ideal": "label"}`` (what ``evals`` basic match
evals read); a screening sample is ``{"input": [...], "completion": "answer", "line": N}`` so
that a model-graded eval grades the training data itself (evals skips generation when the
sample already holds ``completion``). Row metadata, when not empty, rides along under
``"metadata"`` (evals ignores extra keys).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Mapping
from typing import Any

from ftevals.converters.formats import Row, prompt_and_answer
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
    return [
        {"role": m["role"], "content": m["content"]}
        if len(m) == 2 and "role" in m and "content" in m
        else {k: m[k] for k in SAMPLE_MESSAGE_KEYS if k in m}
        for m in prompt
    ]


def row_to_sample(
    row: Row, mode: str = "classify", normalise: LabelNormaliser | None = None
) -> dict[str, Any]:
    """One sample (see the module docstring); rows without an assistant turn raise."""
    if mode not in MODES:
        raise FtevalsError(f"unknown sample mode {mode!r} (expected {', '.join(MODES)})")
    normalise = normalise or LabelNormaliser()
    prompt, answer = prompt_and_answer(row)
    if answer is None:
        raise InputError(row.source, "no assistant turn to use as the label", row.line, "messages")
    label = normalise(answer)
    sample: dict[str, Any] = {"input": sample_input(prompt)}
    if mode == "classify":
        if not label:
            field = f"messages[{len(row.messages) - 1}].content"
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


def prompt_key(row: Row) -> str:
    """Duplicate key: the messages before the last assistant turn as one comparison text, each
    as ``NUL role NUL content`` with whitespace runs collapsed and case folded (so, as for
    :func:`normalise_text` of each message, surrounding whitespace does not count). A turn
    without text content (a tool call) counts by its role."""
    parts = []
    for m in row.prompt_messages():
        content = m.get("content")
        parts.append(f"\0 {m.get('role')} \0 {content if isinstance(content, str) else ''}")
    return " ".join(" ".join(parts).split()).casefold()


def prompt_digest(row: Row) -> bytes:
    """A 16-byte BLAKE2b digest of :func:`prompt_key` (what de-duplication remembers)."""
    return hashlib.blake2b(prompt_key(row).encode(), digest_size=16).digest()


class DedupeFilter:
    """Keeps the first row of each prompt (:func:`prompt_key`), remembering one 16-byte digest
    per distinct prompt, never the rows."""

    def __init__(self) -> None:
        self._seen: set[bytes] = set()
        self.dropped = 0

    def keep(self, row: Row) -> bool:
        digest = prompt_digest(row)
        if digest in self._seen:
            self.dropped += 1
            return False
        self._seen.add(digest)
        return True


class ConflictCounter:
    """Counts prompts seen with more than one (normalised) answer, keeping 16 bytes per row
    (two 64-bit hashes of this process, a count cannot be stored) and counting at the end."""

    def __init__(self, normalise: LabelNormaliser | None = None) -> None:
        self.normalise = normalise or LabelNormaliser()
        self._prompts = array("q")
        self._answers = array("q")

    def add(self, row: Row, label: str | None = None) -> None:
        """Count ``row``; ``label`` is its normalised answer when the caller has it already."""
        if label is None:
            answer = row.answer()
            if answer is None:
                return
            label = self.normalise(answer)
        self._prompts.append(hash(prompt_key(row)))
        self._answers.append(hash(label))

    def count(self) -> int:
        if not self._prompts:
            return 0
        import numpy as np

        prompts = np.frombuffer(self._prompts, dtype=np.int64)
        order = np.argsort(prompts, kind="stable")
        prompts, answers = prompts[order], np.frombuffer(self._answers, dtype=np.int64)[order]
        del order
        # grouped by prompt, a prompt has two answers exactly when two neighbours differ
        differ = (prompts[1:] == prompts[:-1]) & (answers[1:] != answers[:-1])
        return len(np.unique(prompts[1:][differ]))


def dedupe(rows: list[Row]) -> tuple[list[Row], int]:
    """Keep the first row of each :func:`prompt_key`; return (kept rows, dropped count)."""
    seen = DedupeFilter()
    kept = [row for row in rows if seen.keep(row)]
    return kept, seen.dropped


def label_conflicts(rows: list[Row], normalise: LabelNormaliser | None = None) -> int:
    """How many distinct prompts appear with more than one (normalised) answer."""
    counter = ConflictCounter(normalise)
    for row in rows:
        counter.add(row)
    return counter.count()
