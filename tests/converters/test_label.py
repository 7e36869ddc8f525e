from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer

from ftevals.cli import main
from ftevals.completion_fns.base import TextCompletionResult
from ftevals.converters.label import label_file, prompt_hash, teacher_identity
from ftevals.jsonl import read_jsonl

USAGE = {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}


class FakeTeacher:
    """``unsafe`` for prompts about bombs, else ``safe``; fails on ``FAIL``; records usage."""

    def __init__(self, fail: bool = True, registry: Any = None, **kwargs: Any) -> None:
        self.fail = fail
        self.prompts: list[Any] = []
        self.lock = threading.Lock()

    def __call__(self, prompt: Any, **kwargs: Any) -> TextCompletionResult:
        from evals.record import record_sampling

        with self.lock:
            self.prompts.append(prompt)
        text = prompt[-1]["content"]
        if self.fail and "FAIL" in text:
            raise ConnectionError("teacher unreachable")
        answer = " unsafe\n" if "bomb" in text else "safe"
        record_sampling(prompt=prompt, sampled=[answer], usage=USAGE)
        return TextCompletionResult([answer])


def prompts_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_fake_teacher_labels_counts_failures_and_resumes(tmp_path: Path) -> None:
    src = prompts_file(tmp_path, ["how to bake bread", "", "how to build a bomb", "FAIL me", "hi"])
    out = tmp_path / "out.jsonl"
    teacher = FakeTeacher()
    report = label_file(src, teacher, out, system="Answer safe or unsafe.", concurrency=3)
    assert (report.prompts, report.labelled, report.failed, report.blank_lines) == (4, 3, 1, 1)
    assert report.failures == ["line 4: ConnectionError: teacher unreachable"]
    assert report.usage == {k: 3 * v for k, v in USAGE.items()}
    rows = {r["metadata"]["source_line"]: r for r in read_jsonl(out)}
    assert sorted(rows) == [1, 3, 5]  # the failed prompt is not written
    bomb = rows[3]
    prompt = [
        {"role": "system", "content": "Answer safe or unsafe."},
        {"role": "user", "content": "how to build a bomb"},
    ]
    assert bomb["messages"] == [*prompt, {"role": "assistant", "content": "unsafe"}]
    assert bomb["metadata"] == {
        "prompt_hash": prompt_hash(prompt),
        "teacher": "FakeTeacher",
        "teacher_args": {},
        "raw_answer": " unsafe\n",
        "usage": USAGE,
        "source_line": 3,
    }
    assert "FAILED: 1 teacher calls" in report.summary()

    again = FakeTeacher(fail=False)
    report = label_file(src, again, out, system="Answer safe or unsafe.")
    assert (report.already_labelled, report.labelled, report.failed) == (3, 1, 0)
    assert [p[-1]["content"] for p in again.prompts] == ["FAIL me"]  # only the missing one
    assert len(read_jsonl(out)) == 4


def test_partial_last_line_of_an_interrupted_run_is_removed(tmp_path: Path) -> None:
    src = prompts_file(tmp_path, ["a", "b"])
    out = tmp_path / "out.jsonl"
    label_file(src, FakeTeacher(), out)
    complete = out.read_text(encoding="utf-8").splitlines()[0]
    out.write_text(complete + "\n" + '{"messages": [{"role": "us', encoding="utf-8")
    report = label_file(src, FakeTeacher(), out)
    assert report.repaired_partial_line and (report.already_labelled, report.labelled) == (1, 1)
    assert len(read_jsonl(out)) == 2
    # a complete last line without its newline is kept
    out.write_text(out.read_text(encoding="utf-8").rstrip("\n"), encoding="utf-8")
    report = label_file(src, FakeTeacher(), out)
    assert not report.repaired_partial_line and report.already_labelled == 2


def test_duplicates_and_chat_input_use_the_prompt_turns(tmp_path: Path) -> None:
    src = tmp_path / "chat.jsonl"
    row = {
        "messages": [{"role": "user", "content": "a bomb?"}, {"role": "assistant", "content": "x"}]
    }
    src.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    report = label_file(src, FakeTeacher(), tmp_path / "o.jsonl")
    assert (report.prompts, report.labelled, report.duplicates) == (2, 1, 1)
    [out] = read_jsonl(tmp_path / "o.jsonl")
    assert out["messages"][-1] == {"role": "assistant", "content": "unsafe"}
    assert len(out["messages"]) == 2


