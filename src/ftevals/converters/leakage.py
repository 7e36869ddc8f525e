"""Contamination check: which eval prompts match a training prompt, and how closely.

Each eval text is compared with every training text; the strongest kind of match wins:

* ``exact``: the same text;
* ``normalised``: the same after :func:`canonical` (Unicode NFKC, case folded, punctuation
  dropped, whitespace collapsed);
* ``near``: Jaccard similarity of the texts' word-n-gram sets (see :func:`shingles`) at least
  ``near_threshold``; found exactly (no sampling) by a prefix-filtered join on sparse matrices,
  so 100k training texts against 10k eval texts take seconds;
* ``paraphrase``: cosine similarity of the all-MiniLM-L6-v2 sentence embeddings (mean pooling,
  L2-normalised; the packaged model, alias ``minilm``) at least ``paraphrase_threshold``.

:func:`find_leaks` returns the best match of each eval text that matches anything;
:func:`near_duplicate_groups` groups the duplicates within one list (for de-duplication);
:func:`read_prompts` reads the prompts of any file ``ftevals convert`` reads, or of evals
samples. Heavy imports (torch, transformers) happen only when embeddings are needed.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from ftevals.converters.formats import Row, iter_rows, normalise_text
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import atomic_path, iter_jsonl

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp

logger = logging.getLogger(__name__)

Kind = Literal["exact", "normalised", "near", "paraphrase"]
KINDS: tuple[Kind, ...] = ("exact", "normalised", "near", "paraphrase")
"""Kinds of match, strongest first."""
NEAR_THRESHOLD = 0.6
"""Default Jaccard similarity of word-n-gram sets for a near duplicate."""
PARAPHRASE_THRESHOLD = 0.8
"""Default cosine similarity of MiniLM embeddings for a paraphrase."""
NGRAM = 2
"""Words per shingle (texts shorter than this are one shingle)."""
EMBED_MODEL = "minilm"
EMBED_DIM = 384
EMBED_MAX_TOKENS = 256
"""all-MiniLM-L6-v2 was trained on at most 256 word pieces; longer prompts are truncated."""
_CHUNK = 512
"""Query rows per sparse or dense product (bounds memory)."""
_PUNCT = re.compile(r"[^\w\s]+")


class LeakMatch(BaseModel):
    """The best training match of one eval text."""

    eval_index: int
    """Index of the eval text (in the list given to :func:`find_leaks`)."""
    train_index: int
    """Index of the matching training text (the first one, when several match equally)."""
    kind: Kind
    score: float
    """1.0 for exact and normalised, the Jaccard similarity for near, the cosine for paraphrase."""


def canonical(text: str) -> str:
    """The comparison form of a text: NFKC, case folded, punctuation removed, whitespace runs
    collapsed: ``"How do I pick a LOCK?!"`` -> ``"how do i pick a lock"``, ``"U.S. e-mail"`` ->
    ``"us email"``."""
    folded = normalise_text(unicodedata.normalize("NFKC", text))
    return " ".join(_PUNCT.sub("", folded).split())


def shingles(text: str, n: int = NGRAM) -> set[str]:
    """Word n-grams of the :func:`canonical` text (one shingle if it has fewer than n words,
    none if it is empty)."""
    words = canonical(text).split()
    if len(words) <= n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


# -- near duplicates: an exact Jaccard join with prefix filtering ---------------------------------


@dataclass
class _ShingleSets:
    """Shingle sets of two lists of texts as sparse binary rows over one vocabulary.

    Columns are ordered by document frequency (rarest first), as the prefix filter needs: two sets
    with Jaccard >= t share at least one of their ``|x| - ceil(t |x|) + 1`` rarest shingles.
    """

    queries: sp.csr_matrix
    index: sp.csr_matrix

    @classmethod
    def build(cls, queries: Sequence[str], index: Sequence[str], n: int) -> _ShingleSets:
        import numpy as np

        vocab: dict[str, int] = {}
        rows: list[list[int]] = []
        for text in [*queries, *index]:
            rows.append([vocab.setdefault(s, len(vocab)) for s in shingles(text, n)])
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        cols = np.fromiter((c for r in rows for c in r), dtype=np.int64, count=int(lengths.sum()))
        df = np.bincount(cols, minlength=len(vocab))
        rank = np.empty(len(vocab), dtype=np.int64)
        rank[np.lexsort((np.arange(len(vocab)), df))] = np.arange(len(vocab))
        ranked = rank[cols]
        indptr = np.concatenate(([0], np.cumsum(lengths)))
        # sort each row's columns (rarest first) so that prefixes are slices
        row_of = np.repeat(np.arange(len(rows)), lengths)
        ranked = ranked[np.lexsort((ranked, row_of))]
        matrix = _csr(ranked, indptr, len(vocab))
        nq = len(queries)
        return cls(matrix[:nq], matrix[nq:])


def _csr(cols: np.ndarray, indptr: np.ndarray, width: int) -> sp.csr_matrix:
    import numpy as np
    import scipy.sparse as sp

    data = np.ones(len(cols), dtype=np.float32)
    return sp.csr_matrix((data, cols, indptr), shape=(len(indptr) - 1, width))


def _prefixes(matrix: sp.csr_matrix, threshold: float) -> sp.csr_matrix:
    """Each row cut to its ``|x| - ceil(t |x|) + 1`` first (rarest) columns."""
    import numpy as np

    lengths = np.diff(matrix.indptr)
    keep = lengths - np.ceil(threshold * lengths - 1e-9).astype(np.int64) + 1
    keep = np.minimum(np.maximum(keep, 1), lengths)
    offsets = np.arange(len(matrix.indices)) - np.repeat(matrix.indptr[:-1], lengths)
    mask = offsets < np.repeat(keep, lengths)
    indptr = np.concatenate(([0], np.cumsum(keep)))
    return _csr(matrix.indices[mask], indptr, matrix.shape[1])


def _jaccard_pairs(
    sets: _ShingleSets, threshold: float, upper: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(query, index, jaccard)`` arrays of every pair with Jaccard >= threshold, by chunks of
    queries. ``upper``: queries and index are the same list; only pairs query < index."""
    import numpy as np

    q_len = np.diff(sets.queries.indptr)
    i_len = np.diff(sets.index.indptr)
    q_pre = _prefixes(sets.queries, threshold)
    i_pre_t = _prefixes(sets.index, threshold).T.tocsr()
    for start in range(0, sets.queries.shape[0], _CHUNK):
        stop = min(start + _CHUNK, sets.queries.shape[0])
        cand = (q_pre[start:stop] @ i_pre_t).tocoo()
        q = cand.row.astype(np.int64) + start
        i = cand.col.astype(np.int64)
        lq, li = q_len[q], i_len[i]
        keep = (li >= threshold * lq - 1e-9) & (lq >= threshold * li - 1e-9) & (lq > 0)
        if upper:
            keep &= q < i
        q, i, lq, li = q[keep], i[keep], lq[keep], li[keep]
        if not len(q):
            continue
        inter = np.asarray(sets.queries[q].multiply(sets.index[i]).sum(axis=1)).ravel()
        jac = inter / (lq + li - inter)
        hit = jac >= threshold - 1e-9
        yield q[hit], i[hit], jac[hit]


