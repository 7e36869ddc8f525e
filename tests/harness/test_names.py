"""Unknown model, eval and eval-set names stop ``ftevals run`` before any pair starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftevals.cli import main


def test_unknown_names_one_line_each_with_suggestions_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["run", "--evals", "my-safty,prompt-safety", "--eval-set", "safety-suit"]
    code = main(
        [*argv, "--models", "ftevals/minilm-safty,ftevals/keyword-guard", "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[0] == (
        "ftevals: error: unknown model 'ftevals/minilm-safty'; did you mean "
        "ftevals/minilm-safety, ftevals/smollm2-safety, ftevals/minilm-hazards?"
    )
    assert "unknown eval 'my-safty'; did you mean prompt-safety?" in lines
    assert "unknown eval set 'safety-suit'; did you mean safety-suite?" in lines
    assert lines[-1].startswith("(registries searched: ")
    assert len(lines) == 4  # nothing else: no traceback, no list of evals' built-in evals
    assert not out.exists()  # checked before the first pair


def test_known_names_pass_including_routed_and_builtin_ones() -> None:
    from ftevals.harness.names import check_names

    models = ["ftevals/keyword-guard", "openai/any-model", "dummy", "gpt-3.5-turbo"]
    check_names(models, ["prompt-safety", "prompt-safety.test.v1"], [], ["safety-suite"])


def test_a_name_from_a_users_registry_is_suggested(tmp_path: Path) -> None:
    from ftevals.harness.names import UnknownNames, check_names

    (tmp_path / "evals").mkdir()
    spec = "my-toxicity:\n  id: my-toxicity.v1\nmy-toxicity.v1:\n  class: x:Y\n  args: {}\n"
    (tmp_path / "evals" / "e.yaml").write_text(spec, encoding="utf-8")
    with pytest.raises(UnknownNames, match=r"unknown eval 'my-toxcity'; did you mean my-toxicity"):
        check_names([], ["my-toxcity"], [tmp_path])
