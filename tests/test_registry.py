"""Every YAML under registry/ loads through evals' own Registry and points at real things."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from ftevals import evals_compat
from ftevals.paths import project_registry

REGISTRY = project_registry()
KINDS = ("evals", "completion_fns", "eval_sets", "modelgraded")


def our_keys(kind: str) -> set[str]:
    keys: set[str] = set()
    for path in sorted((REGISTRY / kind).glob("*.yaml")):
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        assert isinstance(loaded, dict), f"{path}: top level must be a mapping"
        keys |= set(loaded)
    return keys


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    reg = evals_compat.registry_class()()
    reg.add_registry_paths([str(REGISTRY)])
    return reg


def test_registry_files_are_yaml_not_yml() -> None:
    for kind in KINDS:
        assert not list((REGISTRY / kind).glob("*.yml")), f"evals ignores .yml files in {kind}/"


def test_every_yaml_loads_through_evals(registry) -> None:  # type: ignore[no-untyped-def]
    loaded = {
        "evals": registry._evals,
        "completion_fns": registry._completion_fns,
        "eval_sets": registry._eval_sets,
        "modelgraded": registry._modelgraded_specs,
    }
    for kind in KINDS:
        missing = our_keys(kind) - set(loaded[kind])
        assert not missing, f"{kind}: not loaded by evals: {missing}"


def test_evals_resolve_with_existing_class_and_data(registry) -> None:  # type: ignore[no-untyped-def]
    names = our_keys("evals")
    assert "prompt-safety" in names
    for name in names:
        spec = registry.get_eval(name)
        assert spec is not None, name
        assert len(spec.key.split(".")) >= 2, f"{name}: concrete name must be base.split[.version]"
        module, _, cls = spec.cls.partition(":")
        assert hasattr(importlib.import_module(module), cls), spec.cls
        samples = (spec.args or {}).get("samples_jsonl")
        if samples:
            path = (REGISTRY / "data" / samples).resolve()
            assert path.is_file(), f"{name}: {samples} missing"
            assert REGISTRY / "data" in path.parents, f"{name}: data outside the registry"


def test_completion_fn_classes_import(registry) -> None:  # type: ignore[no-untyped-def]
    for name in our_keys("completion_fns"):
        spec = registry.get_completion_fn(name)
        assert spec is not None, name
        module, _, cls = spec.cls.partition(":")
        target = getattr(importlib.import_module(module), cls)
        assert callable(target)


def test_eval_sets_name_existing_evals(registry) -> None:  # type: ignore[no-untyped-def]
    for name in our_keys("eval_sets"):
        spec = registry.get_eval_set(name)
        assert spec is not None
        for eval_name in spec.evals:
            assert list(registry.get_evals([eval_name])), f"{name}: {eval_name} unknown"


def test_committed_samples_match_the_split(tmp_path: Path) -> None:
    """registry/data/prompt-safety is exactly what `ftevals convert` makes from the data."""
    from ftevals.converters import convert_file

    root = REGISTRY.parent
    convert_file(
        root / "data/prompt-safety/prompts.jsonl", to="chat", out=tmp_path / "split", split=0.3
    )
    convert_file(tmp_path / "split/test.jsonl", to="samples", out=tmp_path / "samples.jsonl")
    committed = REGISTRY / "data/prompt-safety/test.v1.jsonl"
    assert (tmp_path / "samples.jsonl").read_bytes() == committed.read_bytes()
