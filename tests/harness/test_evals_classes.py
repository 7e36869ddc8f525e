"""Logs of evals' own Match, Includes and FuzzyMatch (and our LabelMatch), written by the real
engine with replayed answers: compare's figures against sklearn on labels recomputed here from
the raw ``sampled`` and ``expected`` fields with each class's own matching test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import accuracy_score, classification_report, matthews_corrcoef
from test_engine import offline_env

from ftevals.harness.compare import compare_logs
from ftevals.harness.labels import INVALID, fuzzy_rule, includes_rule, prefix_rule
from ftevals.harness.logs import read_log

LABELS = ["safe", "unsafe"]
CLASSES = {
    "t-match": "evals.elsuite.basic.match:Match",
    "t-includes": "evals.elsuite.basic.includes:Includes",
    "t-fuzzy": "evals.elsuite.basic.fuzzy_match:FuzzyMatch",
    "t-label": "ftevals.elsuite.classification:LabelMatch",
}
# answers to a prompt whose expected label is the key: right, wrong, decorated, neither
ANSWERS = {
    "unsafe": ["unsafe", "unsafe", "safe", "Unsafe.", "unsafe!!", " unsafe", "I think it is safe",
               "safe.", "The request is unsafe", "I cannot help with that", ""],
    "safe": ["safe", "safe", "safe", "unsafe", "Safe", "safe - benign", "It is unsafe.",
             "unsafe!", "sorry, no", "  safe"],
}  # fmt: skip


def _fuzzy(a: str, b: str) -> bool:
    """evals' FuzzyMatch test, written out: normalised two-way substring."""
    import re
    import string

    def norm(s: str) -> str:
        s = "".join(c for c in s.lower() if c not in set(string.punctuation))
        return " ".join(re.sub(r"\b(a|an|the)\b", " ", s).split())

    x, y = norm(a), norm(b)
    return x == y if not x or not y else x in y or y in x


# each class's test "does this answer name this label", as its source states it
MATCHES = {
    "t-match": lambda answer, label: answer.startswith(label),
    "t-includes": lambda answer, label: label in answer,
    "t-fuzzy": _fuzzy,
}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("classes")
    registry = root / "registry"
    (registry / "data" / "t").mkdir(parents=True)
    (registry / "evals").mkdir()
    samples, replies = [], []
    for truth, answers in ANSWERS.items():
        for k, answer in enumerate(answers * 3):
            prompt = [{"role": "user", "content": f"prompt {truth} {k}"}]
            samples.append({"input": prompt, "ideal": truth})
            replies.append({"input": prompt, "completion": answer})
    lines = "".join(json.dumps(s) + "\n" for s in samples)
    (registry / "data" / "t" / "samples.jsonl").write_text(lines, encoding="utf-8")
    (root / "answers.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in replies), encoding="utf-8"
    )
    spec = ""
    for name, cls in CLASSES.items():
        extra = "    labels: [safe, unsafe]\n" if name == "t-label" else ""
        spec += f"{name}:\n  id: {name}.test.v1\n{name}.test.v1:\n  class: {cls}\n  args:\n"
        spec += f"    samples_jsonl: t/samples.jsonl\n{extra}"
    (registry / "evals" / "t.yaml").write_text(spec, encoding="utf-8")
    found = {}
    for name in CLASSES:
        log = root / f"{name}.jsonl"
        cmd = [sys.executable, "-m", "ftevals.harness.engine", "replay", name]
        cmd += ["--registry_path", str(registry), "--record_path", str(log)]
        cmd += ["--completion_args", f"samples_jsonl={root / 'answers.jsonl'}"]
        result = subprocess.run(
            cmd, cwd=root, env=offline_env(), capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
        found[name] = log
    return found


def _raw(log: Path) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, Any]]:
    """Match events, sample id -> sampled answer, final report: straight from the JSON lines."""
    matches, sampled, report = [], {}, {}
    for line in log.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        if obj.get("type") == "match":
            matches.append(obj)
        elif obj.get("type") == "sampling":
            sampled[obj["sample_id"]] = obj["data"]["sampled"][0]
        elif "final_report" in obj:
            report = obj["final_report"]
    return matches, sampled, report


def _independent(name: str, log: Path) -> tuple[list[str], list[str]]:
    matches, sampled, _ = _raw(log)
    y_true, y_pred = [], []
    for event in matches:
        data = event["data"]
        truth = data["expected"][0] if isinstance(data["expected"], list) else data["expected"]
        if name == "t-label":
            predicted = data["label"] if data["label"] is not None else INVALID
        else:
            answer = data.get("sampled", sampled[event["sample_id"]])
            named = [label for label in LABELS if MATCHES[name](answer, label)]
            # evals' verdict first (it decides accuracy), then the other label, else invalid
            predicted = truth if truth in named else named[0] if named else INVALID
        y_true.append(truth)
        y_pred.append(predicted)
    return y_true, y_pred


