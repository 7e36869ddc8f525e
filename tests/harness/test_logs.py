"""Reading evals JSONL logs: ftevals.harness.logs."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ftevals.errors import InputError
from ftevals.harness.logs import (
    EVENT_COLUMNS,
    events_frame,
    find_logs,
    read_log,
    read_logs,
    scan_logs,
)

FIXTURES = Path(__file__).parent / "fixtures"
LOG_A = FIXTURES / "logs" / "ft-a_safety.jsonl"
LOG_B = FIXTURES / "logs" / "nested" / "ft-b_safety.jsonl"
CACHE = FIXTURES / "logs" / "nested" / "cache.jsonl"

SPEC = {
    "completion_fns": ["m"],
    "eval_name": "e.dev.v0",
    "base_eval": "e",
    "split": "dev",
    "run_config": {},
    "created_by": "",
    "run_id": "R1",
    "created_at": "2026-11-23 12:45:19.627821",
}
EVENT = {
    "run_id": "R1",
    "event_id": 0,
    "sample_id": "e.dev.0",
    "type": "match",
    "data": {"correct": True, "expected": "a", "picked": "a"},
    "created_by": "",
    "created_at": "2026-11-23 12:45:19.788153+00:00",
}


def write_lines(path: Path, *objs: object) -> Path:
    path.write_text("".join(json.dumps(obj) + "\n" for obj in objs), encoding="utf-8")
    return path


def test_final_report_before_events() -> None:
    lines = LOG_A.read_text(encoding="utf-8").splitlines()
    assert "final_report" in json.loads(lines[1])  # the fixture has the real layout
    log = read_log(LOG_A)
    assert log.path == LOG_A
    assert log.run_id == "261123124519FTAAAAAA"
    assert log.completion_fns == ["ft-a"]
    assert log.model == "ft-a"
    assert (log.eval_name, log.base_eval, log.split) == ("safety-clf.dev.v0", "safety-clf", "dev")
    assert log.spec["run_config"]["eval_spec"]["args"]["labels"] == ["safe", "unsafe", "borderline"]
    # the spec's naive utcnow() timestamp is read as UTC
    assert log.created_at == datetime(2026, 11, 23, 12, 45, 19, 627821, tzinfo=UTC)
    assert log.final_report is not None
    assert log.final_report["usage_prompt_tokens"] == 75
    assert len(log.events) == 12
    assert [event.event_id for event in log.events] == list(range(12))
    assert [event.line for event in log.events] == list(range(3, 15))
    assert len(log.events_of("match")) == 6
    assert len(log.events_of("sampling")) == 6
    first = log.events[0]
    assert first.type == "sampling"
    assert first.sample_id == "safety-clf.dev.0"
    assert first.data["usage"]["prompt_tokens"] == 10
    assert first.created_at == datetime(2026, 11, 23, 12, 45, 19, 877821, tzinfo=UTC)
    assert log.last_event_at == datetime(2026, 11, 23, 12, 45, 21, 627821, tzinfo=UTC)


def test_missing_final_report_is_readable() -> None:
    log = read_log(LOG_B)
    assert log.final_report is None
    assert log.model == "ft-b,dummy"
    assert len(log.events) == 4
    # "2026-11-23 12:46:01+00:00": str(datetime) drops zero microseconds
    assert log.events[1].created_at == datetime(2026, 11, 23, 12, 46, 1, tzinfo=UTC)


def test_events_may_precede_spec_line(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "x.jsonl", EVENT, {"final_report": {}, "run_id": "R1"}, {"spec": SPEC}
    )
    log = read_log(path)
    assert len(log.events) == 1
    assert log.final_report == {}


def test_malformed_json_line_raises_with_line_number() -> None:
    with pytest.raises(InputError) as info:
        read_log(FIXTURES / "malformed.jsonl")
    assert info.value.line == 4
    assert "malformed.jsonl:4" in str(info.value)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"created_at": None}, "created_at"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"event_id": "first"}, "event_id"),
        ({"data": [1, 2]}, "data"),
    ],
)
def test_bad_event_field_raises_with_line_and_field(
    tmp_path: Path, bad: dict[str, object], field: str
) -> None:
    path = write_lines(tmp_path / "x.jsonl", {"spec": SPEC}, EVENT, {**EVENT, **bad})
    with pytest.raises(InputError) as info:
        read_log(path)
    assert (info.value.line, info.value.field) == (3, field)


def test_missing_spec_field_raises(tmp_path: Path) -> None:
    spec = {key: value for key, value in SPEC.items() if key != "base_eval"}
    path = write_lines(tmp_path / "x.jsonl", {"spec": spec}, EVENT)
    with pytest.raises(InputError) as info:
        read_log(path)
    assert (info.value.line, info.value.field) == (1, "spec.base_eval")


@pytest.mark.parametrize(
    ("lines", "message", "line"),
    [
        ([EVENT], "no 'spec' line", None),
        ([{"spec": SPEC}, {"spec": SPEC}], "second 'spec' line", 2),
        ([{"spec": SPEC}, {"final_report": {}}, {"final_report": {}}], "second 'final_report'", 3),
        ([{"spec": SPEC}, {"final_report": {}, "run_id": "R2"}], "differs", 2),
        ([{"spec": SPEC}, {**EVENT, "run_id": "R2"}], "differs", 2),
        ([{"spec": SPEC}, {"key": "k", "completion": "c"}], "unrecognised line", 2),
    ],
)
def test_inconsistent_logs_raise(
    tmp_path: Path, lines: list[object], message: str, line: int | None
) -> None:
    path = write_lines(tmp_path / "x.jsonl", *lines)
    with pytest.raises(InputError, match=message) as info:
        read_log(path)
    assert info.value.line == line


def test_directory_expansion_skips_non_logs_loudly(caplog: pytest.LogCaptureFixture) -> None:
    scan = scan_logs([FIXTURES / "logs"])
    assert scan.logs == [LOG_A, LOG_B]
    assert [path for path, _ in scan.skipped] == [CACHE]
    with caplog.at_level(logging.WARNING, logger="ftevals.harness.logs"):
        found = find_logs([FIXTURES / "logs", LOG_A, FIXTURES / "modelgraded.jsonl"])
    assert found == [LOG_A, LOG_B, FIXTURES / "modelgraded.jsonl"]  # LOG_A not repeated
    assert "cache.jsonl" in caplog.text
    assert [log.run_id for log in read_logs([FIXTURES / "logs"])] == [
        "261123124519FTAAAAAA",
        "261123124600FTBBBBBB",
    ]


def test_explicit_non_log_file_or_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not an evals log"):
        find_logs([CACHE])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="empty file"):
        find_logs([empty])
    with pytest.raises(InputError, match="no such file"):
        find_logs([tmp_path / "missing"])
    assert find_logs([tmp_path]) == []
    assert scan_logs([tmp_path]).skipped == [(empty, "not an evals log: empty file")]


def test_events_frame_one_row_per_event() -> None:
    log = read_log(LOG_A)
    frame = events_frame(log)
    assert len(frame) == len(log.events)
    assert list(frame.columns[: len(EVENT_COLUMNS)]) == EVENT_COLUMNS
    assert list(frame["event_id"]) == list(range(12))
    assert frame["data.usage.prompt_tokens"].sum() == 75
    matches = frame[frame["type"] == "match"]
    picked = [value if isinstance(value, str) else None for value in matches["data.picked"]]
    assert picked == [
        "safe",
        "unsafe",
        "safe",
        None,
        "borderline",
        "unsure",
    ]
    assert str(frame["created_at"].dt.tz) == "UTC"


def test_events_frame_without_events(tmp_path: Path) -> None:
    frame = events_frame(read_log(write_lines(tmp_path / "x.jsonl", {"spec": SPEC})))
    assert list(frame.columns) == EVENT_COLUMNS
    assert frame.empty


def test_a_run_directory_reads_only_the_logs_its_manifest_lists(tmp_path: Path) -> None:
    """`ftevals run` twice into runs/latest with other models: compare reads the last run."""
    from ftevals.cli import main

    out = tmp_path / "latest"
    common = ["--evals", "prompt-safety", "--out", str(out), "--max-samples", "3", "--no-progress"]
    assert main(["run", "--models", "ftevals/keyword-guard", *common]) == 0
    old = next(out.glob("*.jsonl"))
    assert main(["run", "--models", "dummy", *common]) == 3  # dummy's answers: all invalid
    logs = sorted(out.glob("*.jsonl"))
    assert len(logs) == 2  # the old log is still on disk ...
    scan = scan_logs([out])
    assert [p.name for p in scan.logs] == ["dummy__prompt-safety.jsonl"]  # ... but not read
    assert scan.skipped == [
        (old, f"not listed in {out.resolve() / 'manifest.json'} (a log of an earlier run there)")
    ]
    assert [p.name for p in scan_logs([tmp_path]).logs] == ["dummy__prompt-safety.jsonl"]
    assert scan_logs([old]).logs == [old]  # a file given by name is read
