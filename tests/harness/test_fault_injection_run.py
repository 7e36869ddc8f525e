"""Fault injection: a 900-sample run of `ftevals run` against a loopback server that misbehaves.

About a fifth of the samples first get 429 (with Retry-After) or 500, some requests hang past the
client timeout, some answers are malformed JSON. The faults are a function of the prompt and of
the attempt number (the server counts requests per body), so every thread order gives the same
outcome: samples with a transient fault are answered on a retry, samples whose fault outlasts the
retry cap (3 attempts) or is not retried (malformed JSON) end as failed samples with the reason.
The run finishes, and its log, report and comparison hold every sample exactly once.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer, Fault, Request

from ftevals.cli import main
from ftevals.harness.compare import compare_logs
from ftevals.harness.logs import read_log

SAMPLES = 900
MAX_ATTEMPTS = 3
EVAL = "faults"
TOPICS = ["bake bread", "build a pipe bomb", "learn to swim", "steal card numbers"]

# bucket (0..99 from the prompt's hash) -> what each attempt gets; "ok" answers normally.
TRANSIENT_429 = range(0, 8)  # 429 twice (Retry-After: 0), answered on attempt 3
TRANSIENT_500 = range(8, 14)  # 500 once
PERSISTENT_500 = range(14, 17)  # 500 on every attempt: failed after the cap
PERSISTENT_429 = range(17, 20)  # 429 on every attempt (retry-after-ms): failed after the cap
TRANSIENT_HANG = range(20, 22)  # no answer past the client timeout once
PERSISTENT_HANG = range(22, 23)  # no answer on every attempt: failed after the cap
MALFORMED = range(23, 25)  # a 200 with broken JSON: not retried, failed at once


def prompt(i: int) -> str:
    return f"Request {i}: how do I {TOPICS[i % len(TOPICS)]}?"


def label(i: int) -> str:
    return "unsafe" if i % 2 else "safe"


def bucket(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 100


def plan(request: Request, attempt: int) -> Fault | None:
    """The fault (or None: a normal answer) for this request, from its prompt and attempt."""
    b = bucket(_user_text(request.body))
    if b in TRANSIENT_429 and attempt <= 2:
        return Fault.status_code(429, retry_after="0")
    if (b in TRANSIENT_500 and attempt == 1) or b in PERSISTENT_500:
        return Fault.status_code(500)
    if b in PERSISTENT_429:
        return Fault.status_code(429, retry_after_ms="1")
    if (b in TRANSIENT_HANG and attempt == 1) or b in PERSISTENT_HANG:
        return Fault.hang()
    if b in MALFORMED:
        return Fault.malformed()
    return None


def _user_text(body: dict[str, object]) -> str:
    messages = body["messages"]
    assert isinstance(messages, list)
    return str(next(m["content"] for m in messages if m["role"] == "user"))


def answer(body: dict[str, object]) -> str:
    i = int(_user_text(body).split(":")[0].split()[1])
    return label(i)


def expected_failure(i: int) -> str | None:
    """The start of the failure reason sample ``i`` must end with, or None if it is answered."""
    b = bucket(prompt(i))
    if b in PERSISTENT_500:
        return "HTTP 500"
    if b in PERSISTENT_429:
        return "HTTP 429"
    if b in PERSISTENT_HANG:
        return "timeout"
    if b in MALFORMED:
        return "malformed response"
    return None


def write_registry(root: Path) -> None:
    (root / "data" / EVAL).mkdir(parents=True)
    (root / "evals").mkdir()
    rows = [
        {"input": [{"role": "user", "content": prompt(i)}], "ideal": label(i)}
        for i in range(SAMPLES)
    ]
    (root / "data" / EVAL / "samples.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    (root / "evals" / f"{EVAL}.yaml").write_text(
        f"{EVAL}:\n  id: {EVAL}.test.v0\n  metrics: [accuracy]\n"
        f"{EVAL}.test.v0:\n  class: ftevals.elsuite.classification:LabelMatch\n"
        f"  args: {{samples_jsonl: {EVAL}/samples.jsonl, labels: [safe, unsafe], max_tokens: 8}}\n",
        encoding="utf-8",
    )


def test_faulty_server_run_accounts_for_every_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EVALS_THREADS", "10")
    monkeypatch.delenv("EVALS_SEQUENTIAL", raising=False)
    registry, out = tmp_path / "registry", tmp_path / "run"
    write_registry(registry)
    failures = {f"{EVAL}.test.{i}": expected_failure(i) for i in range(SAMPLES)}
    must_fail = {sid: why for sid, why in failures.items() if why is not None}
    buckets = Counter(bucket(prompt(i)) for i in range(SAMPLES))
    faulted_first = sum(buckets[b] for b in range(0, 20))
    # the mix the issue asks for, so the assertions below are not vacuous
    assert 0.15 * SAMPLES < faulted_first < 0.25 * SAMPLES
    assert sum(buckets[b] for b in PERSISTENT_HANG) >= 3
    assert sum(buckets[b] for b in MALFORMED) >= 5
    assert len(must_fail) >= 40

    with FakeOpenAIServer(answer, fault_plan=plan) as server:
        args = f"base_url={server.base_url},model=m,timeout=2,max_attempts={MAX_ATTEMPTS}"
        args += ",base_delay=0.001"
        run = ["run", "--models", "openai-compatible", "--evals", EVAL, "--out", str(out)]
        run += ["--registry", str(registry), "--completion-args", args, "--no-progress"]
        code = main(run)
        printed = capsys.readouterr().out
        sent = Counter(
            _user_text(r.body) for r in server.requests if r.path.endswith("/completions")
        )

    assert code == 0, printed
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    pair = manifest["pairs"][0]
    assert pair["status"] == "done", pair["error"]
    assert pair["samples"] == SAMPLES
    assert pair["final_report"]["failed"] == len(must_fail)
    assert pair["final_report"]["accuracy"] == 1.0  # every answered sample scored, none invented

    # the log: exactly one result per sample, each answered or failed with its reason
    log = read_log(out / pair["log"])
    matches = log.events_of("match")
    ids = Counter(event.sample_id for event in matches)
    assert set(ids) == set(failures) and set(ids.values()) == {1}
    failed = {e.sample_id: e.data for e in matches if e.data.get("failed") is True}
    assert set(failed) == set(must_fail)
    for sample_id, data in failed.items():
        assert str(data["error"]).startswith(must_fail[sample_id]), (sample_id, data)
        assert data["label"] is None
    answered = [e for e in matches if e.data.get("failed") is not True]
    assert len(answered) == SAMPLES - len(must_fail)
    assert all(e.data["correct"] for e in answered)
    sampling = Counter(event.sample_id for event in log.events_of("sampling"))
    assert set(sampling) == set(failures) and set(sampling.values()) == {1}
    retried = [e.data for e in log.events_of("sampling") if e.data.get("failed") is True]
    assert sorted(d["attempts"] for d in retried if "gave up" in d["error"]) == [MAX_ATTEMPTS] * (
        len(must_fail) - sum(why == "malformed response" for why in must_fail.values())
    )

    # the server's side: capped retries, and no answered sample asked again
    for i in range(SAMPLES):
        text, why = prompt(i), failures[f"{EVAL}.test.{i}"]
        if why == "malformed response":
            assert sent[text] == 1, text
        elif why is not None:
            assert sent[text] == MAX_ATTEMPTS, text
        else:
            b = bucket(text)
            least = 3 if b in TRANSIENT_429 else 2 if b in (*TRANSIENT_500, *TRANSIENT_HANG) else 1
            assert least <= sent[text] <= MAX_ATTEMPTS, (text, sent[text])

    # the comparison counts both: scored samples and failed ones
    row = compare_logs([log]).rows[0]
    assert (row.n, row.failed) == (SAMPLES - len(must_fail), len(must_fail))
    assert row.accuracy == 1.0
    assert main(["compare", str(out), "--json", "-"]) == 0
    compared = json.loads(capsys.readouterr().out)["rows"][0]
    assert (compared["n"], compared["failed"]) == (SAMPLES - len(must_fail), len(must_fail))
