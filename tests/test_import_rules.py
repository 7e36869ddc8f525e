"""The import rules of src/ftevals (DEVELOPERS.md, "Import rules"), checked on the AST.

Every ``import`` and ``from ... import`` of every module counts, at module level and inside
functions, classes, ``try`` and ``if`` blocks alike; only the bodies of ``if TYPE_CHECKING:``
(annotations, never run) are left out. Each module belongs to a *part*: its subpackage
(``ftevals.training.loop`` -> ``training``) or, at the top, its own name (``ftevals.jsonl`` ->
``jsonl``; ``ftevals/__init__.py`` -> ``ftevals``). What is checked:

* the forbidden edges of :data:`FORBIDDEN` (part -> parts it must not import);
* the ground (:data:`GROUND`) imports nothing of ftevals outside the ground;
* the runtime imports nothing but the ground and itself;
* nobody outside ``cli`` imports ``cli``;
* the graph of parts (every import above, function-level ones included) has no cycle.

The checker runs on the real tree and, to prove it can fail, on small planted trees.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "ftevals"

GROUND = frozenset({"jsonl", "errors", "paths", "pricing", "evals_compat", "extras"})
FORBIDDEN: dict[str, frozenset[str]] = {
    "completion_fns": frozenset({"training", "harness", "cli"}),
    "training": frozenset({"completion_fns", "harness", "experiments"}),
    "serve": frozenset({"completion_fns"}),
    "converters": frozenset({"training", "harness", "serve"}),
    # experiments (ftevals sweep) stand above training and the harness
    "harness": frozenset({"training", "experiments"}),
}
#: The runtime stands on the ground only (no evals, no trainer, no harness).
RUNTIME_MAY_IMPORT = GROUND | {"runtime"}


@dataclass(frozen=True)
class Edge:
    """One import of ftevals code: who imports what, where."""

    source: str  # importing module, dotted
    target: str  # imported module (or package), dotted
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.source} imports {self.target}"


def module_name(root: Path, file: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def part_of(module: str) -> str:
    """``ftevals.training.loop`` -> ``training``; ``ftevals.jsonl`` -> ``jsonl``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except what sits under ``if TYPE_CHECKING:`` (its ``else`` still counts)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _exists(root: Path, dotted: str) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports(root: Path, package: str = PACKAGE) -> list[Edge]:
    """Every import of ``package`` code by ``package`` modules under ``root``."""
    edges: list[Edge] = []
    for file in sorted((root / package).rglob("*.py")):
        source = module_name(root, file)
        is_package = file.name == "__init__.py"
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        for node in _nodes(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against this module's package
                    anchor = source.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                else:
                    base = node.module or ""
                # `from pkg import mod` imports the module pkg.mod when there is one
                subs = [f"{base}.{a.name}" for a in node.names if _exists(root, f"{base}.{a.name}")]
                targets = subs or [base]
            for target in targets:
                if target == package or target.startswith(package + "."):
                    edges.append(Edge(source, target, file, getattr(node, "lineno", 0)))
    return edges


def violations(edges: list[Edge]) -> list[str]:
    """Broken rules, one line each (file:line: who imports what: which rule)."""
    found: list[str] = []
    for edge in edges:
        src, dst = part_of(edge.source), part_of(edge.target)
        if src == dst:
            continue
        if dst in FORBIDDEN.get(src, frozenset()):
            found.append(f"{edge}: {src} must not import {dst}")
        if src in GROUND and dst not in GROUND:
            found.append(f"{edge}: the ground ({src}) imports nothing above it")
        if src == "runtime" and dst not in RUNTIME_MAY_IMPORT:
            found.append(f"{edge}: the runtime imports only the ground")
        if dst == "cli":
            found.append(f"{edge}: nobody imports cli")
    return found


def part_cycles(edges: list[Edge]) -> list[list[str]]:
    """Cycles of the graph of parts (one per strongly connected component of 2+ parts)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        src, dst = part_of(edge.source), part_of(edge.target)
        graph.setdefault(src, set())
        graph.setdefault(dst, set())
        if src != dst and dst != PACKAGE:  # `import ftevals` alone is the root package
            graph[src].add(dst)
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def cycle_edges(edges: list[Edge], component: list[str]) -> list[str]:
    members = set(component)
    return [
        str(e)
        for e in edges
        if part_of(e.source) in members
        and part_of(e.target) in members
        and part_of(e.source) != part_of(e.target)
    ]


# --- the real tree ---------------------------------------------------------------------------


def test_the_source_tree_keeps_the_import_rules() -> None:
    edges = imports(SRC)
    assert len(edges) > 100  # the walk found the package's imports
    broken = violations(edges)
    assert not broken, "\n".join(broken)


def test_the_parts_import_each_other_without_cycles() -> None:
    edges = imports(SRC)
    cycles = part_cycles(edges)
    details = [f"{' <-> '.join(c)}:\n  " + "\n  ".join(cycle_edges(edges, c)) for c in cycles]
    assert not cycles, "\n".join(details)


def test_function_level_imports_are_seen_in_the_real_tree() -> None:
    # serve/backend.py loads the runtime inside LocalBackend.load
    edges = imports(SRC)
    assert any(
        e.source == "ftevals.serve.backend" and e.target == "ftevals.runtime.causal" for e in edges
    )


# --- planted trees: the checker fails where it must --------------------------------------------


def plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"ftevals/__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            init = root / parent / "__init__.py"
            if parent != Path(".") and not init.exists():
                init.write_text("", encoding="utf-8")
        path.write_text(text, encoding="utf-8")
    return root


def test_a_function_level_violation_is_caught(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "ftevals/training/loop.py": "",
            "ftevals/completion_fns/fn.py": (
                "def load():\n    from ftevals.training import loop\n    return loop\n"
            ),
        },
    )
    broken = violations(imports(root))
    assert len(broken) == 1
    assert "fn.py:2: ftevals.completion_fns.fn imports ftevals.training.loop" in broken[0]
    assert "completion_fns must not import training" in broken[0]


def test_type_checking_imports_are_exempt_but_their_else_is_not(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "ftevals/completion_fns/base.py": "",
            "ftevals/serve/backend.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from ftevals.completion_fns.base import X\n"
                "else:\n"
                "    import ftevals.completion_fns.base\n"
            ),
        },
    )
    broken = violations(imports(root))
    assert [b.split(": ", 1)[0] for b in broken] == [f"{root}/ftevals/serve/backend.py:5"]


@pytest.mark.parametrize(
    ("files", "rule"),
    [
        ({"ftevals/jsonl.py": "from ftevals.runtime import meta\n"}, "the ground (jsonl)"),
        ({"ftevals/evals_compat.py": "from . import harness\n"}, "the ground (evals_compat)"),
        ({"ftevals/runtime/meta.py": "import ftevals.training\n"}, "the runtime imports only"),
        ({"ftevals/harness/run.py": "from ftevals.cli import main\n"}, "nobody imports cli"),
        ({"ftevals/converters/x.py": "from ..serve import app\n"}, "converters must not"),
        ({"ftevals/training/x.py": "from ftevals import harness\n"}, "training must not"),
    ],
)
def test_each_rule_fails_on_a_planted_import(
    tmp_path: Path, files: dict[str, str], rule: str
) -> None:
    for module in ("runtime/meta", "harness/__init__", "serve/app", "cli/__init__", "training/x"):
        files = {f"ftevals/{module}.py": "", **files}
    root = plant(tmp_path, files)
    broken = violations(imports(root))
    assert len(broken) == 1 and rule in broken[0], broken


def test_a_cycle_through_function_level_imports_is_found(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "ftevals/harness/run.py": "from ftevals.review import store\n",
            "ftevals/review/store.py": "def f():\n    import ftevals.harness.run\n",
            "ftevals/recipes/a.py": "import ftevals.jsonl\n",
            "ftevals/jsonl.py": "",
        },
    )
    edges = imports(root)
    assert not violations(edges)
    assert part_cycles(edges) == [["harness", "review"]]
    assert any("store.py:2" in line for line in cycle_edges(edges, ["harness", "review"]))
