"""``ftevals compare`` warns when evaluated samples match a local adapter's recorded training
prompts (text, JSON, HTML), and ``--no-contamination`` skips the check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from logfactory import write_log
from test_contamination import SAMPLES, setup  # noqa: F401  (the fixture)

from ftevals.cli import main


def _log(path: Path, registry: Path) -> None:
    events = [
        {
            "type": "match",
            "sample_id": f"leaky.test.{i}",
            "data": {
                "correct": True,
                "expected": "unsafe",
                "picked": "unsafe",
                "sampled": "unsafe",
            },
        }
        for i in range(len(SAMPLES))
    ]
    write_log(
        path,
        ["my-guard"],
        "leaky.test.v1",
        events,
        args={"samples_jsonl": "leaky/samples.jsonl"},
        registry_path=str(registry),
    )


def test_compare_prints_the_contamination_warning_everywhere(
    setup: tuple[Path, Path, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, _, registry = setup
    log = tmp_path / "run" / "a.jsonl"
    log.parent.mkdir()
    _log(log, registry)
    html = tmp_path / "r.html"
    assert main(["compare", str(log), "--json", str(tmp_path / "r.json"), "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "warning: 3 of 5 samples (60.0%) of leaky match training prompts of my-guard"
    )
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["contamination"][0].startswith("warning: 3 of 5 samples (60.0%)")
    assert "warning: 3 of 5 samples (60.0%)" in html.read_text(encoding="utf-8")
    assert main(["compare", str(log), "--no-contamination"]) == 0
    assert "warning" not in capsys.readouterr().out
