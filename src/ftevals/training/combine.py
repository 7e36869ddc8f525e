"""The parts of ``ftevals fuse`` (:mod:`ftevals.training.fuse`): read adapters, combine them
with peft's ``add_weighted_adapter`` (heads in ``modules_to_save`` by the weighted sum), compute
the reference outputs, save, load and merge.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftevals.errors import FtevalsError
from ftevals.runtime.meta import META_FILE
from ftevals.runtime.models import resolve_adapter, resolve_model

logger = logging.getLogger(__name__)

COMBINATIONS = (
    "linear",
    "cat",
    "svd",
    "ties",
    "ties_svd",
    "dare_linear",
    "dare_ties",
    "dare_linear_svd",
    "dare_ties_svd",
    "magnitude_prune",
    "magnitude_prune_svd",
)
PREFIX = "base_model.model."
NEEDS_DENSITY = frozenset(c for c in COMBINATIONS if c not in ("linear", "cat", "svd"))


@dataclass
class Source:
    """One adapter to combine and its weight (negative subtracts)."""

    path: Path
    weight: float
    config: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        if "kind" in self.meta:
            return str(self.meta["kind"])
        return "classifier" if self.config.get("task_type") == "SEQ_CLS" else "causal"


def parse_source(spec: str) -> Source:
    """``DIR:WEIGHT`` (or ``DIR``, weight 1) -> :class:`Source`."""
    ref, weight = spec, 1.0
    head, sep, tail = spec.rpartition(":")
    if sep:
        try:
            ref, weight = head, float(tail)
        except ValueError:
            ref = spec
    path = resolve_adapter(ref)
    config = json.loads((path / "adapter_config.json").read_text(encoding="utf-8"))
    meta_file = path / META_FILE  # read as is: a plain peft adapter has none
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    return Source(path, weight, config, meta)


def check_sources(sources: list[Source], method: str, density: float | None) -> str:
    if not sources:
        raise FtevalsError("give at least one --adapter DIR:WEIGHT")
    if method not in COMBINATIONS:
        raise FtevalsError(f"unknown method {method!r}; choose one of {', '.join(COMBINATIONS)}")
    if method in NEEDS_DENSITY and len(sources) > 1:
        if density is None or not 0.0 < density <= 1.0:
            raise FtevalsError(f"method {method} needs --density in (0, 1], got {density}")
    kinds = {s.kind for s in sources}
    if len(kinds) > 1:
        raise FtevalsError(f"cannot fuse adapters of different kinds: {sorted(kinds)}")
    for key in ("use_dora", "target_parameters"):
        bad = [str(s.path) for s in sources if s.config.get(key)]
        if bad:
            raise FtevalsError(f"add_weighted_adapter does not support {key}: {bad}")
    if kinds == {"classifier"}:
        labels = {json.dumps(s.meta.get("labels")) for s in sources}
        if len(labels) > 1 or "null" in labels:
            raise FtevalsError("classifier adapters must have ftevals.json with the same labels")
    return kinds.pop()


def resolve_base(base: str | None, sources: list[Source]) -> tuple[str, str]:
    ref = base or sources[0].meta.get("base") or sources[0].config.get("base_model_name_or_path")
    if not ref:
        raise FtevalsError("give --base: the adapters do not record their base model")
    path = resolve_model(str(ref))
    for source in sources:
        trained_on = source.meta.get("base")
        if trained_on and resolve_model(str(trained_on)) != path:
            raise FtevalsError(f"{source.path} was trained on {trained_on!r}, not on {ref!r}")
    return str(ref), path


def load_model(kind: str, base_path: str, labels: list[str] | None, pad_id: int | None) -> Any:
    from ftevals.runtime.loading import load_base_causal, load_base_classifier

    if kind == "classifier":
        return load_base_classifier(base_path, labels or [], pad_id)
    return load_base_causal(base_path)


def split_state(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(LoRA tensors, saved-module tensors) of an adapter file."""
    from safetensors.torch import load_file

    file = path / "adapter_model.safetensors"
    if not file.is_file():
        raise FtevalsError(f"{path}: no adapter_model.safetensors")
    state = load_file(str(file))
    lora = {k: v for k, v in state.items() if ".lora_" in k}
    return lora, {k: v for k, v in state.items() if k not in lora}