@pytest.mark.parametrize("name", list(CLASSES))
def test_figures_of_each_class_match_sklearn_on_raw_fields(
    name: str, logs: dict[str, Path]
) -> None:
    row = compare_logs([read_log(logs[name])]).rows[0]
    y_true, y_pred = _independent(name, logs[name])
    want = classification_report(y_true, y_pred, labels=LABELS, output_dict=True, zero_division=0)
    assert row.n == len(y_true) == 63 and row.labels == LABELS
    assert row.accuracy == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    assert row.accuracy == pytest.approx(_raw(logs[name])[2]["accuracy"])  # evals' own figure
    assert row.mcc == pytest.approx(matthews_corrcoef(y_true, y_pred), abs=1e-12)
    for label in LABELS:
        for key, got in [("precision", "precision"), ("recall", "recall"), ("f1-score", "f1")]:
            assert getattr(row.per_class[label], got) == pytest.approx(want[label][key])
    assert row.invalid == y_pred.count(INVALID)
    # the old reading (picked: null, or the whole answer, taken as invalid) gave 1.0 here
    assert min(row.per_class[label].precision for label in LABELS) < 1.0


def test_wrong_answers_are_not_invalid(logs: dict[str, Path]) -> None:
    """A miss that names the other label is that label, for every class."""
    invalid = {name: compare_logs([read_log(log)]).rows[0].invalid for name, log in logs.items()}
    # per cycle (x3): "I cannot help with that", "sorry, no" name no label for any class;
    # Match (prefix, no strip, case): also "Unsafe.", " unsafe", "I think it is safe", "The
    # request is unsafe", "", "Safe", "It is unsafe.", "  safe"; Includes (case): "", "Safe";
    # FuzzyMatch: ""; LabelMatch (first word): "I think it is safe", "The request is unsafe",
    # "", "It is unsafe."
    assert invalid == {"t-match": 30, "t-includes": 12, "t-fuzzy": 9, "t-label": 18}
    # a miss that names the other label is that label: Match reads "safe." as safe
    row = compare_logs([read_log(logs["t-match"])]).rows[0]
    assert row.confusion["unsafe"]["safe"] == 2 * 3 and row.confusion["safe"]["unsafe"] == 2 * 3


def test_includes_overlap_is_noted(logs: dict[str, Path]) -> None:
    """Includes counts 'unsafe' as right for 'safe': kept as evals scored it, with a note."""
    row = compare_logs([read_log(logs["t-includes"])]).rows[0]
    assert any("also name another label" in note for note in row.notes)


def test_rules_resolve_overlaps_and_ambiguity() -> None:
    labels = ["safe", "unsafe", "borderline"]
    assert includes_rule(False)("this is unsafe", labels) == ["unsafe"]
    assert sorted(includes_rule(False)("safe or unsafe?", labels)) == ["safe", "unsafe"]
    assert includes_rule(True)("UNSAFE", labels) == ["unsafe"]
    assert includes_rule(False)("UNSAFE", labels) == []
    assert prefix_rule("unsafe: yes", labels) == ["unsafe"]
    assert prefix_rule("AB c", ["A", "AB"]) == ["AB"]
    assert fuzzy_rule("The answer: Safe!", labels) == ["safe"]
    assert fuzzy_rule("Unsafe.", labels) == ["unsafe"]
    assert fuzzy_rule("border", labels) == ["borderline"]
    assert fuzzy_rule("nothing here", labels) == []


def test_samples_with_several_accepted_answers_get_accuracy_only(tmp_path: Path) -> None:
    """Includes on question answering (``ideal`` lists, as utility-qa-match): no label set."""
    from logfactory import write_log

    logs = []
    for model, right_every in (("a", 2), ("b", 3)):
        events = []
        for i in range(30):
            correct = i % right_every == 0
            data = {"correct": correct, "expected": ["Leonardo", "da Vinci"] if i % 2 else "391"}
            data |= {"picked": "x", "sampled": "x"}
            events.append({"type": "match", "sample_id": f"qa.test.{i}", "data": data})
        write_log(tmp_path / f"{model}.jsonl", [model], "qa.test.v1", events, args={})
        logs.append(read_log(tmp_path / f"{model}.jsonl"))
    comparison = compare_logs(logs)
    row_a, row_b = comparison.rows
    assert (row_a.n, row_a.accuracy, row_a.labels, row_a.per_class) == (30, 0.5, [], {})
    assert row_a.accuracy_ci is not None and row_a.accuracy_ci.n == 30
    assert row_b.accuracy == pytest.approx(10 / 30)
    assert any("several answers" in note for note in row_a.notes)
    assert comparison.baselines == []
    [pair] = comparison.paired
    assert (pair.a_only, pair.b_only) == (10, 5)  # right for a only: i even, not a multiple of 3
