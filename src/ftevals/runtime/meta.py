"""What training writes beside an adapter: ``ftevals.json``, as :class:`AdapterMeta`.

``ftevals train`` writes it (kind, base, labels, the config, the training data and figures,
the calibration); ``ftevals fuse`` writes it for a fused adapter or merged model (``fused``,
``checks``); the runtime reads it to load the adapter (base, labels, ``max_length``,
``base_layers``) and to apply the calibration. Keys this version does not know are kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ftevals.errors import FtevalsError
from ftevals.jsonl import write_atomic
from ftevals.runtime.calibration import Calibration

META_FILE = "ftevals.json"


class TrainingDataFile(BaseModel):
    """One training file of a run (``ftevals compare`` checks eval samples against it)."""

    model_config = ConfigDict(extra="allow")

    path: str = Field(description="The path as given to `ftevals train`.")
    absolute_path: str | None = Field(default=None, description="The path made absolute.")
    sha256: str | None = Field(default=None, description="SHA-256 of the file's bytes.")
    format: str | None = Field(default=None, description="Input format (auto, chat, ...).")
    text_field: str | None = Field(default=None, description="Field holding the text, if any.")


class AdapterMeta(BaseModel):
    """``ftevals.json``: an adapter's (or merged model's) provenance and loading facts."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["classifier", "causal"] = Field(description="What the adapter was trained as.")
    base: str = Field(description="Base model reference the adapter was trained on.")
    labels: list[str] | None = Field(
        default=None,
        description="Class labels (classifier), or the answers a causal adapter "
        "was trained to give (when the data is a label set).",
    )
    config: dict[str, Any] = Field(
        default_factory=dict, description="The training config (TrainConfig.to_dict())."
    )
    data_sha256: str | None = Field(default=None, description="SHA-256 of the training data.")
    training_data: list[TrainingDataFile] | None = Field(
        default=None, description="The training files (path, absolute path, sha256, format)."
    )
    data: dict[str, Any] | None = Field(
        default=None, description="Causal training: what encoding did to the rows."
    )
    train: dict[str, Any] | None = Field(default=None, description="Training figures.")
    calibration: Calibration | None = Field(
        default=None, description="Temperature and threshold fitted on the validation split."
    )
    fused: dict[str, Any] | None = Field(
        default=None, description="`ftevals fuse`: method, rank and source adapters."
    )
    checks: list[dict[str, Any]] | None = Field(
        default=None, description="`ftevals fuse`: the checks run on the fused model."
    )
    checks_passed: bool | None = Field(default=None, description="Every fuse check passed.")
    merged: bool | None = Field(default=None, description="A merged model (LoRA folded in).")
    dtype: str | None = Field(default=None, description="dtype of a merged model's weights.")
    adapter: str | None = Field(
        default=None, description="Merged model: subdirectory holding the fused adapter."
    )

    @property
    def max_length(self) -> int:
        """Tokens per text the adapter was trained with (128 when not recorded)."""
        return int(self.config.get("max_length", 128))

    @property
    def base_layers(self) -> int | None:
        """Base layers kept in training (None: all)."""
        layers = self.config.get("base_layers")
        return None if layers is None else int(layers)

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to ``ftevals.json``: the keys that were given (nested
        records in full, the calibration's defaults included)."""
        given = self.model_fields_set | set(self.model_extra or {})
        return {k: v for k, v in self.model_dump(mode="json").items() if k in given}


def read_meta(adapter_dir: str | Path) -> AdapterMeta:
    """``ftevals.json`` of an adapter directory (one-line errors when missing or invalid)."""
    path = Path(adapter_dir) / META_FILE
    if not path.is_file():
        raise FtevalsError(f"{adapter_dir}: not an ftevals adapter (no {META_FILE})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FtevalsError(f"{path}: invalid JSON: {exc}") from None
    try:
        return AdapterMeta.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise FtevalsError(f"{path}: {where}: {first['msg']}") from None


def classifier_meta(adapter_dir: str | Path) -> AdapterMeta:
    """``ftevals.json`` of a classifier adapter (refused for other kinds)."""
    meta = read_meta(adapter_dir)
    if meta.kind != "classifier":
        raise FtevalsError(f"{adapter_dir}: adapter kind is {meta.kind!r}, not classifier")
    if not meta.labels:
        raise FtevalsError(f"{adapter_dir}: {META_FILE} has no labels")
    return meta


def write_meta(out: str | Path, meta: AdapterMeta) -> Path:
    """Write ``ftevals.json`` atomically into ``out`` (created)."""
    text = json.dumps(meta.to_json(), indent=2) + "\n"
    return write_atomic(Path(out) / META_FILE, text)
