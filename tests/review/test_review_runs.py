"""Run outcomes beside the rows of the samples file they came from."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_data import MINI, read_jsonl, write_jsonl, write_log

from ftevals.review.runs import load_run, prompt_matches
from ftevals.review.store import Edit
from ftevals.review.workspace import Workspace


def test_real_run_outcomes_and_workspace(mini_copy: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, samples = mini_copy
    (log,) = load_run(run_dir)
    assert log.model == "ftevals/keyword-guard" and log.samples_path == samples
    truth = {
        i: "correct" if ideal == answer else "wrong" for i, (_, ideal, answer) in enumerate(MINI)
    }
    assert {i: o.status for i, o in log.outcomes.items()} == truth
    wrong = log.outcomes[4]
    assert (wrong.expected, wrong.answer, wrong.picked) == ("unsafe", "safe", "safe")
    assert [o.index for o in log.select("failures")] == [1, 3, 4]

    train = write_jsonl(tmp_path / "train.jsonl", [])
    space = Workspace(train, fmt="chat", run_dir=run_dir)
    (key,) = space.logs
    doc_key = space.log_doc[key]
    page = space.rows(doc_key, log_key=key, outcome="wrong")
    assert [r["line"] for r in page["rows"]] == [2, 4, 5]
    assert {r["outcome"] for r in page["rows"]} == {"wrong"} and page["unmatched"] == 0
    goldfish = page["rows"][2]["id"]
    detail = space.row(doc_key, goldfish, key)
    assert detail["outcome"]["answer"] == "safe" and detail["prompt_matches"] is True

    # fix the ideal: the samples file changes on disk, the other samples stay as they were
    messages = [*detail["messages"][:-1], {"role": "assistant", "content": "safe"}]
    space.doc(doc_key).save([Edit(goldfish, detail["rev"], messages)])
    fixed = read_jsonl(samples)
    assert fixed[4]["ideal"] == "safe" and fixed[4]["input"] == detail["messages"][:-1]
    assert [s["ideal"] for s in fixed[:4]] == [ideal for _, ideal, _ in MINI[:4]]
    # a deleted row leaves its outcome without a row: counted, not hidden
    space.doc(doc_key).save([Edit(page["rows"][0]["id"], 0, None)])
    assert space.rows(doc_key, log_key=key, outcome="wrong")["unmatched"] == 1


def test_changed_samples_file_is_flagged(mini_copy: tuple[Path, Path]) -> None:
    run_dir, samples = mini_copy
    rows = read_jsonl(samples)
    rows[1]["input"][1]["content"] = "A different prompt now"
    write_jsonl(samples, rows)
    space = Workspace(samples, run_dir=run_dir)
    (key,) = space.logs
    assert space.log_doc[key] == "main"  # the file under review is the samples file
    by_line = space.doc("main").by_line()
    assert space.row("main", by_line[2].id, key)["prompt_matches"] is False
    assert space.row("main", by_line[1].id, key)["prompt_matches"] is True
    assert prompt_matches(None, rows[0]["input"]) is None


def test_synthetic_logs_invalid_failed_and_judges_disagreeing(tmp_path: Path) -> None:
    registry = tmp_path / "reg"
    samples = [{"input": [{"role": "user", "content": f"prompt {i}"}]} for i in range(4)]
    write_jsonl(registry / "data" / "g" / "s.jsonl", samples)
    args = {"samples_jsonl": "g/s.jsonl"}
    run = tmp_path / "run"

    def graded(name: str, judge: str, choices: list[str]) -> None:
        events = [
            ("sampling", i, {"prompt": samples[i]["input"], "sampled": [f"answer {i}"]})
            for i in range(4)
        ]
        events += [
            ("metrics", i, {"choice": c, "judge": judge, "verdict": f"... {c}"})
            for i, c in enumerate(choices)
        ]
        write_log(run / name, "m", "g.test.v1", events, args, registry)

    graded("a.jsonl", "judge-a", ["Y", "N", "__invalid__", "Y"])
    graded("b.jsonl", "judge-b", ["Y", "Y", "N", "Y"])
    match = [
        ("match", 0, {"correct": True, "expected": "safe", "picked": "safe", "sampled": "safe"}),
        ("match", 1, {"correct": False, "expected": "safe", "picked": None, "sampled": "hm"}),
        (
            "match",
            2,
            {
                "correct": False,
                "expected": "x",
                "picked": None,
                "failed": True,
                "error": "HTTP 503",
            },
        ),
        ("match", 99, {"correct": False, "expected": "safe", "picked": "unsafe", "sampled": "u"}),
    ]
    match.append(("sampling", None, {"prompt": "no sample id", "sampled": ["x"]}))
    write_log(run / "c.jsonl", "m2", "g.test.v1", match, args, registry)
    write_log(run / "d.jsonl", "m3", "h.test.v1", [], {"samples_jsonl": "nope.jsonl"}, registry)
    logs = {log.path.name: log for log in load_run(run)}
    a, b, c, d = logs["a.jsonl"], logs["b.jsonl"], logs["c.jsonl"], logs["d.jsonl"]
    assert a.judge == "judge-a" and a.outcomes[0].answer == "answer 0"
    assert [o.index for o in a.select("disagree")] == [1]
    assert a.outcomes[1].judges == {"judge-a": "N", "judge-b": "Y"} == b.outcomes[1].judges
    assert [o.index for o in a.select("invalid")] == [2] and b.select("invalid") == []
    assert c.select("disagree") == []  # another model: not a judge disagreement
    assert {i: o.status for i, o in c.outcomes.items()} == {
        0: "correct",
        1: "invalid",
        2: "failed",
        99: "wrong",
    }
    assert c.outcomes[2].error == "HTTP 503"
    assert c.unindexed == 1  # an event without a sample index is counted, not shown
    assert d.samples_path is None and "nope.jsonl not found" in str(d.problem)
    space = Workspace(registry / "data" / "g" / "s.jsonl", run_dir=run)
    key = next(k for k, log in space.logs.items() if log.path.name == "c.jsonl")
    page = space.rows("main", log_key=key, outcome="wrong")
    assert page["total"] == 0 and page["unmatched"] == 1  # sample 99 has no row
    with pytest.raises(ValueError, match="unknown outcome filter"):
        space.rows("main", log_key=key, outcome="bogus")
