"""Training configuration: pydantic models with help text on every field (``description``),
checked on construction and on every assignment; errors name the field (``lora.r must be ...``).
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)

from ftevals.errors import FtevalsError

Kind = Literal["classifier", "causal"]

# Fields that may change between a run and its ``--resume`` without changing the result.
RESUME_FREE_FIELDS = ("data", "out", "checkpoint_every", "keep_checkpoints")


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` as a string: a numeric string is a number here."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


# Strict types: an integer field refuses 2.5, "3" and true; a number takes ints and numeric text.
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Number = Annotated[float, BeforeValidator(_number), Strict()]


_BOUNDS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


def describe_type(tp: Any) -> str:
    """A field's type in words: ``an integer or null``, ``a list of strings``."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return describe_type(args[0])
    if origin in (Union, types.UnionType):
        return " or ".join(describe_type(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is list:
        return f"a list of {describe_type(args[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return f"a mapping of {describe_type(args[0])} to {describe_type(args[1])}"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(tp, "null" if tp is type(None) else getattr(tp, "__name__", str(tp)))


def _field_path(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[str], Any]:
    """The field names at the start of an error's location (nested models followed), and the
    last field's annotation (None when the location names no field)."""
    names: list[str] = []
    annotation: Any = None
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not isinstance(part, str) or not fields or part not in fields:
            break
        names.append(part)
        annotation = fields[part].annotation
        current = annotation if isinstance(annotation, type) else None
    return names, annotation


def describe_error(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """The first broken field of a validation as one line: ``field must be ..., got value``
    (bounds as ``> 0``, types in words), or the message of a cross-field check."""
    errors = exc.errors()
    first = errors[0]
    names, annotation = _field_path(model, first["loc"])
    field = prefix + ".".join(names) if names else ""
    # a value out of bounds is reported as such, not as "not null" (optional fields)
    same = [e for e in errors if _field_path(model, e["loc"])[0] == names]
    bound = next((e for e in same if e["type"] in _BOUNDS), None)
    if first["type"] == "value_error":
        message = str(first["msg"]).removeprefix("Value error, ")
    elif bound is not None:
        symbol, key = _BOUNDS[bound["type"]]
        limit = bound["ctx"][key]
        limit = int(limit) if isinstance(limit, float) and limit.is_integer() else limit
        message = f"must be {symbol} {limit}, got {bound['input']!r}"
    elif first["type"] == "extra_forbidden":
        field = prefix + ".".join(str(p) for p in first["loc"])
        message = "is not a known key"
    elif first["type"] == "missing":
        message = "is required"
    elif annotation is not None:
        message = f"must be {describe_type(annotation)}, got {first['input']!r}"
    else:
        message = f"{first['msg']}, got {first.get('input')!r}"
    return f"{field} {message}" if field else message


class _Checked(BaseModel):
    """A settings model: unknown keys refused, every assignment checked, errors as
    :class:`FtevalsError` naming the field."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    _prefix: ClassVar[str] = ""  # how errors name this model's fields

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise FtevalsError(describe_error(exc, type(self), type(self)._prefix)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise FtevalsError(describe_error(exc, type(self), type(self)._prefix)) from None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


class LoraSettings(_Checked):
    """LoRA fields, mirroring peft's ``LoraConfig``."""

    _prefix: ClassVar[str] = "lora."

    r: Int = Field(default=8, ge=1, description="LoRA rank.")
    lora_alpha: Int = Field(default=16, ge=1, description="LoRA scaling numerator (alpha / r).")
    lora_dropout: Number = Field(
        default=0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA input."
    )
    target_modules: list[str] | None = Field(
        default=None,
        description="Modules to adapt; default: attention projections of known model types, "
        "else peft's 'all-linear'.",
    )
    modules_to_save: list[str] | None = Field(
        default=None,
        description="Extra modules trained fully and saved; default: the head and pooler.",
    )
    bias: Literal["none", "all", "lora_only"] = Field(
        default="none", description="Which biases to train (peft's `bias`)."
    )
    use_rslora: Bool = Field(
        default=False, description="Rank-stabilised scaling alpha / sqrt(r) (peft)."
    )
    use_dora: Bool = Field(
        default=False,
        description="Weight-decomposed LoRA (DoRA); `ftevals fuse` refuses it.",
    )
    init_lora_weights: Bool | str = Field(
        default=True, description="peft's init: true, false, gaussian, pissa, olora, ..."
    )
    fan_in_fan_out: Bool = Field(
        default=False, description="True for Conv1D layers (GPT-2's c_attn)."
    )
    layers_to_transform: list[Int] | None = Field(
        default=None, description="Only these layer indices get LoRA; default: all."
    )
    rank_pattern: dict[str, Int] = Field(
        default_factory=dict, description="Per-module rank overrides (regex -> r)."
    )
    alpha_pattern: dict[str, Int] = Field(
        default_factory=dict, description="Per-module alpha overrides (regex -> alpha)."
    )

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "lora") -> LoraSettings:
        known = set(cls.model_fields)
        unknown = sorted(set(values) - known)
        if unknown:
            raise FtevalsError(f"{where}: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**values)


class TrainConfig(_Checked):
    """What ``ftevals train`` does. Load from YAML with :meth:`from_yaml`; flags override."""

    data: str = Field(description="Training file (chat, prompt/completion, text or CSV).")
    out: str = Field(description="Output directory of the adapter.")
    kind: Kind = Field(default="classifier", description="classifier or causal.")
    base: str = Field(default="minilm", description="Base model reference (alias, path, hub id).")
    base_layers: Int | None = Field(
        default=None,
        ge=1,
        description="Classifier: keep only the first N transformer layers of the base model "
        "(a smaller, faster model, e.g. 3 of MiniLM's 6); null keeps them all.",
    )
    format: str | None = Field(default=None, description="Data format; detected if unset.")
    text_field: str | None = Field(default=None, description="CSV/JSONL text column.")
    label_field: str | None = Field(default=None, description="CSV/JSONL label column.")
    system: str | None = Field(
        default=None, description="System prompt for rows without one (causal)."
    )
    epochs: Number = Field(default=4.0, gt=0, description="Passes over the training data.")
    max_steps: Int | None = Field(
        default=None, ge=1, description="Stop after this many optimizer steps (overrides epochs)."
    )
    learning_rate: Number = Field(default=1e-3, gt=0, description="Peak learning rate (AdamW).")
    weight_decay: Number = Field(default=0.0, description="AdamW weight decay.")
    warmup_steps: Int = Field(
        default=0, ge=0, description="Linear warm-up steps, then linear decay to 0."
    )
    max_grad_norm: Number | None = Field(
        default=1.0, gt=0, description="Gradient clipping norm; null: no clipping."
    )
    batch_size: Int = Field(default=16, ge=1, description="Examples per optimizer micro-batch.")
    grad_accum: Int = Field(default=1, ge=1, description="Micro-batches per optimizer step.")
    max_length: Int = Field(default=128, ge=1, description="Tokens per example (truncated).")
    bucket_batches: Int = Field(
        default=8,
        ge=1,
        description="Examples are sorted by length within buckets of this many batches "
        "(less padding); 1: no sorting.",
    )
    seed: Int = Field(default=0, description="Seed for shuffling, splits and init.")
    val_fraction: Number = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Share of the data held out for validation (hash split).",
    )
    eval_every: Int = Field(
        default=0, ge=0, description="Validate every N optimizer steps; 0: after every epoch."
    )
    early_stopping_patience: Int = Field(
        default=0,
        ge=0,
        description="Stop after N validations without improvement; 0: never stop early.",
    )
    early_stopping_min_delta: Number = Field(
        default=0.0, description="Smallest drop of validation loss that counts."
    )
    checkpoint_every: Int = Field(
        default=0, ge=0, description="Checkpoint every N optimizer steps (for --resume); 0: off."
    )
    calibrate: Bool = Field(
        default=True,
        description="Classifier: fit a temperature and, for two labels, a decision threshold "
        "on the validation split, stored with the adapter (needs val_fraction > 0).",
    )
    max_fpr: Number | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Classifier: choose the threshold among those with at most this validation "
        "false-positive rate (e.g. 0.05); null: the F1-optimal threshold.",
    )
    positive_label: str | None = Field(
        default=None,
        description="Classifier: the label the threshold applies to; default 'unsafe' when it "
        "is a label, else the second label in sorted order.",
    )
    keep_checkpoints: Int = Field(default=2, ge=1, description="Newest checkpoints kept.")
    lora: LoraSettings = Field(default_factory=LoraSettings, description="LoRA settings.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.base_layers is not None and self.kind != "classifier":
            raise ValueError("base_layers applies to kind classifier only")
        if self.early_stopping_patience and not self.val_fraction:
            raise ValueError("early_stopping_patience needs a validation split (val_fraction)")
        return self

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
        known = set(cls.model_fields)
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
        return cls(**loaded)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict` (e.g. the ``config`` stored in ``ftevals.json``)."""
        return cls(**values)

    def resume_differences(self, other: TrainConfig) -> list[str]:
        """Fields (except :data:`RESUME_FREE_FIELDS`) whose values differ from ``other``."""
        mine, theirs = self.to_dict(), other.to_dict()
        return sorted(k for k in mine if k not in RESUME_FREE_FIELDS and mine[k] != theirs.get(k))
