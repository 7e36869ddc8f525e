"""Rows to OpenAI-evals samples, label normalisation and de-duplication.

A classification sample is ``{"input": [...], "ideal": "label"}`` (what ``evals`` basic match
evals read); a screening sample is ``{"input": [...], "completion": "answer", "line": N}`` so
that a model-graded eval grades the training data itself (evals skips generation when the
sample already holds ``completion``). Row metadata, when not empty, rides along under
``"metadata"`` (evals ignores extra keys).
"""

from __future__ import annotations

import functools
import hashlib
from array import array
from collections.abc import Mapping
from typing import Any

from ftevals.converters.formats import ROLES, Row, prompt_and_answer
from ftevals.converters.rows import fold_text
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import dumps_bytes, dumps_str

MODES = ("classify", "screen")
SAMPLE_MESSAGE_KEYS = ("role", "content", "name")
_ROLES = frozenset(ROLES)
"""The known roles, lower-case ASCII words: each is its own :func:`fold_text`."""
_MESSAGE_HEADS = {role: b'{"role": ' + dumps_str(role) + b', "content": ' for role in ROLES}
"""The JSON of a sample message up to its content, by role."""


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


def _prompt_and_label(row: Row, mode: str, normalise: LabelNormaliser | None) -> tuple[Any, str]:
    """(prompt messages, normalised label) of a sample; unusable rows raise."""
    if mode not in MODES:
        raise FtevalsError(f"unknown sample mode {mode!r} (expected {', '.join(MODES)})")
    prompt, answer = prompt_and_answer(row)
    if answer is None:
        raise InputError(row.source, "no assistant turn to use as the label", row.line, "messages")
    label = (normalise or LabelNormaliser())(answer)
    if not label and mode == "classify":
        field = f"messages[{len(row.messages) - 1}].content"
        raise InputError(row.source, "empty label (would match any answer)", row.line, field)
    return prompt, label


def row_to_sample(
    row: Row, mode: str = "classify", normalise: LabelNormaliser | None = None
) -> dict[str, Any]:
    """One sample (see the module docstring); rows without an assistant turn raise."""
    prompt, label = _prompt_and_label(row, mode, normalise)
    sample: dict[str, Any] = {"input": sample_input(prompt)}
    if mode == "classify":
        sample["ideal"] = label
    else:
        sample["completion"] = label
        sample["line"] = row.line
    if row.metadata:
        sample["metadata"] = row.metadata
    return sample


def sample_json(
    row: Row, mode: str = "classify", normalise: LabelNormaliser | None = None
) -> tuple[bytes, str]:
    """``(line, label)``: the sample of :func:`row_to_sample` as its JSONL line in UTF-8
    (exactly :func:`~ftevals.jsonl.dumps_bytes` of it, without the newline), built without
    the sample, and its label (``ideal`` or ``completion``, as a string)."""
    prompt, label = _prompt_and_label(row, mode, normalise)
    try:
        messages = b", ".join(
            [
                _MESSAGE_HEADS[role] + dumps_str(text) + b"}"
                if len(m) == 2
                and type(text := m.get("content")) is str
                and type(role := m.get("role")) is str
                and role in _MESSAGE_HEADS
                else _message_json(m)
                for m in prompt
            ]
        )
    except TypeError:  # a lone surrogate, which orjson refuses
        return dumps_bytes(row_to_sample(row, mode, normalise)), str(label)
    if mode == "classify":
        tail = b'], "ideal": ' + _json_value(label)
    else:
        tail = b'], "completion": ' + _json_value(label) + b', "line": ' + dumps_bytes(row.line)
    if row.metadata:
        tail += b', "metadata": ' + dumps_bytes(row.metadata)
    return b"".join((b'{"input": [', messages, tail, b"}")), str(label)


def _json_value(value: Any) -> bytes:
    if type(value) is str:
        try:
            return dumps_str(value)
        except TypeError:  # a lone surrogate
            pass
    return dumps_bytes(value)


