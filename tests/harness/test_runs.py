"""`ftevals runs` and the progress of `ftevals run` (no engine process needed here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftevals.cli import main
from ftevals.errors import InputError
from ftevals.harness.progress import PairProgress, RunProgress, read_progress
from ftevals.harness.runs import list_runs, render_runs


def _manifest(directory: Path, started: str, statuses: list[str], finished: bool = True) -> None:
    directory.mkdir(parents=True)
    pairs = [
        {"model": f"m{i}", "eval": "e", "log": f"m{i}__e.jsonl", "status": status}
        for i, status in enumerate(statuses)
    ]
    for pair in pairs[:1]:
        (directory / pair["log"]).write_text("{}\n")
    manifest = {
        "models": [p["model"] for p in pairs],
        "evals": ["e"],
        "registries": [],
        "started_at": started,
        "finished_at": "2026-11-23T13:00:00+00:00" if finished else None,
        "pairs": pairs,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))


def test_list_runs_newest_first_with_status_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "runs"
    _manifest(root / "old", "2026-11-20T10:00:00+00:00", ["done", "failed"])
    _manifest(
        root / "group" / "new", "2026-11-23T10:00:00+00:00", ["done", "done", "running"], False
    )
    (root / "broken").mkdir()
    (root / "broken" / "manifest.json").write_text("{not json")
    runs = list_runs([root])
    assert [Path(r.path).name for r in runs] == ["new", "old", "broken"]
    new, old, broken = runs
    assert new.status == {"done": 2, "running": 1} and new.finished_at is None and new.logs == 1
    assert old.status == {"done": 1, "failed": 1} and old.models == ["m0", "m1"]
    assert broken.problem is not None and "unreadable manifest" in broken.problem
    text = render_runs(runs)
    assert "unfinished" in text and "done 2, running 1" in text and "unreadable" in text
    assert list_runs([root / "old"])[0].path == str(root / "old")  # a run directory itself

    monkeypatch.chdir(tmp_path)  # default: ./runs
    assert main(["runs", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [Path(r["path"]).name for r in listed] == ["new", "old", "broken"]
    assert main(["runs", str(tmp_path / "nothing-here")]) == 2
    assert "no such directory" in capsys.readouterr().err
    with pytest.raises(InputError):
        list_runs([tmp_path / "nothing-here"])
    (tmp_path / "empty").mkdir()
    assert render_runs(list_runs([tmp_path / "empty"])).startswith("no runs found")


def test_progress_file_is_read_incrementally(tmp_path: Path) -> None:
    path = tmp_path / "p.progress"
    progress = PairProgress()
    progress.feed(path)  # not written yet
    assert (progress.total, progress.done) == (None, 0)
    path.write_text('{"total": 4}\n{"done": "e.dev.1"}\n{"done": "e.d')  # a line half written
    progress.feed(path)
    assert (progress.total, progress.done) == (4, 1)
    with path.open("a") as fh:
        fh.write('ev.2"}\n{"done": "e.dev.3"}\n{"cache": {"hits": 2, "stored": 1}}\n')
    progress.feed(path)
    assert (progress.total, progress.done, progress.cache_hits, progress.cache_stored) == (
        4,
        3,
        2,
        1,
    )
    assert read_progress(path) == PairProgress(4, 3, 2, 1, path.stat().st_size)


def test_run_progress_sums_pairs(tmp_path: Path) -> None:
    first, second = tmp_path / "a.progress", tmp_path / "b.progress"
    first.write_text('{"total": 3}\n' + '{"done": "x"}\n' * 3)
    second.write_text('{"total": 5}\n{"done": "y"}\n')
    with RunProgress(3, enabled=False) as bar:
        bar.start_pair("a", first)
        bar.start_pair("b", second)
        done = bar.finish_pair("a")
        assert done is not None and (done.total, done.done) == (3, 3)
        assert bar.finish_pair("skipped-pair") is None
        bar._refresh()
        assert (bar.bar.total, bar.bar.n, bar.finished) == (8, 4, 2)
