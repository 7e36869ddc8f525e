"""Bad input through the real CLI: a clear error or a counted warning naming file:line, never a
traceback, never a silently dropped row. Fixtures: tests/bad_inputs/ (see its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftevals.cli import main
from ftevals.jsonl import MAX_LINE_BYTES

BAD = Path(__file__).resolve().parents[1] / "bad_inputs"

# file -> (validate exit code, line it names or None, convert exit code, line or None)
CASES = {
    "malformed_json.jsonl": (1, 2, 2, 2),
    "not_an_object.jsonl": (1, 2, 2, 2),
    "wrong_type_content.jsonl": (1, 3, 2, 3),
    "missing_messages.jsonl": (1, 2, 2, 2),
    "missing_role.jsonl": (1, 1, 2, 1),
    "unknown_role.jsonl": (1, 2, 2, 2),
    "bad_weight.jsonl": (1, 1, 2, 1),
    "not_utf8.jsonl": (1, 2, 2, 2),
    "empty.jsonl": (2, None, 2, None),
    "only_blank_lines.jsonl": (2, None, 2, None),
    "bom_and_blank_lines.jsonl": (0, None, 0, None),
    "not_utf8.csv": (2, None, 2, 3),
    "ragged.csv": (2, None, 2, 3),
}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out + captured.err


def test_every_fixture_has_a_case() -> None:
    data = [p.name for p in BAD.iterdir() if p.suffix in (".jsonl", ".csv")]
    assert sorted(data) == sorted(CASES)  # registry_*.yaml: tests/test_bad_inputs_corpus.py


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_bad_input(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = BAD / name
    code, out = run(["validate", str(path)], capsys)
    expected_code, line = CASES[name][:2]
    assert code == expected_code, out
    assert str(path) in out
    if line is not None:
        assert f"{path}:{line}" in out


@pytest.mark.parametrize("name", sorted(CASES))
def test_convert_bad_input(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, out_file = BAD / name, tmp_path / "out.jsonl"
    code, out = run(["convert", str(path), "--to", "samples", "--out", str(out_file)], capsys)
    expected_code, line = CASES[name][2:]
    assert code == expected_code, out
    assert str(path) in out
    if line is not None:
        assert f"{path}:{line}" in out
    assert out_file.exists() == (code == 0)  # a bad row writes nothing


def test_bom_and_blank_lines_are_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = BAD / "bom_and_blank_lines.jsonl"
    code, out = run(["validate", str(path)], capsys)
    assert code == 0
    assert "2 examples (chat), 2 valid" in out
    assert "warning: 2 blank lines (skipped) (lines 2, 4)" in out
    assert "byte order mark" in out
    code, out = run(
        ["convert", str(path), "--to", "samples", "--out", str(tmp_path / "s.jsonl")], capsys
    )
    assert "read 2 rows" in out and "skipped 2 blank lines" in out and "byte order mark" in out
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 2


def test_very_long_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "long.jsonl"
    ok = (
        b'{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "ok"}]}'
    )
    with path.open("wb") as fh:
        fh.write(ok + b"\n" + b'{"text": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n' + ok + b"\n")
    code, out = run(["validate", str(path)], capsys)
    assert code == 1
    assert f"{path}:2: line_too_long: line longer than {MAX_LINE_BYTES} bytes" in out
    assert "3 examples (chat), 2 valid" in out
    code, out = run(
        ["convert", str(path), "--to", "samples", "--out", str(tmp_path / "o.jsonl")], capsys
    )
    assert code == 2 and f"{path}:2: line longer than" in out
