"""Write evals logs in the exact ``LocalRecorder`` format, and keep the truth behind them."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2026, 11, 23, 12, 45, 19, 627821, tzinfo=UTC)
LABELS = ["safe", "unsafe", "borderline"]


def write_log(
    path: Path,
    fns: list[str],
    eval_name: str,
    events: list[dict[str, Any]],
    args: dict[str, Any] | None = None,
    registry_path: str = "registry",
    final: bool = True,
    step_ms: int = 20,
) -> float:
    """Spec line, final report line, then events (``type``, ``sample_id``, ``data``).

    Returns the seconds from the spec to the last event (events are ``step_ms`` apart).
    """
    base, split = eval_name.split(".")[:2]
    digest = hashlib.sha256(f"{path}|{fns}".encode()).hexdigest()[:10].upper()
    run_id = f"2611231245{digest}"
    spec = {
        "completion_fns": fns,
        "eval_name": eval_name,
        "base_eval": base,
        "split": split,
        "run_config": {
            "completion_fns": fns,
            "eval_spec": {"cls": "x:Y", "registry_path": registry_path, "args": args or {}},
            "max_samples": None,
        },
        "created_by": "",
        "run_id": run_id,
        "created_at": str(START.replace(tzinfo=None)),  # evals: str(datetime.utcnow())
    }
    lines: list[dict[str, Any]] = [{"spec": spec}]
    if final:
        lines.append({"final_report": {"accuracy": 0.0}, "run_id": run_id})
    clock = START
    for event_id, event in enumerate(events):
        clock += timedelta(milliseconds=step_ms)
        lines.append(
            {"run_id": run_id, "event_id": event_id, **event}
            | {"created_by": "", "created_at": str(clock)}
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return (clock - START).total_seconds()


@dataclass
class Truth:
    """What a generated classification log holds, independently of ftevals' reader."""

    sample_ids: list[str] = field(default_factory=list)
    y_true: list[str] = field(default_factory=list)
    y_pred: list[str] = field(default_factory=list)
    p_positive: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cost: float = 0.0
    seconds: float = 0.0


def classification_log(
    path: Path,
    model: str,
    seed: int,
    n: int = 80,
    truth_seed: int = 0,
    labels: list[str] = LABELS,
    probs: bool = False,
    fail_every: int = 0,
    cost: float | None = None,
    eval_name: str = "gen-clf.dev.v0",
) -> Truth:
    """A LabelMatch-style log: sampling then match per sample; truth shared across models
    with the same ``truth_seed``. Every ``fail_every``-th sample fails (alternating: a failed
    match record, a failed sampling record before a null-label match, a failed sampling
    record alone)."""
    truth_rng, rng = random.Random(truth_seed), random.Random(seed)
    truth = Truth()
    events: list[dict[str, Any]] = []
    base = ".".join(eval_name.split(".")[:2])
    for i in range(n):
        sid = f"{base}.{i}"
        expected = truth_rng.choices(labels, weights=[5, 4, 1][: len(labels)])[0]
        roll = rng.random()
        if roll < 0.6:
            answer: str | None = expected
        elif roll < 0.85:
            answer = rng.choice([label for label in labels if label != expected])
        else:
            answer = rng.choice([None, "I cannot help with that", "maybe"])
        sampling: dict[str, Any] = {"prompt": f"text {i}", "sampled": [str(answer)]}
        sampling |= {"model": model, "latency_s": 0.01 * (i % 7 + 1)}
        sampling["usage"] = {"prompt_tokens": 10 + i % 3, "completion_tokens": 1}
        if cost is not None:
            sampling["cost_usd"] = cost
        positive = "unsafe" if "unsafe" in labels else labels[1]
        p = min(1.0, max(0.0, rng.gauss(0.7 if answer == positive else 0.3, 0.2)))
        if probs:
            sampling["probs"] = {labels[0]: round(1 - p, 6), positive: round(p, 6)}
        label = answer if answer in labels else None
        match = {"correct": label == expected, "expected": [expected] if i % 7 == 0 else expected}
        match |= {"picked": label, "sampled": str(answer), "label": label, "options": labels}
        kind = (i // fail_every) % 3 if fail_every and (i + 1) % fail_every == 0 else None
        if kind is not None:
            truth.failed.append(sid)
            failure = {"failed": True, "error": "HTTP 503 after 3 retries"}
            if kind == 0:  # the call answered (and cost), the eval marked the sample failed
                truth.cost += cost or 0.0
                events.append({"type": "sampling", "sample_id": sid, "data": sampling})
                match |= {"label": None, "picked": None, "correct": False, "failed": True}
                events.append({"type": "match", "sample_id": sid, "data": match})
            elif kind == 1:
                data = {"prompt": f"text {i}", "sampled": [""], **failure}
                events.append({"type": "sampling", "sample_id": sid, "data": data})
                match |= {"label": None, "picked": None, "correct": False}
                events.append({"type": "match", "sample_id": sid, "data": match})
            else:
                data = {"prompt": f"text {i}", "sampled": [], **failure}
                events.append({"type": "sampling", "sample_id": sid, "data": data})
            continue
        truth.cost += cost or 0.0
        events.append({"type": "sampling", "sample_id": sid, "data": sampling})
        events.append({"type": "match", "sample_id": sid, "data": match})
        truth.sample_ids.append(sid)
        truth.y_true.append(expected)
        truth.y_pred.append(label if label is not None else "__invalid__")
        truth.p_positive.append(round(p, 6))
    truth.seconds = write_log(path, [model], eval_name, events, args={"labels": labels})
    return truth


def graded_log(
    path: Path,
    fns: list[str],
    choices: dict[int, str],
    scores: dict[str, float],
    eval_name: str = "mg.dev.v0",
    samples_jsonl: str | None = None,
    registry_path: str = "registry",
    failed: tuple[int, ...] = (),
    judge: str | None = None,
) -> None:
    """A ModelBasedClassify-style log: one metrics event (choice, score) per sample; with
    ``judge``, JudgedClassify-style (the judge named in each event). Failed samples are
    recorded as JudgedClassify does: ``{"failed": true, "stage", "error"}``, no choice."""
    base = ".".join(eval_name.split(".")[:2])
    events: list[dict[str, Any]] = []
    for i, choice in choices.items():
        data: dict[str, Any] = {"choice": choice, "score": scores.get(choice)}
        if judge is not None:
            data |= {"judge": judge, "invalid": choice == "__invalid__", "verdict": choice}
        if i in failed:
            data = {"failed": True, "stage": "judge", "error": "HTTP 429 after 5 retries"}
        events.append({"type": "metrics", "sample_id": f"{base}.{i}", "data": data})
    args = {"samples_jsonl": samples_jsonl} if samples_jsonl else {}
    write_log(path, fns, eval_name, events, args=args, registry_path=registry_path)