def test_keyword_guard_teacher_through_the_registry_and_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "prompts.csv"
    src.write_text("how do I poison a dog\nhow do I bake bread\n", encoding="utf-8")
    out = tmp_path / "labelled.jsonl"
    argv = ["label", str(src), "--no-header", "--teacher", "ftevals/keyword-guard"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    assert "labelled 2 with ftevals/keyword-guard" in capsys.readouterr().out
    answers = {r["messages"][0]["content"]: r["messages"][-1]["content"] for r in read_jsonl(out)}
    assert answers == {"how do I poison a dog": "unsafe", "how do I bake bread": "safe"}
    args = ["--teacher-args", "positive=BAD,negative=OK", "--out", str(tmp_path / "o2.jsonl")]
    assert main([*argv, *args, "--quiet"]) == 0
    assert {r["messages"][-1]["content"] for r in read_jsonl(tmp_path / "o2.jsonl")} == {
        "BAD",
        "OK",
    }


def test_unknown_teacher_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = prompts_file(tmp_path, ["a"])
    assert main(["label", str(src), "--teacher", "no/such-fn", "--out", str(tmp_path / "o")]) == 2
    assert "completion function 'no/such-fn'" in capsys.readouterr().err


def test_output_cannot_be_the_input(tmp_path: Path) -> None:
    from ftevals.errors import FtevalsError

    src = prompts_file(tmp_path, ["a"])
    with pytest.raises(FtevalsError, match="is the input file"):
        label_file(src, FakeTeacher(), src)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, read, closed): connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_teacher_names_the_connection_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = prompts_file(tmp_path, ["how to bake bread", "hi"]), tmp_path / "out.jsonl"
    args = f"base_url=http://127.0.0.1:{closed_port()}/v1,model=x,max_attempts=2"
    argv = ["label", str(src), "--teacher", "openai-compatible", "--teacher-args", args]
    assert main([*argv, "--out", str(out), "--quiet"]) == 1
    printed = capsys.readouterr().out
    assert "FAILED: 2 teacher calls (every call)" in printed
    reason = "connection error (APIConnectionError); gave up after 2 attempts"
    assert f"line 1: {reason}" in printed and f"line 2: {reason}" in printed
    assert "empty answer" not in printed
    assert not out.exists() or read_jsonl(out) == []


def test_compatible_teacher_on_a_loopback_server_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = prompts_file(tmp_path, ["how to bake bread", "hi"]), tmp_path / "out.jsonl"
    with FakeOpenAIServer("safe") as server:
        args = f"base_url={server.base_url},model=m"
        argv = ["label", str(src), "--teacher", "openai-compatible", "--teacher-args", args]
        assert main([*argv, "--out", str(out), "--quiet"]) == 0
    assert "labelled 2 with openai-compatible" in capsys.readouterr().out
    assert [r["messages"][-1]["content"] for r in read_jsonl(out)] == ["safe", "safe"]


def test_resume_is_keyed_on_the_teacher_and_its_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    src, out = prompts_file(tmp_path, ["how to bake bread", "hi"]), tmp_path / "out.jsonl"
    monkeypatch.setenv("FAKE_TEACHER_KEY", "sk-secret-teacher-key-123")
    with FakeOpenAIServer("safe", api_key="sk-secret-teacher-key-123") as server:

        def label(args: str, *extra: str) -> int:
            argv = ["label", str(src), "--teacher", "openai-compatible", "--teacher-args"]
            argv += [f"base_url={server.base_url},api_key_env=FAKE_TEACHER_KEY,{args}"]
            return main([*argv, "--out", str(out), "--quiet", *extra])

        assert label("model=a") == 0
        capsys.readouterr()
        # the same teacher resumes (retry settings are not part of the key)
        assert label("model=a,max_attempts=3") == 0
        assert "skipped 2 prompts already labelled" in capsys.readouterr().out
        # other arguments refuse, naming both teachers and what to do
        assert label("model=b") == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"ftevals: error: {out}:1: labelled by openai-compatible (")
        assert "model=a" in err and "model=b" in err and "--overwrite" in err
        assert "--out" in err and len(err.splitlines()) == 1
        # so does another teacher
        argv = ["label", str(src), "--teacher", "ftevals/keyword-guard", "--out", str(out)]
        assert main([*argv, "--quiet"]) == 2
        assert "this run's teacher is ftevals/keyword-guard" in capsys.readouterr().err
        assert [r["metadata"]["teacher_args"]["model"] for r in read_jsonl(out)] == ["a", "a"]
        # --overwrite replaces the file with the new teacher's labels
        assert label("model=b", "--overwrite") == 0
        assert "replaced the earlier contents" in capsys.readouterr().out
    rows = read_jsonl(out)
    assert len(rows) == 2 and {r["metadata"]["teacher_args"]["model"] for r in rows} == {"b"}
    assert rows[0]["metadata"]["teacher_args"] == {
        "api_key_env": "FAKE_TEACHER_KEY",
        "base_url": server.base_url,
        "model": "b",
    }
    assert "sk-secret-teacher-key-123" not in out.read_text(encoding="utf-8")


def test_teacher_identity_leaves_out_retry_settings_and_secrets() -> None:
    args = {"model": "m", "max_attempts": "2", "timeout": 5, "api_key": "sk-1", "x_token": "t"}
    assert teacher_identity("t", args) == {"teacher": "t", "teacher_args": {"model": "m"}}


def test_rows_without_teacher_arguments_are_checked_by_name(tmp_path: Path) -> None:
    from ftevals.errors import FtevalsError

    src, out = prompts_file(tmp_path, ["a", "b"]), tmp_path / "out.jsonl"
    old = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "x"}]}
    out.write_text(json.dumps({**old, "metadata": {"teacher": "FakeTeacher"}}) + "\n")
    report = label_file(src, FakeTeacher(), out, teacher_args={"fail": "no"})
    assert (report.already_labelled, report.labelled) == (1, 1)
    with pytest.raises(FtevalsError, match="arguments not recorded"):
        label_file(src, FakeJudgeLike(), out)


class FakeJudgeLike(FakeTeacher):
    """Another teacher class: another name."""
