"""bench/run_all.py: rows written into BENCHMARKS.md's generated section, from fake benchmarks
(tiny scripts printing a JSON result; no real benchmark runs here)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run_all", ROOT / "bench" / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


HAND_WRITTEN = "# Benchmarks\n\nMachine: hand-written notes.\n\n## Other\n\n| a | b |\n|---|---|\n"


def fake_bench(tmp_path: Path, name: str, result: object, code: int = 0) -> Path:
    """A script that prints ``result`` as JSON when given --json (and its args to a file)."""
    script = tmp_path / name
    script.write_text(
        "import json, sys\n"
        f"open({str(tmp_path / (name + '.argv'))!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        "print('some progress text')\n"
        f"print(json.dumps({result!r}) if '--json' in sys.argv else 'no json')\n"
        f"sys.exit({code})\n",
        encoding="utf-8",
    )
    return script


def remote_result(value: float) -> dict[str, object]:
    figure = {"name": "ours", "value": value, "unit": "samples/s"}
    figure.update(baseline_name="built-in", baseline=8.0)
    return {"figures": [figure], "notes": "900 samples"}


def table_rows(text: str) -> list[list[str]]:
    section = text.split("<!-- bench:run_all start -->", 1)[1].split("<!-- bench:run_all end")[0]
    return [
        [cell.strip() for cell in line.strip("|").split(" | ")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| benchmark")
    ]


def test_rows_are_written_then_merged(
    run_all: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(HAND_WRITTEN, encoding="utf-8")
    remote = remote_result(240.0)
    data = {"figures": [{"name": "convert", "value": 37400.0, "unit": "rows/s"}]}
    fake_remote = fake_bench(tmp_path, "remote.py", remote)
    fake_data = fake_bench(tmp_path, "data.py", data)
    benches = [
        run_all.Bench(str(fake_remote), ("--samples", "900"), ("--samples", "10")),
        run_all.Bench(str(fake_data)),
    ]

    assert run_all.main(["--out", str(out)], benches) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith(HAND_WRITTEN)  # the rest of the file is left as it was
    assert text.count("<!-- bench:run_all start -->") == 1 and text.endswith("end -->\n")
    assert json.loads((tmp_path / "remote.py.argv").read_text()) == ["--samples", "900", "--json"]
    rows = table_rows(text)
    assert len(rows) == 2
    bench, command, machine, figure, baseline, ratio, date = rows[0]
    assert bench == "remote (full)"
    assert command.startswith("`") and "remote.py --samples 900`" in command
    assert "cores, torch " in machine and ", Python 3." in machine
    assert figure == "ours: 240.0 samples/s"
    assert baseline == "built-in: 8 samples/s"
    assert ratio == "30.00x"
    assert len(date) == 10
    assert rows[1][0] == "data (full)" and rows[1][3] == "convert: 37,400.0 rows/s"
    assert (rows[1][4], rows[1][5]) == ("none", "-")

    # a quick run of one benchmark: its quick rows are added, the full rows stay
    fake_bench(tmp_path, "remote.py", remote_result(120.0))
    assert run_all.main(["--out", str(out), "--quick", "--only", "remote"], benches) == 0
    assert json.loads((tmp_path / "remote.py.argv").read_text()) == ["--samples", "10", "--json"]
    rows = table_rows(out.read_text(encoding="utf-8"))
    assert [(r[0], r[5]) for r in rows] == [
        ("remote (full)", "30.00x"),
        ("remote (quick)", "15.00x"),
        ("data (full)", "-"),
    ]

    # a full run again replaces the full rows of that benchmark only
    fake_bench(tmp_path, "remote.py", remote_result(80.0))
    assert run_all.main(["--out", str(out), "--only", "remote"], benches) == 0
    text = out.read_text(encoding="utf-8")
    rows = table_rows(text)
    assert [(r[0], r[5]) for r in rows] == [
        ("remote (full)", "10.00x"),
        ("remote (quick)", "15.00x"),
        ("data (full)", "-"),
    ]
    assert text.startswith(HAND_WRITTEN) and text.count("bench:run_all start") == 1
    assert "updated" in capsys.readouterr().out


def test_a_failing_benchmark_keeps_its_rows_and_fails_the_run(
    run_all: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "BENCHMARKS.md"
    good = {
        "figures": [{"name": "x", "value": 2.0, "unit": "s", "baseline_name": "y", "baseline": 4}]
    }
    bench = run_all.Bench(str(fake_bench(tmp_path, "flaky.py", good)))
    assert run_all.main(["--out", str(out)], [bench]) == 0
    before = out.read_text(encoding="utf-8")
    assert table_rows(before)[0][5] == "0.50x"

    fake_bench(tmp_path, "flaky.py", good, code=3)  # crashes
    assert run_all.main(["--out", str(out)], [bench]) == 1
    fake_bench(tmp_path, "flaky.py", {"no": "figures"})  # prints no figures
    assert run_all.main(["--out", str(out)], [bench]) == 1
    assert out.read_text(encoding="utf-8") == before
    printed = capsys.readouterr().out
    assert "FAILED flaky.py: exit 3" in printed and "no 'figures' list" in printed


def test_every_bench_script_is_run_or_excused(run_all: ModuleType) -> None:
    scripts = {p.name for p in (ROOT / "bench").glob("*.py")}
    listed = {b.script for b in run_all.BENCHES}
    assert listed <= scripts
    assert scripts - listed == set(run_all.NOT_RUN) & scripts
