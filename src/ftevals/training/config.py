"""Training configuration: dataclasses with help text on every field, checked on construction."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from ftevals.errors import FtevalsError

Kind = Literal["classifier", "causal"]


@dataclass
class LoraSettings:
    """LoRA fields, mirroring peft's ``LoraConfig``."""

    r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    target_modules: list[str] | None = field(
        default=None,
        metadata={"help": "Modules to adapt; default: attention query/value of the base model."},
    )
    modules_to_save: list[str] | None = field(
        default=None,
        metadata={"help": "Extra modules trained fully and saved; default: the head and pooler."},
    )
    bias: Literal["none", "all", "lora_only"] = field(
        default="none", metadata={"help": "Which biases to train (peft's `bias`)."}
    )

    def __post_init__(self) -> None:
        if self.r < 1:
            raise FtevalsError(f"lora.r must be >= 1, got {self.r}")
        if self.lora_alpha < 1:
            raise FtevalsError(f"lora.lora_alpha must be >= 1, got {self.lora_alpha}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise FtevalsError(f"lora.lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.bias not in ("none", "all", "lora_only"):
            raise FtevalsError(f"lora.bias must be none, all or lora_only, got {self.bias!r}")


@dataclass
class TrainConfig:
    """What ``ftevals train`` does. Load from YAML with :meth:`from_yaml`; flags override."""

    data: str = field(metadata={"help": "Training file (chat, prompt/completion, text or CSV)."})
    out: str = field(metadata={"help": "Output directory of the adapter."})
    kind: Kind = field(default="classifier", metadata={"help": "classifier or causal."})
    base: str = field(
        default="minilm", metadata={"help": "Base model reference (alias, path, hub id)."}
    )
    format: str | None = field(default=None, metadata={"help": "Data format; detected if unset."})
    text_field: str | None = field(default=None, metadata={"help": "CSV/JSONL text column."})
    label_field: str | None = field(default=None, metadata={"help": "CSV/JSONL label column."})
    epochs: float = field(default=4.0, metadata={"help": "Passes over the training data."})
    learning_rate: float = field(default=1e-3, metadata={"help": "Peak learning rate (AdamW)."})
    batch_size: int = field(default=16, metadata={"help": "Examples per optimizer micro-batch."})
    grad_accum: int = field(default=1, metadata={"help": "Micro-batches per optimizer step."})
    max_length: int = field(default=128, metadata={"help": "Tokens per example (truncated)."})
    seed: int = field(default=0, metadata={"help": "Seed for shuffling, splits and init."})
    val_fraction: float = field(
        default=0.0, metadata={"help": "Share of the data held out for validation (hash split)."}
    )
    lora: LoraSettings = field(default_factory=LoraSettings, metadata={"help": "LoRA settings."})

    def __post_init__(self) -> None:
        if isinstance(self.lora, dict):
            self.lora = LoraSettings(**self.lora)
        if self.kind not in ("classifier", "causal"):
            raise FtevalsError(f"kind must be classifier or causal, got {self.kind!r}")
        if self.epochs <= 0:
            raise FtevalsError(f"epochs must be > 0, got {self.epochs}")
        if self.learning_rate <= 0:
            raise FtevalsError(f"learning_rate must be > 0, got {self.learning_rate}")
        for name in ("batch_size", "grad_accum", "max_length"):
            if getattr(self, name) < 1:
                raise FtevalsError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise FtevalsError(f"val_fraction must be in [0, 1), got {self.val_fraction}")

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a YAML config (``yaml.safe_load``); non-None overrides win. Unknown keys fail."""
        path = Path(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise FtevalsError(f"{path}: invalid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise FtevalsError(f"{path}: expected a mapping at the top level")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(loaded) - known)
        if unknown:
            raise FtevalsError(f"{path}: unknown keys {unknown}; known: {sorted(known)}")
        loaded.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**loaded)
        except TypeError as exc:
            raise FtevalsError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
