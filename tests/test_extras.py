"""Extras: the core imports none of their packages at module level, pyproject lists them, and a
missing one is a one-line error naming the extra (absence simulated with ``sys.modules[name] =
None``, which makes both ``import`` and ``find_spec`` fail as for an uninstalled package)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ftevals import extras
from ftevals.errors import FtevalsError

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "ftevals"

HEAVY = {
    "torch", "transformers", "peft", "onnx", "onnxruntime", "accelerate", "gguf", "safetensors",
    "tokenizers", "huggingface_hub", "fastapi", "uvicorn", "starlette", "matplotlib",
    "langchain_core", "langchain_openai", "pandas",
}  # fmt: skip
"""Packages no module may import at module level (slow, or absent from the core install)."""

EXTRA_MODULES = {"review/app.py": {"fastapi"}, "serve/app.py": {"fastapi"}}
"""Modules of an extra that import its packages at module level; their commands call
``extras.require`` before importing them."""

DISTRIBUTIONS = {"langchain_core": "langchain-core"}
"""Import name -> distribution name where they differ."""


def _module_level_imports(tree: ast.Module) -> set[str]:
    """Top-level packages imported outside functions and ``if TYPE_CHECKING:`` blocks."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit_else(child)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name.split(".")[0] for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.add(child.module.split(".")[0])
            visit(child)

    def visit_else(node: ast.If) -> None:
        for child in node.orelse:
            visit(ast.Module(body=[child], type_ignores=[]))

    visit(tree)
    return found


def test_no_module_imports_a_heavy_package_at_module_level() -> None:
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        heavy = _module_level_imports(ast.parse(path.read_text(encoding="utf-8"))) & HEAVY
        heavy -= EXTRA_MODULES.get(rel, set())
        if heavy:
            offenders[rel] = sorted(heavy)
    assert offenders == {}


def test_the_ast_check_sees_module_level_imports() -> None:
    code = (
        "import os\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n"
        "try:\n    import matplotlib.pyplot\nexcept ImportError:\n    pass\n"
        "class A:\n    from fastapi import FastAPI\n"
        "def f():\n    import peft\n"
    )
    assert _module_level_imports(ast.parse(code)) == {"os", "typing", "matplotlib", "fastapi"}


def _pyproject() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups: dict[str, list[str]] = {"core": project["dependencies"]}
    groups.update(project["optional-dependencies"])
    return groups


def _names(requirements: list[str]) -> set[str]:
    """Distribution names of requirement strings (``ftevals[local]`` -> ``ftevals[local]``)."""
    out = set()
    for req in requirements:
        name = req.split(";")[0].strip()
        for sep in ("<", ">", "=", "!", "~", " "):
            name = name.split(sep)[0]
        out.add(name.lower())
    return out


def test_pyproject_core_has_no_extra_package_and_every_extra_lists_its_own() -> None:
    groups = _pyproject()
    core = _names(groups["core"])
    assert not core & {"torch", "transformers", "peft", "accelerate", "onnxruntime", "fastapi"}
    assert not core & {"uvicorn", "langchain-core", "langchain-openai", "gguf", "onnx"}
    assert "matplotlib" not in core and "pandas" not in core
    for extra, modules in extras.EXTRAS.items():
        assert extra in groups, extra
        names = set(_names(groups[extra]))
        for ref in [n for n in names if n.startswith("ftevals[")]:  # ftevals[local] etc.
            for inner in ref.removeprefix("ftevals[").rstrip("]").split(","):
                names |= _names(groups[inner])
        for module in modules:
            assert DISTRIBUTIONS.get(module, module) in names, (extra, module)
    everything = _names(groups["all"])
    assert everything == {"ftevals[local,train,serve,review,langchain,plots,analysis]"}
    assert "ftevals[all]" in _names(groups["dev"])


@pytest.mark.parametrize("extra", sorted(extras.EXTRAS))
def test_require_names_the_extra_in_one_line(extra: str, monkeypatch: pytest.MonkeyPatch) -> None:
    extras.require(extra, "x")  # everything is installed here
    module = extras.EXTRAS[extra][0]
    monkeypatch.setitem(sys.modules, module, None)
    assert not extras.installed(module)
    with pytest.raises(FtevalsError) as caught:
        extras.require(extra, "the thing")
    message = str(caught.value)
    assert message == (
        f"the thing needs the '{extra}' extra ({module} not installed): "
        f"pip install 'ftevals[{extra}]'"
    )


def test_require_checks_the_given_modules_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    extras.require("local", "torch backend")  # onnxruntime is not among local's defaults
    with pytest.raises(FtevalsError, match=r"\(onnxruntime not installed\)"):
        extras.require("local", "onnx backend", "onnx", "onnxruntime")


def _cli(absent: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = (
        f"import sys; sys.modules[{absent!r}] = None\n"
        "from ftevals.cli import main\n"
        f"sys.exit(main({args!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("absent", "args", "extra", "what"),
    [
        ("fastapi", ["review", "data.jsonl"], "review", "ftevals review"),
        ("torch", ["serve", "--model", "minilm"], "serve", "ftevals serve"),
        ("transformers", ["validate", "data.jsonl", "--model", "minilm"], "local", None),
        ("peft", ["calibrate", "adapter"], "local", "ftevals calibrate"),
        ("matplotlib", ["compare", "data.jsonl", "--html", "r.html"], "plots", "compare --html"),
    ],
)
def test_cli_missing_extra_is_one_line_and_exit_2(
    absent: str, args: list[str], extra: str, what: str | None, tmp_path: Path
) -> None:
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]}
    (tmp_path / "data.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}", encoding="utf-8")
    result = _cli(absent, args, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("ftevals: error: " + (what or ""))
    assert lines[0].endswith(f"needs the '{extra}' extra ({absent} not installed): "
                             f"pip install 'ftevals[{extra}]'")  # fmt: skip


@pytest.mark.parametrize(
    ("absent", "build", "extra"),
    [
        ("torch", "hf_classifier:HFClassifierCompletionFn(adapter='a')", "local"),
        ("onnxruntime", "hf_classifier:HFClassifierCompletionFn(adapter='a', backend='onnx')", ""),
        ("torch", "hf_causal:HFCausalCompletionFn(model='smollm2-135m')", "local"),
        ("langchain_core", "langchain_fn:LangChainCompletionFn(llm='x.Y')", "langchain"),
    ],
)
def test_completion_function_missing_extra(absent: str, build: str, extra: str) -> None:
    module, call = build.split(":")
    code = (
        f"import sys; sys.modules[{absent!r}] = None\n"
        "from ftevals.errors import FtevalsError\n"
        f"from ftevals.completion_fns import {module}\n"
        f"try:\n    {module}.{call}\nexcept FtevalsError as exc:\n    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    expected = f"({absent} not installed): pip install 'ftevals[{extra or 'local'}]'"
    assert lines[0].endswith(expected)