def combine(
    kind: str, base_path: str, sources: list[Source], method: str, options: dict[str, Any]
) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """(peft model holding src0.. and 'fused', fused LoraConfig, fused LoRA state, heads)."""
    import dataclasses

    from peft import LoraConfig, PeftModel, get_peft_model_state_dict, set_peft_model_state_dict

    labels = sources[0].meta.get("labels")
    model = load_model(kind, base_path, labels, options["pad_id"])
    names = [f"src{i}" for i in range(len(sources))]
    saved_modules: list[dict[str, Any]] = []
    peft_model: Any = None
    for name, source in zip(names, sources, strict=True):
        lora, saved = split_state(source.path)
        saved_modules.append(saved)
        # Target exactly the modules the file has LoRA weights for (a pattern such as
        # "dense" would also hit modules that modules_to_save kept out of LoRA).
        targets = sorted({k.split(".lora_")[0].removeprefix(PREFIX) for k in lora})
        cfg = dataclasses.replace(
            LoraConfig.from_pretrained(str(source.path)),
            task_type=None,
            modules_to_save=None,
            target_modules=targets,
            layers_to_transform=None,
            layers_pattern=None,
        )
        if set(saved) != set(saved_modules[0]):
            raise FtevalsError(f"{source.path}: saved modules differ from the first adapter's")
        if peft_model is None:
            peft_model = PeftModel(model, cfg, adapter_name=name)
        else:
            peft_model.add_adapter(name, cfg)
        loaded = set_peft_model_state_dict(peft_model, lora, adapter_name=name)
        missing = [k for k in loaded.missing_keys if ".lora_" in k and f".{name}." in k]
        if loaded.unexpected_keys or missing:
            raise FtevalsError(f"{source.path}: adapter weights do not fit the base model")
    try:
        peft_model.add_weighted_adapter(
            names,
            [s.weight for s in sources],
            "fused",
            combination_type=method,
            svd_rank=options["svd_rank"],
            density=options["density"],
            majority_sign_method=options["majority_sign_method"],
        )
    except (ValueError, TypeError) as exc:
        raise FtevalsError(f"cannot fuse with {method}: {exc}") from None
    heads = combine_saved_modules(saved_modules, [s.weight for s in sources])
    fused_cfg = peft_model.peft_config["fused"]
    first = LoraConfig.from_pretrained(str(sources[0].path))
    config = dataclasses.replace(
        first,
        r=fused_cfg.r,
        lora_alpha=fused_cfg.r,
        use_rslora=False,
        target_modules=sorted(fused_cfg.target_modules),
        layers_to_transform=None,
        layers_pattern=None,
        rank_pattern={},
        alpha_pattern={},
        base_model_name_or_path=base_path,
    )
    state = get_peft_model_state_dict(peft_model, adapter_name="fused")
    return peft_model, config, state, heads


def combine_saved_modules(saved: list[dict[str, Any]], weights: list[float]) -> dict[str, Any]:
    """Saved modules (heads) of the fused adapter: a tensor equal in every source (such as an
    embedding layer peft saves whole) is kept as it is; the others get the weighted sum."""
    import torch

    heads: dict[str, Any] = {}
    for key, first in saved[0].items():
        tensors = [state[key] for state in saved]
        if all(torch.equal(first, t) for t in tensors[1:]):
            heads[key] = first
        else:
            heads[key] = sum(w * t.float() for w, t in zip(weights, tensors, strict=True))
    return heads


def reference_outputs(
    peft_model: Any, sources: list[Source], heads: dict[str, Any], ctx: dict[str, Any]
) -> tuple[Any, Any]:
    """(base, exact weighted sum) :class:`~ftevals.training.probe.Outputs`, with fused heads."""
    import torch
    from peft.tuners.lora import LoraLayer

    from ftevals.training import probe

    with torch.no_grad():
        for key, tensor in heads.items():
            peft_model.get_parameter(key).copy_(tensor)
    with peft_model.disable_adapter():
        base = probe.run_probes(peft_model, ctx["tokenizer"], ctx["probes"], ctx["kind"], ctx["n"])
    names = [f"src{i}" for i in range(len(sources))]
    peft_model.base_model.set_adapter(names)
    for module in peft_model.modules():
        if isinstance(module, LoraLayer):
            for name, source in zip(names, sources, strict=True):
                if name in module.scaling:
                    module.scaling[name] *= source.weight
    exact = probe.run_probes(peft_model, ctx["tokenizer"], ctx["probes"], ctx["kind"], ctx["n"])
    return base, exact


def save_adapter(
    target: Path, config: Any, state: dict[str, Any], heads: dict[str, Any], tokenizer: Any
) -> None:
    from safetensors.torch import save_file

    target.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in {**state, **heads}.items()}
    save_file(tensors, str(target / "adapter_model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))


def load_fused(kind: str, base_path: str, adapter_dir: Path) -> Any:
    """The fused adapter as the runtime loads it for inference."""
    from ftevals.runtime.loading import load_causal, load_classifier

    if kind == "classifier":
        return load_classifier(adapter_dir, base_path)[0]
    return load_causal(base_path, [adapter_dir])


def merge(fused: Any, target: Path, tokenizer: Any, dtype: str) -> None:
    import torch

    from ftevals.runtime.loading import merge as merge_lora

    merged = merge_lora(fused)
    merged.to(getattr(torch, dtype))
    merged.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))


def reload_merged(kind: str, target: Path) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if kind == "classifier":
        return AutoModelForSequenceClassification.from_pretrained(str(target), dtype=torch.float32)
    return AutoModelForCausalLM.from_pretrained(str(target), dtype=torch.float32)
