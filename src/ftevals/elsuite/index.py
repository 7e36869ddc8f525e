"""The registry index: generated tables of evals and eval sets in ``registry/README.md``.

``python -m ftevals.elsuite.index`` rewrites the part of the README between the markers
from the YAML files; ``--check`` exits 1 when the README is out of date (a test runs it).
Every eval is an alias (``name: {id: name.split.vN, description: ...}``) and a concrete
spec; the description is the one line shown.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ftevals.errors import FtevalsError
from ftevals.paths import project_registry

BEGIN = "<!-- BEGIN GENERATED INDEX (python -m ftevals.elsuite.index) -->"
END = "<!-- END GENERATED INDEX -->"

SCORING = {
    "ftevals.elsuite.classification:LabelMatch": "LabelMatch (strict normalised label)",
    "ftevals.elsuite.multilabel:MultiLabelMatch": "MultiLabelMatch (exact code set)",
    "ftevals.elsuite.modelgraded:JudgedClassify": "JudgedClassify (named judge)",
    "ftevals.elsuite.refusal:KeywordRefusal": "KeywordRefusal (refusal phrases)",
    "evals.elsuite.basic.match:Match": "evals' Match (prefix)",
    "evals.elsuite.modelgraded.classify:ModelBasedClassify": "evals' ModelBasedClassify",
}


@dataclass
class EvalEntry:
    """One eval of the index."""

    name: str
    concrete: str
    cls: str
    description: str
    samples: str | None
    spec: str | None
    count: int | None


def _load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise FtevalsError(f"{path}: top level must be a mapping")
    return loaded


def _count(data_dir: Path, samples: str | None) -> int | None:
    if samples is None:
        return None
    path = data_dir / samples
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def eval_entries(registry: Path) -> list[EvalEntry]:
    """Every aliased eval of ``registry/evals/*.yaml``, sorted by name."""
    entries = []
    for path in sorted((registry / "evals").glob("*.yaml")):
        specs = _load(path)
        for name, spec in specs.items():
            if not isinstance(spec, dict) or "id" not in spec:
                continue
            concrete = specs.get(spec["id"])
            if not isinstance(concrete, dict) or "class" not in concrete:
                raise FtevalsError(f"{path}: {name}: id {spec['id']!r} names no eval in the file")
            description = " ".join(str(spec.get("description") or "").split())
            if not description:
                raise FtevalsError(f"{path}: {name}: no description")
            args = concrete.get("args") or {}
            samples = args.get("samples_jsonl")
            entries.append(
                EvalEntry(
                    name=name,
                    concrete=str(spec["id"]),
                    cls=str(concrete["class"]),
                    description=description,
                    samples=samples,
                    spec=args.get("modelgraded_spec"),
                    count=_count(registry / "data", samples),
                )
            )
    return sorted(entries, key=lambda e: e.name)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(registry: Path) -> str:
    """The generated part of the README (between the markers, markers excluded)."""
    lines = [
        "| eval | concrete name | scoring | samples | judge spec | description |",
        "|---|---|---|---|---|---|",
    ]
    for e in eval_entries(registry):
        scoring = SCORING.get(e.cls, f"`{e.cls}`")
        samples = f"`{e.samples}` ({e.count})" if e.samples else "-"
        spec = f"`{e.spec}`" if e.spec else "-"
        cells = [f"`{e.name}`", f"`{e.concrete}`", scoring, samples, spec, _cell(e.description)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| eval set | evals |", "|---|---|"]
    for path in sorted((registry / "eval_sets").glob("*.yaml")):
        for name, spec in _load(path).items():
            evals = ", ".join(f"`{e}`" for e in (spec or {}).get("evals", []))
            lines.append(f"| `{name}` | {evals} |")
    return "\n".join(lines)


def updated_readme(readme: Path, registry: Path) -> str:
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise FtevalsError(f"{readme}: markers {BEGIN!r} and {END!r} not found")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{render(registry)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--registry", type=Path, default=project_registry())
    parser.add_argument("--check", action="store_true", help="exit 1 if the README is stale")
    args = parser.parse_args(argv)
    readme = args.registry / "README.md"
    try:
        new = updated_readme(readme, args.registry)
    except FtevalsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if readme.read_text(encoding="utf-8") == new:
        print(f"{readme} is up to date")
        return 0
    if args.check:
        print(f"{readme} is out of date: run python -m ftevals.elsuite.index", file=sys.stderr)
        return 1
    readme.write_text(new, encoding="utf-8")
    print(f"updated {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
