"""Training configuration: dataclasses with help text on every field, checked on construction."""

from __future__ import annotations

import types
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from ftevals.errors import FtevalsError

Kind = Literal["classifier", "causal"]

# Fields that may change between a run and its ``--resume`` without changing the result.
RESUME_FREE_FIELDS = ("data", "out", "checkpoint_every", "keep_checkpoints")


def _describe(tp: Any) -> str:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is list:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return f"a mapping of {_describe(args[0])} to {_describe(args[1])}"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(tp, "null" if tp is type(None) else getattr(tp, "__name__", str(tp)))


def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """(fits, value converted where harmless: int or numeric string to float)."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        for arg in args:
            ok, converted = _coerce(value, arg)
            if ok:
                return True, converted
        return False, value
    if tp is type(None):
        return value is None, value
    if origin is Literal:
        return value in args, value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
            try:
                return True, float(value)
            except ValueError:
                return False, value
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if tp is str:
        return isinstance(value, str), value
    if origin is list:
        if not isinstance(value, list):
            return False, value
        items = [_coerce(v, args[0]) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if origin is dict:
        if not isinstance(value, dict):
            return False, value
        ok = all(_coerce(k, args[0])[0] and _coerce(v, args[1])[0] for k, v in value.items())
        return ok, value
    return isinstance(value, tp), value


def check_types(obj: Any, prefix: str = "") -> None:
    """Every field of a dataclass instance has its annotated type (ints become floats where a
    number is expected); otherwise FtevalsError naming the field."""
    hints = get_type_hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        ok, converted = _coerce(value, hints[f.name])
        if not ok:
            raise FtevalsError(
                f"{prefix}{f.name} must be {_describe(hints[f.name])}, got {value!r}"
            )
        setattr(obj, f.name, converted)


@dataclass
class LoraSettings:
    """LoRA fields, mirroring peft's ``LoraConfig``."""

    r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    target_modules: list[str] | None = field(
        default=None,
        metadata={
            "help": "Modules to adapt; default: attention projections of known model types, "
            "else peft's 'all-linear'."
        },
    )
    modules_to_save: list[str] | None = field(
        default=None,
        metadata={"help": "Extra modules trained fully and saved; default: the head and pooler."},
    )
    bias: Literal["none", "all", "lora_only"] = field(
        default="none", metadata={"help": "Which biases to train (peft's `bias`)."}
    )
    use_rslora: bool = field(
        default=False, metadata={"help": "Rank-stabilised scaling alpha / sqrt(r) (peft)."}
    )
    use_dora: bool = field(
        default=False,
        metadata={"help": "Weight-decomposed LoRA (DoRA); `ftevals fuse` refuses it."},
    )
    init_lora_weights: bool | str = field(
        default=True, metadata={"help": "peft's init: true, false, gaussian, pissa, olora, ..."}
    )
    fan_in_fan_out: bool = field(
        default=False, metadata={"help": "True for Conv1D layers (GPT-2's c_attn)."}
    )
    layers_to_transform: list[int] | None = field(
        default=None, metadata={"help": "Only these layer indices get LoRA; default: all."}
    )
    rank_pattern: dict[str, int] = field(
        default_factory=dict, metadata={"help": "Per-module rank overrides (regex -> r)."}
    )
    alpha_pattern: dict[str, int] = field(
        default_factory=dict, metadata={"help": "Per-module alpha overrides (regex -> alpha)."}
    )

    def __post_init__(self) -> None:
        check_types(self, "lora.")
        if self.r < 1:
            raise FtevalsError(f"lora.r must be >= 1, got {self.r}")
        if self.lora_alpha < 1:
            raise FtevalsError(f"lora.lora_alpha must be >= 1, got {self.lora_alpha}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise FtevalsError(f"lora.lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.bias not in ("none", "all", "lora_only"):
            raise FtevalsError(f"lora.bias must be none, all or lora_only, got {self.bias!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "lora") -> LoraSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise FtevalsError(f"{where}: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**values)


@dataclass
class TrainConfig:
    """What ``ftevals train`` does. Load from YAML with :meth:`from_yaml`; flags override."""

    data: str = field(metadata={"help": "Training file (chat, prompt/completion, text or CSV)."})
    out: str = field(metadata={"help": "Output directory of the adapter."})
    kind: Kind = field(default="classifier", metadata={"help": "classifier or causal."})
    base: str = field(
        default="minilm", metadata={"help": "Base model reference (alias, path, hub id)."}
    )
    base_layers: int | None = field(
        default=None,
        metadata={
            "help": "Classifier: keep only the first N transformer layers of the base model "
            "(a smaller, faster model, e.g. 3 of MiniLM's 6); null keeps them all."
        },
    )
    format: str | None = field(default=None, metadata={"help": "Data format; detected if unset."})
    text_field: str | None = field(default=None, metadata={"help": "CSV/JSONL text column."})
    label_field: str | None = field(default=None, metadata={"help": "CSV/JSONL label column."})
    system: str | None = field(
        default=None, metadata={"help": "System prompt for rows without one (causal)."}
    )
    epochs: float = field(default=4.0, metadata={"help": "Passes over the training data."})
    max_steps: int | None = field(
        default=None, metadata={"help": "Stop after this many optimizer steps (overrides epochs)."}
    )
    learning_rate: float = field(default=1e-3, metadata={"help": "Peak learning rate (AdamW)."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    warmup_steps: int = field(
        default=0, metadata={"help": "Linear warm-up steps, then linear decay to 0."}
    )
    max_grad_norm: float | None = field(
        default=1.0, metadata={"help": "Gradient clipping norm; null: no clipping."}
    )
    batch_size: int = field(default=16, metadata={"help": "Examples per optimizer micro-batch."})
    grad_accum: int = field(default=1, metadata={"help": "Micro-batches per optimizer step."})
    max_length: int = field(default=128, metadata={"help": "Tokens per example (truncated)."})
    bucket_batches: int = field(
        default=8,
        metadata={
            "help": "Examples are sorted by length within buckets of this many batches "
            "(less padding); 1: no sorting."
        },
    )
    seed: int = field(default=0, metadata={"help": "Seed for shuffling, splits and init."})
    val_fraction: float = field(
        default=0.0, metadata={"help": "Share of the data held out for validation (hash split)."}
    )
    eval_every: int = field(
        default=0, metadata={"help": "Validate every N optimizer steps; 0: after every epoch."}
    )
    early_stopping_patience: int = field(
        default=0,
        metadata={"help": "Stop after N validations without improvement; 0: never stop early."},
    )
    early_stopping_min_delta: float = field(
        default=0.0, metadata={"help": "Smallest drop of validation loss that counts."}
    )
    checkpoint_every: int = field(
        default=0, metadata={"help": "Checkpoint every N optimizer steps (for --resume); 0: off."}
    )
    calibrate: bool = field(
        default=True,
        metadata={
            "help": "Classifier: fit a temperature and, for two labels, a decision threshold "
            "on the validation split, stored with the adapter (needs val_fraction > 0)."
        },
    )
    max_fpr: float | None = field(
        default=None,
        metadata={
            "help": "Classifier: choose the threshold among those with at most this validation "
            "false-positive rate (e.g. 0.05); null: the F1-optimal threshold."
        },
    )
    positive_label: str | None = field(
        default=None,
        metadata={
            "help": "Classifier: the label the threshold applies to; default 'unsafe' when it "
            "is a label, else the second label in sorted order."
        },
    )
    keep_checkpoints: int = field(default=2, metadata={"help": "Newest checkpoints kept."})
    lora: LoraSettings = field(default_factory=LoraSettings, metadata={"help": "LoRA settings."})

    def __post_init__(self) -> None:
        if isinstance(self.lora, dict):
            self.lora = LoraSettings.from_dict(self.lora)
        check_types(self)
        if self.kind not in ("classifier", "causal"):
            raise FtevalsError(f"kind must be classifier or causal, got {self.kind!r}")
        if self.epochs <= 0:
            raise FtevalsError(f"epochs must be > 0, got {self.epochs}")
        if self.learning_rate <= 0:
            raise FtevalsError(f"learning_rate must be > 0, got {self.learning_rate}")
        for name in (
            "batch_size",
            "grad_accum",
            "max_length",
            "bucket_batches",
            "keep_checkpoints",
        ):
            if getattr(self, name) < 1:
                raise FtevalsError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "eval_every", "early_stopping_patience", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise FtevalsError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_fpr is not None and not 0.0 <= self.max_fpr <= 1.0:
            raise FtevalsError(f"max_fpr must be within [0, 1] or null, got {self.max_fpr}")
        if self.base_layers is not None and self.base_layers < 1:
            raise FtevalsError(f"base_layers must be >= 1 or null, got {self.base_layers}")
        if self.base_layers is not None and self.kind != "classifier":
            raise FtevalsError("base_layers applies to kind classifier only")
        if self.max_steps is not None and self.max_steps < 1:
            raise FtevalsError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise FtevalsError(f"max_grad_norm must be > 0 or null, got {self.max_grad_norm}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise FtevalsError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.early_stopping_patience and not self.val_fraction:
            raise FtevalsError("early_stopping_patience needs a validation split (val_fraction)")

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a YAML config (``yaml.safe_load``); non-None overrides win. Unknown keys fail."""
        path = Path(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise FtevalsError(f"{path}: invalid YAML: {exc}") from None
        except OSError as exc:
            raise FtevalsError(f"{path}: cannot read config: {exc.strerror}") from None
        if not isinstance(loaded, dict):
            raise FtevalsError(f"{path}: expected a mapping at the top level")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(loaded) - known)
        if unknown:
            raise FtevalsError(f"{path}: unknown keys {unknown}; known: {sorted(known)}")
        if "lora" in loaded:
            if not isinstance(loaded["lora"], dict):
                raise FtevalsError(f"{path}: lora must be a mapping")
            loaded["lora"] = LoraSettings.from_dict(loaded["lora"], f"{path}: lora")
        loaded.update({k: v for k, v in overrides.items() if v is not None})
        missing = [k for k in ("data", "out") if not loaded.get(k)]
        if missing:
            raise FtevalsError(f"{path}: set {' and '.join(missing)} (in the file or as flags)")
        try:
            return cls(**loaded)
        except TypeError as exc:
            raise FtevalsError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict` (e.g. the ``config`` stored in ``ftevals.json``)."""
        return cls(**values)

    def resume_differences(self, other: TrainConfig) -> list[str]:
        """Fields (except :data:`RESUME_FREE_FIELDS`) whose values differ from ``other``."""
        mine, theirs = self.to_dict(), other.to_dict()
        return sorted(k for k in mine if k not in RESUME_FREE_FIELDS and mine[k] != theirs.get(k))
