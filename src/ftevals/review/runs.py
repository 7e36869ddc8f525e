"""What a run directory says about each sample: wrong answers, invalid answers and verdicts,
failed calls, and judges that disagree.

A sample id is ``<eval>.<split>.<index>``; the index is the 0-based line of the eval's samples
file (``samples_jsonl`` in the log's spec, under ``<registry_path>/data``), so an outcome can be
put beside the row it came from and the row fixed there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftevals.harness.logs import EvalLog, find_logs, read_log
from ftevals.review.records import Message

INVALID = "__invalid__"
FILTERS = ("failures", "wrong", "invalid", "disagree", "failed", "all")
"""Outcome filters: ``failures`` is wrong or invalid."""


@dataclass
class Outcome:
    """What one log recorded for one sample."""

    index: int
    status: str = "unknown"
    """correct, wrong, invalid (no label / an unparseable verdict), failed (the call failed,
    never counted as wrong), graded (a valid judge verdict) or unknown."""
    expected: Any = None
    answer: str | None = None
    """The model's answer."""
    picked: Any = None
    """The label read from the answer (classification evals)."""
    choice: str | None = None
    """The judge's verdict (model-graded evals)."""
    verdict: str | None = None
    """The judge's full answer."""
    error: str | None = None
    prompt: Any = None
    """The prompt the model saw."""
    judges: dict[str, str] = field(default_factory=dict)
    """Judge -> verdict of every log of this model and samples file, when judges disagree."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def passes(self, which: str) -> bool:
        """Whether this outcome is shown by the filter ``which`` (one of FILTERS)."""
        if which == "failures":
            return self.status in ("wrong", "invalid")
        if which == "disagree":
            return bool(self.judges)
        return which == "all" or self.status == which


@dataclass
class RunLog:
    """One evals log of the run, its samples file and per-sample outcomes."""

    key: str
    path: Path
    model: str
    eval_name: str
    judge: str | None
    samples_path: Path | None
    problem: str | None
    """Why the samples file cannot be opened (then only the outcomes are shown)."""
    outcomes: dict[int, Outcome]
    unindexed: int = 0
    """Events whose sample id has no index (not shown; counted)."""

    def select(self, which: str) -> list[Outcome]:
        if which not in FILTERS:
            raise ValueError(f"unknown outcome filter {which!r} (expected {', '.join(FILTERS)})")
        return [o for _, o in sorted(self.outcomes.items()) if o.passes(which)]

    def summary(self) -> dict[str, Any]:
        counts = {which: len(self.select(which)) for which in FILTERS}
        return {
            "key": self.key,
            "log": str(self.path),
            "model": self.model,
            "eval": self.eval_name,
            "judge": self.judge,
            "samples": str(self.samples_path) if self.samples_path else None,
            "problem": self.problem,
            "counts": counts,
            "unindexed": self.unindexed,
        }


def samples_path(log: EvalLog) -> tuple[Path | None, str | None]:
    """The samples file the log's eval read, or (None, why not)."""
    eval_spec = log.spec.get("run_config", {}).get("eval_spec", {}) or {}
    args = eval_spec.get("args") or {}
    name = args.get("samples_jsonl")
    if not isinstance(name, str) or not name:
        return None, "the eval spec names no samples_jsonl"
    path = Path(name)
    if not path.is_absolute():
        registry = eval_spec.get("registry_path")
        if not registry:
            return None, f"the eval spec has no registry_path to find {name}"
        path = Path(registry) / "data" / name
    if not path.is_file():
        return None, f"samples file {path} not found"
    return path, None


def _index(sample_id: str | None) -> int | None:
    tail = (sample_id or "").rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else value
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def outcomes(log: EvalLog) -> tuple[dict[int, Outcome], int]:
    """Per-sample outcomes of a log, and the count of events without a sample index."""
    found: dict[int, Outcome] = {}
    unindexed = 0
    for event in log.events:
        index = _index(event.sample_id)
        if index is None:
            unindexed += event.type in ("match", "metrics", "sampling")
            continue
        out = found.setdefault(index, Outcome(index))
        data = event.data
        if event.type == "sampling":
            if out.prompt is None:  # the first call of a sample is the model under test
                out.prompt, out.answer = data.get("prompt"), _text(data.get("sampled"))
            if data.get("failed"):
                out.status, out.error = "failed", str(data.get("error", ""))
        elif event.type == "match":
            out.expected, out.picked = data.get("expected"), data.get("picked", data.get("label"))
            out.answer = _text(data.get("sampled")) or out.answer
            if data.get("failed"):
                out.status, out.error = "failed", str(data.get("error", ""))
            elif data.get("correct"):
                out.status = "correct"
            else:
                out.status = "invalid" if out.picked is None else "wrong"
        elif event.type == "metrics" and ("choice" in data or "failed" in data):
            if data.get("failed"):
                out.status, out.error = "failed", str(data.get("error", ""))
                continue
            out.choice = str(data.get("choice"))
            out.verdict = data.get("verdict")
            out.status = "invalid" if out.choice == INVALID else "graded"
    return found, unindexed


def _judge(log: EvalLog) -> str | None:
    for event in log.events:
        judge = event.data.get("judge") if event.type == "metrics" else None
        if judge:
            return str(judge)
    args = log.spec.get("run_config", {}).get("eval_spec", {}).get("args") or {}
    return str(args["judge"]) if args.get("judge") else None


def load_run(run_dir: str | Path) -> list[RunLog]:
    """Every evals log under ``run_dir``, with outcomes and judge disagreements."""
    logs: list[RunLog] = []
    for i, path in enumerate(find_logs([Path(run_dir)])):
        log = read_log(path)
        samples, problem = samples_path(log)
        found, unindexed = outcomes(log)
        logs.append(
            RunLog(
                f"L{i}",
                path,
                log.model,
                log.eval_name,
                _judge(log),
                samples,
                problem,
                found,
                unindexed,
            )
        )
    mark_disagreements(logs)
    return logs


def mark_disagreements(logs: list[RunLog]) -> None:
    """Fill ``Outcome.judges`` where the logs of one model on one samples file (each graded by
    its judge) give different valid verdicts for a sample."""
    groups: dict[tuple[str, str], list[RunLog]] = defaultdict(list)
    for log in logs:
        if log.samples_path is not None:
            groups[(str(log.samples_path.resolve()), log.model)].append(log)
    for group in groups.values():
        if len(group) < 2:
            continue
        indices = set().union(*(log.outcomes for log in group))
        for index in indices:
            verdicts = {
                log.judge or log.path.stem: o.choice
                for log in group
                if (o := log.outcomes.get(index)) is not None and o.status == "graded"
            }
            clean = {judge: str(choice) for judge, choice in verdicts.items() if choice}
            if len(set(clean.values())) > 1:
                for log in group:
                    if index in log.outcomes:
                        log.outcomes[index].judges = clean


def _normal(text: str) -> str:
    return " ".join(text.replace("{{", "{").replace("}}", "}").split()).casefold()


def prompt_matches(prompt: Any, messages: list[Message]) -> bool | None:
    """Whether the prompt the model saw holds the row's last user text (None: unknown).

    False means the samples file changed since the run: the row may not be that sample."""
    users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if prompt is None or not users or not isinstance(users[-1], str):
        return None
    if isinstance(prompt, list):
        seen = " ".join(str(m.get("content", "")) for m in prompt if isinstance(m, dict))
    else:
        seen = str(prompt)
    return _normal(users[-1]) in _normal(seen)