def _best_per_query(
    q: np.ndarray, i: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pair per query: the highest score, then the lowest index."""
    import numpy as np

    if not len(q):
        return q, i, score
    order = np.lexsort((i, -score, q))
    q, i, score = q[order], i[order], score[order]
    first = np.concatenate(([True], q[1:] != q[:-1]))
    return q[first], i[first], score[first]


# -- paraphrases: MiniLM embeddings ---------------------------------------------------------------


def embed(texts: Sequence[str], batch_size: int = 64, cache: bool = True) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings (mean pooling over the attention mask, L2-normalised),
    float32, one row per text. Texts are batched by length; equal texts are embedded once.

    With ``cache``, the vectors of a list of texts are kept under ``<ftevals home>/embeddings``,
    keyed by the texts, the model files and the library versions: a training set is embedded
    once, not at every check (its cost: about 100 short prompts a second on 2 CPU cores).
    """
    import numpy as np

    unique = list(dict.fromkeys(texts))
    if not unique:
        return np.zeros((len(texts), EMBED_DIM), dtype=np.float32)
    file = _cache_file(unique) if cache else None
    vectors = _load_cached(file, len(unique)) if file is not None else None
    if vectors is None:
        vectors = _embed_unique(unique, batch_size)
        if file is not None:
            _save_cached(file, vectors)
    if len(unique) == len(texts):
        return vectors
    where = {text: k for k, text in enumerate(unique)}
    out: np.ndarray = vectors[[where[text] for text in texts]]
    return out


@functools.cache
def _encoder() -> tuple[Any, Any]:
    """MiniLM's tokenizer and model (eval mode), loaded once per process."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from ftevals.runtime.models import resolve_model

    hf_logging.disable_progress_bar()
    path = resolve_model(EMBED_MODEL)
    model = AutoModel.from_pretrained(path)
    model.eval()
    return AutoTokenizer.from_pretrained(path), model


def _embed_unique(texts: list[str], batch_size: int) -> np.ndarray:
    from ftevals import extras

    extras.require("local", "paraphrase detection (MiniLM embeddings)", "torch", "transformers")
    import numpy as np
    import torch

    tokenizer, model = _encoder()
    out = np.zeros((len(texts), EMBED_DIM), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda k: (len(texts[k]), k))
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            enc = tokenizer(
                [texts[k] for k in batch],
                padding=True,
                truncation=True,
                max_length=EMBED_MAX_TOKENS,
                return_tensors="pt",
            )
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[batch] = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
    return out


def _cache_file(texts: list[str]) -> Path:
    """Where the vectors of ``texts`` are cached: a hash of the texts, model and versions."""
    from importlib import metadata

    from ftevals import paths
    from ftevals.runtime.models import resolve_model

    model = Path(resolve_model(EMBED_MODEL))
    digest = hashlib.sha256()
    weights = model / "model.safetensors"
    stamp = weights.stat().st_size if weights.exists() else 0
    versions = [metadata.version(p) for p in ("torch", "transformers")]
    digest.update(f"{model}|{stamp}|{versions}|{EMBED_MAX_TOKENS}|{len(texts)}\0".encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return paths.home() / "embeddings" / f"minilm-{digest.hexdigest()[:24]}.npy"


def _load_cached(file: Path, rows: int) -> np.ndarray | None:
    import numpy as np

    try:
        vectors: np.ndarray = np.load(file, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return vectors if vectors.shape == (rows, EMBED_DIM) else None


def _save_cached(file: Path, vectors: np.ndarray) -> None:
    import numpy as np

    try:
        with atomic_path(file) as tmp, tmp.open("wb") as fh:
            np.save(fh, vectors, allow_pickle=False)
    except OSError as exc:  # a cache that cannot be written only costs time
        logger.warning("embedding cache not written (%s)", exc)


def _cosine_pairs(
    queries: np.ndarray, index: np.ndarray, threshold: float, best_only: bool, upper: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(query, index, cosine)`` of pairs with cosine >= threshold, by chunks of queries: the best
    index of each query (``best_only``; lowest index on ties) or every pair (``upper``: only
    query < index)."""
    import numpy as np

    for start in range(0, len(queries), _CHUNK):
        sims = queries[start : start + _CHUNK] @ index.T
        if best_only:
            best = sims.argmax(axis=1)
            score = sims[np.arange(len(best)), best]
            rows = np.flatnonzero(score >= threshold)
            yield rows + start, best[rows], score[rows].astype(np.float64)
        else:
            rows, cols = np.nonzero(sims >= threshold)
            q = rows + start
            keep = q < cols if upper else np.ones(len(q), dtype=bool)
            yield q[keep], cols[keep], sims[rows[keep], cols[keep]].astype(np.float64)


# -- the public functions -------------------------------------------------------------------------


def _check_thresholds(near: float, paraphrase: float | None) -> None:
    if not 0.0 < near <= 1.0:
        raise FtevalsError(f"near-duplicate threshold must be in (0, 1], got {near}")
    if paraphrase is not None and not 0.0 < paraphrase <= 1.0:
        raise FtevalsError(f"paraphrase threshold must be in (0, 1], got {paraphrase}")


def find_leaks(
    train: Sequence[str],
    evals: Sequence[str],
    *,
    near_threshold: float = NEAR_THRESHOLD,
    paraphrase_threshold: float = PARAPHRASE_THRESHOLD,
    paraphrase: bool = True,
    ngram: int = NGRAM,
    timings: dict[str, float] | None = None,
) -> list[LeakMatch]:
    """The best training match of each eval text that matches any, in eval order.

    Each eval text gets its strongest kind (exact > normalised > near > paraphrase) and, within
    it, the highest score (the lowest training index on ties). Stages run only on the eval texts
    still unmatched. ``paraphrase=False`` skips the embeddings (no torch import). ``timings``
    receives the seconds of each stage (``normalised``, ``near``, ``embed_train``, ...).
    """
    _check_thresholds(near_threshold, paraphrase_threshold if paraphrase else None)
    found: dict[int, LeakMatch] = {}
    clock = _Clock(timings)

    exact: dict[str, int] = {}
    for k, text in enumerate(train):
        exact.setdefault(text, k)
    for e, text in enumerate(evals):
        if text in exact:
            found[e] = LeakMatch(eval_index=e, train_index=exact[text], kind="exact", score=1.0)

    canon: dict[str, int] = {}
    for k, text in enumerate(train):
        canon.setdefault(canonical(text), k)
    for e, text in enumerate(evals):
        if e not in found and (key := canonical(text)) and key in canon:
            match = LeakMatch(eval_index=e, train_index=canon[key], kind="normalised", score=1.0)
            found[e] = match
    clock.lap("exact_normalised")

    rest = [e for e in range(len(evals)) if e not in found and canonical(evals[e])]
    if rest and train:
        sets = _ShingleSets.build([evals[e] for e in rest], train, ngram)
        pairs = list(_jaccard_pairs(sets, near_threshold))
        for q, k, score in zip(*_best_per_query(*_concat(pairs)), strict=True):
            e = rest[int(q)]
            found[e] = LeakMatch(
                eval_index=e, train_index=int(k), kind="near", score=round(float(score), 6)
            )
    clock.lap("near")

    rest = [e for e in rest if e not in found]
    if paraphrase and rest and train:
        train_vectors = embed(train)
        clock.lap("embed_train")
        eval_vectors = embed([evals[e] for e in rest])
        clock.lap("embed_evals")
        cosines = _cosine_pairs(eval_vectors, train_vectors, paraphrase_threshold, True)
        for queries, indices, scores in cosines:
            for q, k, score in zip(queries, indices, scores, strict=True):
                e = rest[int(q)]
                found[e] = LeakMatch(
                    eval_index=e,
                    train_index=int(k),
                    kind="paraphrase",
                    score=round(float(score), 6),
                )
        clock.lap("cosine")
    return [found[e] for e in sorted(found)]


class _Clock:
    """Seconds per stage into a dict (or nowhere)."""

    def __init__(self, into: dict[str, float] | None) -> None:
        self.into = into
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        if self.into is not None:
            self.into[stage] = round(self.into.get(stage, 0.0) + now - self.last, 3)
        self.last = now


def _concat(
    pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import numpy as np

    if not pairs:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    return (
        np.concatenate([p[0] for p in pairs]),
        np.concatenate([p[1] for p in pairs]),
        np.concatenate([p[2] for p in pairs]),
    )


def near_duplicate_groups(
    texts: Sequence[str],
    *,
    near_threshold: float = NEAR_THRESHOLD,
    paraphrase_threshold: float | None = None,
    ngram: int = NGRAM,
) -> list[list[int]]:
    """Groups (two or more indices, ascending) of texts that duplicate one another: equal after
    :func:`canonical`, or near duplicates, or (with ``paraphrase_threshold``) paraphrases; linked
    transitively. Groups are ordered by their first index: keep the first of each to de-duplicate.
    """
    _check_thresholds(near_threshold, paraphrase_threshold)
    parent = list(range(len(texts)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first: dict[str, int] = {}
    for k, text in enumerate(texts):
        union(first.setdefault(canonical(text), k), k)
    # one representative per canonical text is enough for the joins
    reps = sorted(set(first.values()))
    rep_texts = [texts[k] for k in reps]
    if len(reps) > 1:
        sets = _ShingleSets.build(rep_texts, rep_texts, ngram)
        for q, i, _ in _jaccard_pairs(sets, near_threshold, upper=True):
            for a, b in zip(q, i, strict=True):
                union(reps[int(a)], reps[int(b)])
        if paraphrase_threshold is not None:
            vectors = embed(rep_texts)
            for q, i, _ in _cosine_pairs(vectors, vectors, paraphrase_threshold, False, True):
                for a, b in zip(q, i, strict=True):
                    union(reps[int(a)], reps[int(b)])
    groups: dict[int, list[int]] = {}
    for k in range(len(texts)):
        groups.setdefault(find(k), []).append(k)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


# -- prompts of files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """One prompt of a file: its text and where it is."""

    text: str
    line: int


def message_prompt(messages: Sequence[Any]) -> str:
    """The user turns of a prompt joined by newlines (every text turn when none is a user turn);
    system prompts are left out, since they repeat across rows."""
    texts = [m for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str)]
    users = [m for m in texts if m.get("role") == "user"] or texts
    return "\n".join(m["content"] for m in users)


def row_prompt(row: Row) -> str:
    """:func:`message_prompt` of a row's messages before its last assistant turn."""
    return message_prompt(row.prompt_messages())


def read_prompts(
    path: str | Path,
    fmt: str | None = None,
    text_field: str | None = None,
    *,
    header: bool = True,
) -> list[Prompt]:
    """The prompts of a file: evals samples (``input``: a chat list or a string), or any file
    :func:`~ftevals.converters.formats.iter_rows` reads (chat, prompt/completion, text, CSV, ...).
    A bad line raises :class:`InputError` naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    if fmt is None and text_field is None and _is_samples(path):
        return list(_sample_prompts(path))
    rows = iter_rows(path, fmt, text_field, header=header, labels=False)
    return [Prompt(row_prompt(row), row.line) for row in rows]


def _is_samples(path: Path) -> bool:
    if path.suffix.lower() in (".csv", ".txt"):
        return False
    for _, obj in iter_jsonl(path):
        return "input" in obj and "messages" not in obj
    return False


def _sample_prompts(path: Path) -> Iterator[Prompt]:
    for line, obj in iter_jsonl(path):
        value = obj.get("input")
        if isinstance(value, str):
            yield Prompt(value, line)
        elif isinstance(value, list) and all(isinstance(m, dict) for m in value):
            yield Prompt(message_prompt(value), line)
        else:
            what = "missing" if value is None else f"got {type(value).__name__}"
            msg = f"expected a string or a list of messages, {what}"
            raise InputError(path, msg, line, "input")


def rate(count: int, total: int) -> float:
    """``count / total`` (0.0 for no total)."""
    return count / total if total else 0.0


def describe_thresholds(near_threshold: float, paraphrase_threshold: float | None) -> str:
    """``near at jaccard>=0.5, paraphrase at cosine>=0.85`` (paraphrase left out when None)."""
    parts = [f"near at jaccard>={near_threshold:g}"]
    if paraphrase_threshold is not None:
        parts.append(f"paraphrase at cosine>={paraphrase_threshold:g}")
    return ", ".join(parts)


# -- reports over files ----------------------------------------------------------------------------


class LeakExample(BaseModel):
    """One eval sample that matches a training prompt, with both texts."""

    kind: Kind
    score: float
    eval_line: int
    eval_text: str
    train_file: str
    train_line: int
    train_text: str


class EvalLeakage(BaseModel):
    """The matches of one eval file."""

    eval: str
    """The eval as given (a file or a registry eval name)."""
    path: str
    samples: int
    leaked: int
    rate: float
    counts: dict[str, int]
    """Kind -> samples (every kind, zeros included), strongest first."""
    matches: list[LeakExample]
    """Every matching sample, in file order."""

    def examples(self, per_kind: int) -> list[LeakExample]:
        """Up to ``per_kind`` matches of each kind, spread over its score range (highest first),
        so that the weakest match shown is the weakest found."""
        shown: list[LeakExample] = []
        for kind in KINDS:
            ranked = sorted(
                (m for m in self.matches if m.kind == kind), key=lambda m: (-m.score, m.eval_line)
            )
            if len(ranked) <= per_kind or per_kind < 2:
                shown += ranked[: max(per_kind, 0)]
            else:
                step = (len(ranked) - 1) / (per_kind - 1)
                shown += [ranked[round(k * step)] for k in range(per_kind)]
        return shown


class TrainFile(BaseModel):
    path: str
    prompts: int


class LeakageReport(BaseModel):
    """What ``ftevals leakage`` found (its ``--json`` output)."""

    train: list[TrainFile]
    train_prompts: int
    near_threshold: float
    paraphrase_threshold: float | None
    """None when the paraphrase check was skipped."""
    ngram: int
    embedding_model: str | None
    evals: list[EvalLeakage]
    seconds: dict[str, float]

    def render(self, examples: int = 3, width: int = 120) -> str:
        """The text report: per eval, counts and rate, then examples side by side."""
        files = ", ".join(
            t.path if len(self.train) == 1 else f"{t.path} ({t.prompts:,})" for t in self.train
        )
        para = self.paraphrase_threshold
        lines = [
            f"training prompts: {self.train_prompts:,} from {files}",
            f"kinds: exact, normalised (case, whitespace, punctuation), "
            f"{describe_thresholds(self.near_threshold, para)}"
            + ("" if para is not None else " (paraphrase check skipped)"),
        ]
        col = max(20, (width - 22) // 2)
        for ev in self.evals:
            where = ev.eval if ev.eval == ev.path else f"{ev.eval} ({ev.path})"
            lines += [
                "",
                f"{where}: {ev.leaked:,} of {ev.samples:,} samples ({100 * ev.rate:.1f}%) "
                "match training prompts",
                "  " + ", ".join(f"{kind} {n:,}" for kind, n in ev.counts.items()),
            ]
            shown = ev.examples(examples)
            if not shown:
                continue
            lines.append(f"  {'kind':<10} {'score':>5}  {'eval (line)':<{col}} | train (file:line)")
            for m in shown:
                left = _clip(f"[{m.eval_line}] {m.eval_text}", col)
                right = _clip(f"[{Path(m.train_file).name}:{m.train_line}] {m.train_text}", col)
                lines.append(f"  {m.kind:<10} {m.score:5.3f}  {left:<{col}} | {right}")
        return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


@dataclass(frozen=True)
class PromptFile:
    """A file of prompts to check, and how the report names it."""

    path: Path
    name: str = ""
    fmt: str | None = None
    text_field: str | None = None

    def read(self) -> list[Prompt]:
        return read_prompts(self.path, self.fmt, self.text_field)


def check_files(
    train: Sequence[PromptFile],
    evals: Sequence[PromptFile],
    *,
    near_threshold: float = NEAR_THRESHOLD,
    paraphrase_threshold: float = PARAPHRASE_THRESHOLD,
    paraphrase: bool = True,
    ngram: int = NGRAM,
) -> LeakageReport:
    """Check every eval file against all the training files together (one :func:`find_leaks`
    call, so the training prompts are embedded once)."""
    if not train or not evals:
        raise FtevalsError("give at least one training file and one eval")
    start = time.perf_counter()
    train_prompts = [(f, p) for f in train for p in f.read()]
    eval_prompts = [f.read() for f in evals]
    seconds = {"read": round(time.perf_counter() - start, 3)}
    flat = [p.text for prompts in eval_prompts for p in prompts]
    matches = find_leaks(
        [p.text for _, p in train_prompts],
        flat,
        near_threshold=near_threshold,
        paraphrase_threshold=paraphrase_threshold,
        paraphrase=paraphrase,
        ngram=ngram,
        timings=seconds,
    )
    by_eval = {m.eval_index: m for m in matches}
    reports: list[EvalLeakage] = []
    offset = 0
    for file, prompts in zip(evals, eval_prompts, strict=True):
        found: list[LeakExample] = []
        for k, prompt in enumerate(prompts):
            match = by_eval.get(offset + k)
            if match is None:
                continue
            source, train_prompt = train_prompts[match.train_index]
            found.append(
                LeakExample(
                    kind=match.kind,
                    score=match.score,
                    eval_line=prompt.line,
                    eval_text=prompt.text,
                    train_file=str(source.path),
                    train_line=train_prompt.line,
                    train_text=train_prompt.text,
                )
            )
        offset += len(prompts)
        counts: dict[str, int] = {kind: sum(1 for m in found if m.kind == kind) for kind in KINDS}
        reports.append(
            EvalLeakage(
                eval=file.name or str(file.path),
                path=str(file.path),
                samples=len(prompts),
                leaked=len(found),
                rate=rate(len(found), len(prompts)),
                counts=counts,
                matches=found,
            )
        )
    seconds["total"] = round(time.perf_counter() - start, 3)
    return LeakageReport(
        train=[
            TrainFile(path=str(f.path), prompts=sum(1 for s, _ in train_prompts if s is f))
            for f in train
        ],
        train_prompts=len(train_prompts),
        near_threshold=near_threshold,
        paraphrase_threshold=paraphrase_threshold if paraphrase else None,
        ngram=ngram,
        embedding_model="all-MiniLM-L6-v2" if paraphrase else None,
        evals=reports,
        seconds=seconds,
    )


# -- duplicates across the splits of one data set ------------------------------------------------


class DuplicatePair(BaseModel):
    """A test item that duplicates a training item, by where each is."""

    test: str
    """The test item: ``line 17`` of the input, or ``heldout #3``."""
    train: str
    kind: Kind
    score: float


class SplitDuplicates(BaseModel):
    """Test items of a split data set that duplicate training items (exact, normalised or near;
    no paraphrase check, which needs the embeddings)."""

    test_items: int
    counts: dict[str, int]
    """exact, normalised, near -> test items."""
    near_threshold: float
    examples: list[DuplicatePair]
    """The first few, in test order."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def warning(self, test: str = "test", train: str = "train") -> str:
        """``warning: 3 of 200 test items duplicate train items (...): line 9 ~ line 4 (near
        0.71), ...``."""
        counts = ", ".join(f"{kind} {n}" for kind, n in self.counts.items())
        shown = ", ".join(
            f"{p.test} ~ {p.train} ({p.kind}" + (f" {p.score:.2f})" if p.kind == "near" else ")")
            for p in self.examples
        )
        more = (
            f", +{self.total - len(self.examples)} more" if self.total > len(self.examples) else ""
        )
        return (
            f"warning: {self.total} of {self.test_items} {test} items duplicate {train} items "
            f"({counts} at jaccard>={self.near_threshold:g}): {shown}{more}"
        )


def split_duplicates(
    train: Sequence[tuple[str, str]],
    test: Sequence[tuple[str, str]],
    *,
    near_threshold: float = NEAR_THRESHOLD,
    examples: int = 5,
) -> SplitDuplicates:
    """The test items (``(where, text)``) that duplicate a training item (exact, normalised or
    near duplicate; see :func:`find_leaks`)."""
    matches = find_leaks(
        [text for _, text in train],
        [text for _, text in test],
        near_threshold=near_threshold,
        paraphrase=False,
    )
    counts: dict[str, int] = {k: sum(1 for m in matches if m.kind == k) for k in KINDS[:3]}
    pairs = [
        DuplicatePair(
            test=test[m.eval_index][0], train=train[m.train_index][0], kind=m.kind, score=m.score
        )
        for m in matches[:examples]
    ]
    return SplitDuplicates(
        test_items=len(test), counts=counts, near_threshold=near_threshold, examples=pairs
    )