def sample_and_key(
    row: Row, mode: str = "classify", normalise: LabelNormaliser | None = None
) -> tuple[bytes, str, str]:
    """``(*sample_json(row, mode, normalise), prompt_key(row))``, in one pass over the row when
    it is plain (see :func:`_plain_sample`)."""
    normalise = normalise or LabelNormaliser()
    plain = _plain_sample(row.messages, row.line, row.metadata, mode, normalise)
    if plain is not None:
        return plain
    return (*sample_json(row, mode, normalise), prompt_key(row))


def chat_sample_and_key(
    obj: dict[str, Any], line: int, mode: str, normalise: LabelNormaliser
) -> tuple[bytes, str, str] | None:
    """:func:`sample_and_key` of the row :func:`~ftevals.converters.formats.parse_record`
    reads from a chat record, straight from the record when it holds only ``messages``, all
    of them plain ``{"role", "content"}`` strings with a known role (``parse_record`` would
    take them as they are); None for any other record, which goes the long way. What
    ``convert`` runs on every chat record."""
    messages = obj.get("messages")
    if len(obj) != 1 or type(messages) is not list or len(messages) < 2:
        return None
    last = messages[-1]  # checked as parse_record checks the others: by _plain_sample
    if type(last) is not dict or len(last) != 2:
        return None
    return _plain_sample(messages, line, None, mode, normalise)


def _plain_sample(
    messages: list[dict[str, Any]],
    line: int,
    metadata: dict[str, Any] | None,
    mode: str,
    normalise: LabelNormaliser,
) -> tuple[bytes, str, str] | None:
    """The sample line, label and prompt key of plain messages: the last one the assistant's,
    with text, and a non-empty label; every one before it exactly ``{"role", "content"}``,
    both strings, the role a known one. None for anything else (or a lone surrogate, which
    orjson refuses): the caller goes the long way."""
    try:
        last = messages[-1]
        answer = last.get("content")
        if not (
            len(messages) > 1
            and last.get("role") == "assistant"
            and type(answer) is str
            and mode in MODES
            and type(label := normalise(answer)) is str
            and label
        ):
            return None
        parts: list[bytes] = []
        keys: list[str] = []
        for m in messages[:-1]:
            role, text = m.get("role"), m.get("content")
            if not (len(m) == 2 and type(text) is str and type(role) is str):
                return None
            part, key = (_system_message if role == "system" else _plain_message)(role, text)
            parts.append(part)
            keys.append(key)
        if mode == "classify":
            tail = b'], "ideal": ' + dumps_str(label)
        else:
            tail = b'], "completion": ' + dumps_str(label) + b', "line": ' + dumps_bytes(line)
        if metadata:
            tail += b', "metadata": ' + dumps_bytes(metadata)
    except (AttributeError, LookupError, TypeError):
        return None
    return b"".join((b'{"input": [', b", ".join(parts), tail, b"}")), label, " ".join(keys)


def _plain_message(role: str, text: str) -> tuple[bytes, str]:
    """The JSON of a plain sample message (``KeyError`` for an unknown role, ``TypeError``
    for a lone surrogate) and its part of :func:`prompt_key`."""
    encoded = dumps_str(text)
    if len(encoded) == len(text) + 2 and text.isascii() and "  " not in text:
        # fold_text without its isprintable scan: JSON escapes every character below 0x20
        # (all ASCII whitespace but the space), so nothing escaped means there is none
        folded = text.strip().lower()
    else:
        folded = fold_text(text)
    key = f"\0 {role} \0 {folded}" if folded else f"\0 {role} \0"
    return _MESSAGE_HEADS[role] + encoded + b"}", key


_system_message = functools.lru_cache(maxsize=256)(_plain_message)
""":func:`_plain_message` memoised: fine-tuning files repeat their system prompt on every row."""


