"""Registry files read as plain data and checked, and data paths kept inside the registries.

evals reads registry YAML with ``yaml.safe_load`` and reports problems as tracebacks (a
``ScannerError`` for broken YAML, a ``TypeError`` for an unknown key or a spec that is not a
mapping), late (a wrong argument type when a sample is scored) or not at all: an alias that
names itself loops forever, and ``samples_jsonl`` may name any file the process can read
(``../../etc/passwd``, an absolute path, a file in the working directory, a URL).

``ftevals run`` calls :func:`check_run` before it starts anything: every YAML file of its
registries is read with a size limit and no tags beyond plain YAML (so ``!!python/...`` runs
nothing), every spec must be a mapping with known keys, and each eval to run is resolved and
its data files are checked: inside the ``data/`` folder of one of the run's registries, present,
and valid JSONL. Each problem is one :class:`~ftevals.errors.InputError` naming file:line.

The engine checks again when it builds an eval (:func:`check_eval_class`, :func:`confined`):
the class must be an evals ``Eval``, its args known to it and of the types it declares, and its
data paths are resolved inside the registries only (never against the working directory).
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ftevals.errors import InputError

MAX_YAML_BYTES = 4 * 1024 * 1024
KINDS = ("evals", "eval_sets", "completion_fns", "solvers", "modelgraded")
RESERVED = ("key", "group", "cls")  # evals sets these itself and refuses them in files
EVAL_KEYS = ("class", "args")
ALIAS_KEYS = ("id", "metrics", "description", "disclaimer", "higher_is_better")
KEYS = {"completion_fns": ("class", "args"), "solvers": ("class", "args"), "eval_sets": ("evals",)}
DATA_SUFFIX = "_jsonl"  # eval args that name data files (samples_jsonl, few_shot_jsonl, ...)
CLASS_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass
class Entry:
    """One named spec of a registry file, with the lines of its keys and args."""

    name: str
    spec: Any
    path: Path
    line: int
    registry: Path
    lines: dict[str, int] = field(default_factory=dict)  # "class", "args.samples_jsonl", ...

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)

    def error(self, message: str, key: str | None = None) -> InputError:
        where = self.line if key is None else self.line_of(key)
        return InputError(self.path, f"{self.name}: {message}", where)


def _yaml_error(path: Path, exc: yaml.MarkedYAMLError) -> InputError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = str(exc.problem or "")
    tag = re.search(r"for the tag '([^']+)'", problem)
    if tag:
        shown = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        msg = f"YAML tag {shown} is not allowed: registry files are plain data, nothing is run"
        return InputError(path, msg, line)
    context = f"{exc.context}: " if exc.context else ""
    column = f" (column {mark.column + 1})" if mark is not None else ""
    return InputError(path, f"invalid YAML: {context}{problem}{column}", line)


def _key_lines(node: yaml.Node) -> dict[str, int]:
    lines: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode):
            lines[str(key.value)] = key.start_mark.line + 1
            if key.value == "args" and isinstance(value, yaml.MappingNode):
                for arg, _ in value.value:
                    if isinstance(arg, yaml.ScalarNode):
                        lines[f"args.{arg.value}"] = arg.start_mark.line + 1
    return lines


def read_registry_file(path: Path, registry: Path) -> dict[str, Entry]:
    """The entries of one registry YAML file, read as plain data; errors name file:line."""
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            msg = f"{size} bytes, more than the {MAX_YAML_BYTES} a registry file may have"
            raise InputError(path, msg)
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or type(exc).__name__})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(path, f"not valid UTF-8 ({exc.reason})", line) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        loaded = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(path, exc) from None
    except yaml.YAMLError as exc:
        raise InputError(path, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if node is None or loaded is None:
        return {}
    if not isinstance(node, yaml.MappingNode) or not isinstance(loaded, dict):
        msg = "top level must be a mapping of names to specs"
        raise InputError(path, msg, node.start_mark.line + 1)
    first: dict[str, int] = {}
    specs: dict[str, yaml.Node] = {}
    for key, value in node.value:
        line = key.start_mark.line + 1
        if not isinstance(key, yaml.ScalarNode) or not isinstance(key.value, str):
            raise InputError(path, "entry names must be plain strings", line)
        if key.value in first:
            msg = f"duplicate entry {key.value!r} (first at line {first[key.value]})"
            raise InputError(path, msg, line)
        first[key.value], specs[key.value] = line, value
    entries = {}
    for name, spec in loaded.items():
        if not isinstance(name, str):
            raise InputError(path, f"entry name {name!r} is not a string")
        node_of = specs.get(name)
        lines = _key_lines(node_of) if node_of is not None else {}
        entries[name] = Entry(name, spec, path, first.get(name, 1), registry, lines)
    return entries


def _files(registry: Path, kind: str) -> list[Path]:
    where = registry / kind
    if where.is_dir():
        return sorted(where.glob("*.yaml"))
    return [where] if where.is_file() else []


def load_registries(registries: Iterable[Path]) -> dict[str, dict[str, Entry]]:
    """Every entry of every kind (``evals``, ``completion_fns``, ...) of the registries.

    Each spec must be a mapping without evals' reserved keys, as evals needs to load it; the
    keys of completion functions, solvers and eval sets are checked here, eval specs by
    :func:`resolve_eval`. A name defined twice (in one registry or across them) is an error.
    """
    loaded: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
    for registry in registries:
        for kind in KINDS:
            for path in _files(registry, kind):
                for name, entry in read_registry_file(path, registry).items():
                    if name in loaded[kind]:
                        other = loaded[kind][name]
                        msg = f"defined again (first in {other.path}:{other.line})"
                        raise entry.error(msg)
                    _check_spec(entry, kind)
                    loaded[kind][name] = entry
    return loaded


def _check_spec(entry: Entry, kind: str) -> None:
    if not isinstance(entry.spec, dict):
        got = "nothing" if entry.spec is None else type(entry.spec).__name__
        raise entry.error(f"a spec must be a mapping, got {got}")
    for key in RESERVED:
        if key in entry.spec:
            raise entry.error(f"{key!r} is reserved by evals and cannot be set", key)
    known = KEYS.get(kind)
    if known is not None:
        _known_keys(entry, known)
        if "class" in known:
            _class_ref(entry)
            _mapping_or_none(entry, "args")
    if kind == "eval_sets":
        evals = entry.spec.get("evals")
        if not isinstance(evals, list) or not all(isinstance(e, str) for e in evals):
            raise entry.error("'evals' must be a list of eval names", "evals")


def _known_keys(entry: Entry, known: Sequence[str]) -> None:
    for key in entry.spec:
        if key not in known:
            msg = f"unknown key {key!r} (this kind of spec has: {', '.join(known)})"
            raise entry.error(msg, str(key))


def _class_ref(entry: Entry) -> None:
    ref = entry.spec.get("class")
    if ref is None:
        raise entry.error("no 'class' (module.path:ClassName)")
    if not isinstance(ref, str) or not CLASS_REF.match(ref):
        raise entry.error(f"'class' must be module.path:ClassName, got {ref!r}", "class")


def _mapping_or_none(entry: Entry, key: str) -> None:
    value = entry.spec.get(key)
    if value is not None and not isinstance(value, dict):
        msg = f"{key!r} must be a mapping, got {type(value).__name__}"
        raise entry.error(msg, key)


def resolve_eval(evals: dict[str, Entry], name: str) -> Entry | None:
    """The concrete spec an eval name leads to (through ``id`` aliases), checked; None when no
    registry here defines the name (evals' own registry may: evals reports it then)."""
    entry = evals.get(name)
    if entry is None:
        return None
    seen: list[str] = []
    while "id" in entry.spec:
        _known_keys(entry, ALIAS_KEYS)
        _alias_types(entry)
        seen.append(entry.name)
        target = entry.spec["id"]
        if target in seen:
            raise entry.error(f"'id' {target!r} loops back: {' -> '.join([*seen, target])}", "id")
        if target not in evals:
            raise entry.error(f"'id' {target!r} names no eval in the registries", "id")
        entry = evals[target]
    _known_keys(entry, EVAL_KEYS)
    _class_ref(entry)
    _mapping_or_none(entry, "args")
    if len(entry.name.split(".")) < 2:
        raise entry.error("a concrete eval name must be <base>.<split>[.<version>]")
    return entry


def _alias_types(entry: Entry) -> None:
    types: dict[str, tuple[type, ...]] = {
        "id": (str,),
        "description": (str,),
        "disclaimer": (str,),
        "higher_is_better": (bool,),
    }
    for key, allowed in types.items():
        value = entry.spec.get(key)
        if value is not None and not isinstance(value, allowed):
            msg = f"{key!r} must be {allowed[0].__name__}, got {type(value).__name__}"
            raise entry.error(msg, key)
    metrics = entry.spec.get("metrics")
    if metrics is not None and not (
        isinstance(metrics, list) and all(isinstance(m, str) for m in metrics)
    ):
        raise entry.error("'metrics' must be a list of names", "metrics")


def data_roots(registries: Iterable[str | Path]) -> list[Path]:
    """The ``data/`` folders data files may be read from: one per registry."""
    return [(Path(r) / "data").resolve() for r in registries]


def confined(value: str, registry: str | Path, roots: Sequence[Path]) -> Path:
    """Where a data arg of an eval of ``registry`` points (relative to its ``data/`` folder).

    Raises ValueError when it is a URL or resolves (after ``..`` and symbolic links) outside
    every root; evals' own resolution would also try the working directory and remote URLs.
    """
    if "://" in value:
        raise ValueError(f"{value!r} is a URL; data files must be inside a registry's data/")
    base = (Path(registry) / "data").resolve()
    path = (base / value).resolve()  # an absolute value replaces the base
    if not any(path == root or path.is_relative_to(root) for root in roots):
        raise ValueError(
            f"{value!r} resolves to {path}, outside the data folders of the registries "
            f"({', '.join(str(r) for r in roots)})"
        )
    return path


def check_eval_data(entry: Entry, roots: Sequence[Path]) -> None:
    """Each data arg of a concrete eval: a path inside the roots, present, valid JSONL with at
    least one row."""
    from ftevals.jsonl import iter_jsonl

    for arg, value in (entry.spec.get("args") or {}).items():
        if not isinstance(arg, str) or not arg.endswith(DATA_SUFFIX):
            continue
        key = f"args.{arg}"
        if not isinstance(value, str):
            raise entry.error(f"{arg} must be a path, got {type(value).__name__}", key)
        try:
            path = confined(value, entry.registry, roots)
            if path.is_dir():  # evals reads every *.jsonl in it
                found = sorted(path.glob("*.jsonl"))
                files = [confined(str(p), entry.registry, roots) for p in found]
            else:
                files = [path] if path.is_file() else []
        except ValueError as exc:
            raise entry.error(f"{arg}: {exc}", key) from None
        if not files:
            raise entry.error(f"{arg}: {value!r} not found in {entry.registry / 'data'}", key)
        rows = sum(1 for file in files for _ in iter_jsonl(file))
        if not rows:
            raise entry.error(f"{arg}: {value!r} holds no samples (empty)", key)


def check_run(evals: Sequence[str], registries: Sequence[str | Path]) -> None:
    """Before a run: the registries read and checked, the evals to run resolved and their data
    checked (see the module docstring). Raises InputError naming file:line."""
    paths = list(dict.fromkeys(Path(r).resolve() for r in registries))
    loaded = load_registries(paths)
    roots = data_roots(paths)
    for name in evals:
        entry = resolve_eval(loaded["evals"], name)
        if entry is not None:
            check_eval_data(entry, roots)


# -- in the engine, where the eval class is imported anyway ------------------------------------


def spec_entry(spec: Any) -> Entry:
    """The registry entry of an evals ``EvalSpec`` (for errors naming file:line)."""
    registry = Path(spec.registry_path)
    where = registry / "evals"
    path = where / f"{spec.group}.yaml" if where.is_dir() else where
    try:
        entry = read_registry_file(path, registry).get(str(spec.key))
    except InputError:
        entry = None
    if entry is None:
        return Entry(str(spec.key), {"args": spec.args or {}}, path, 1, registry)
    return entry


def check_spec_data(spec: Any, roots: Sequence[Path]) -> None:
    """Each data arg of an evals ``EvalSpec`` resolves inside the roots (see :func:`confined`)."""
    for arg, value in (spec.args or {}).items():
        if str(arg).endswith(DATA_SUFFIX) and isinstance(value, str):
            try:
                confined(value, spec.registry_path, roots)
            except ValueError as exc:
                raise spec_entry(spec).error(f"{arg}: {exc}", f"args.{arg}") from None


def _accepted(cls: type) -> tuple[set[str], dict[str, Any]] | None:
    """Keyword args the class's ``__init__`` chain takes, with their types; None if any."""
    names: set[str] = set()
    hints: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:
            return names, hints
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):
            return None
        try:
            found = typing.get_type_hints(init)
        except Exception:  # unresolvable annotations: no type check for this class
            found = {}
        for param in params.values():
            if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                names.add(param.name)
                if param.name in found and param.name not in hints:
                    hints[param.name] = found[param.name]
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return names, hints
    return None


def check_eval_class(spec: Any, cls: object, base: type) -> None:
    """The eval's class is a ``base`` (evals' Eval) and takes the spec's args, typed as declared."""
    from pydantic import TypeAdapter, ValidationError

    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise spec_entry(spec).error(f"class {spec.cls} is not an evals Eval", "class")
    accepted = _accepted(cls)
    if accepted is None:
        return
    names, hints = accepted
    for arg, value in (spec.args or {}).items():
        if arg not in names:
            takes = ", ".join(sorted(n for n in names if n not in ("self", "completion_fns")))
            msg = f"unknown arg {arg!r} for {spec.cls} (it takes: {takes})"
            raise spec_entry(spec).error(msg, f"args.{arg}")
        if arg in hints:
            try:
                TypeAdapter(hints[arg]).validate_python(value)
            except ValidationError as exc:
                first = exc.errors()[0]["msg"]
                msg = f"arg {arg!r} of {spec.cls}: {first}, got {value!r}"
                raise spec_entry(spec).error(msg, f"args.{arg}") from None
            except Exception:  # a type pydantic cannot check (e.g. a protocol): not checked
                continue


def confine_instance(instance: Any, registry: str | Path, roots: Sequence[Path]) -> None:
    """Resolve the eval's data paths (``_prefix_registry_path``) inside the roots only."""

    def prefix(data_path: str) -> Path:
        try:
            path = confined(str(data_path), registry, roots)
        except ValueError as exc:
            raise InputError(registry, str(exc)) from None
        if not path.exists():
            msg = (
                f"{data_path} not found (data files are read from the registries' data/ "
                "folders, never from the working directory)"
            )
            raise InputError(Path(registry) / "data", msg)
        return path

    resolver: Callable[[str], Path] = prefix
    instance._prefix_registry_path = resolver
    instance._ftevals_data_roots = list(roots)  # ftevals.elsuite._samples.ROOTS_ATTR