def _message_json(m: dict[str, Any]) -> bytes:
    """The JSON of the message :func:`sample_input` makes of ``m``."""
    return dumps_bytes(sample_input([m])[0])


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
    without text content (a tool call) counts by its role.

    That is ``" ".join(" ".join(parts).split()).casefold()`` of the ``NUL role NUL content``
    parts, computed part by part with :func:`fold_text` (equal, because every part keeps its
    ``NUL`` words)."""
    parts = []
    for m in row.prompt_messages():
        role = m.get("role")
        content = m.get("content")
        r = role if type(role) is str and role in _ROLES else fold_text(f"{role}")
        c = fold_text(content) if isinstance(content, str) else ""
        part = f"\0 {r} \0" if r else "\0 \0"
        parts.append(f"{part} {c}" if c else part)
    return " ".join(parts)


def prompt_digest(row: Row) -> bytes:
    """A 16-byte BLAKE2b digest of :func:`prompt_key` (what de-duplication remembers)."""
    return _digest(prompt_key(row))


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


class DedupeFilter:
    """Keeps the first row of each prompt (:func:`prompt_key`), remembering one 16-byte digest
    per distinct prompt, never the rows."""

    def __init__(self) -> None:
        self._seen: set[bytes] = set()
        self.dropped = 0

    def keep(self, row: Row) -> bool:
        return self.keep_key(prompt_key(row))

    def keep_key(self, key: str) -> bool:
        """:meth:`keep` for the row of :func:`prompt_key` ``key``."""
        digest = _digest(key)
        if digest in self._seen:
            self.dropped += 1
            return False
        self._seen.add(digest)
        return True


class ConflictCounter:
    """Counts prompts seen with more than one (normalised) answer, keeping 20 bytes per row
    (two 64-bit hashes of this process and the line number, a count cannot be stored) and
    counting at the end."""

    def __init__(self, normalise: LabelNormaliser | None = None) -> None:
        self.normalise = normalise or LabelNormaliser()
        self._prompts = array("q")
        self._answers = array("q")
        self._lines = array("i")

    def add(self, row: Row, label: str | None = None, key: str | None = None) -> None:
        """Count ``row``; ``label`` is its normalised answer and ``key`` its :func:`prompt_key`
        when the caller has them already."""
        if label is None:
            answer = row.answer()
            if answer is None:
                return
            label = self.normalise(answer)
        self.add_key(prompt_key(row) if key is None else key, label, row.line)

    def add_key(self, key: str, label: str, line: int = 0) -> None:
        """Count a row by its :func:`prompt_key`, normalised answer and line number."""
        self._prompts.append(hash(key))
        self._answers.append(hash(label))
        self._lines.append(line)

    def count(self) -> int:
        return self.conflicts(0)[0]

    def conflicts(self, shown: int = 5) -> tuple[int, list[list[int]]]:
        """``(prompts with more than one answer, the lines of the first ``shown`` of them)``:
        each prompt's lines in file order, prompts in the order of their first line."""
        if not self._prompts:
            return 0, []
        import numpy as np

        prompts = np.frombuffer(self._prompts, dtype=np.int64)
        order = np.argsort(prompts, kind="stable")
        prompts, answers = prompts[order], np.frombuffer(self._answers, dtype=np.int64)[order]
        # grouped by prompt, a prompt has two answers exactly when two neighbours differ
        differ = (prompts[1:] == prompts[:-1]) & (answers[1:] != answers[:-1])
        conflicting = np.unique(prompts[1:][differ])
        if not shown or not len(conflicting):
            return len(conflicting), []
        lines = np.asarray(self._lines, dtype=np.int64)[order]  # file order within a prompt
        mask = np.isin(prompts, conflicting)
        keys, lines = prompts[mask], lines[mask]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        ends = np.r_[starts[1:], len(keys)]
        first = np.argsort(lines[starts], kind="stable")[:shown]
        groups = [lines[starts[i] : ends[i]].tolist() for i in first]
        return len(conflicting), groups


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
