"""``ftevals fuse``: combine LoRA adapters, optionally merge, and check the result.

Adapters are combined with peft's ``add_weighted_adapter`` (every combination type, weights
(negative allowed), density); classifier heads in ``modules_to_save``, which peft refuses to
combine, get the weighted sum with the same weights (:mod:`ftevals.training.combine`).

Every fuse is checked on probe prompts (:mod:`ftevals.training.probe`) against two references
computed from the unmerged sources: *base* (adapters off) and *exact* (every source active,
scaled by its weight: base + sum_i w_i * delta_i, which every combination type approximates):

* ``effect``: the fused adapter, reloaded from disk as completion functions load it, must
  differ from the base whenever the exact sum does (otherwise the adapter was silently lost);
* ``exact``: exact methods (``cat``, ``svd`` with ``svd_rank`` >= the sum of the ranks, any
  single source) must reproduce the exact sum within the tolerance; for the other methods the
  distance is reported (``approximation``);
* with ``merge``: ``merge`` (the merged model, reloaded from disk, matches the unmerged fused
  adapter: logits within tolerance, greedy outputs agree) and ``merge_effect`` (it is not the
  base model).

Logits "match" when the largest difference is at most ``tolerance * max(1, max |logit|)``.
A failed check leaves the output in ``<out>.rejected`` and raises :class:`FuseCheckError`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ftevals import extras
from ftevals.errors import FtevalsError
from ftevals.runtime.loading import load_tokenizer
from ftevals.runtime.meta import AdapterMeta, read_meta, write_meta
from ftevals.training import combine, probe

ADAPTER_SUBDIR = "adapter"
COMBINATIONS = combine.COMBINATIONS


class FuseCheckError(FtevalsError):
    """A fused or merged model failed a check (it lost its adapter, or does not match)."""


@dataclass
class Check:
    """One check of a fuse: passed or not, why, and the figures behind it."""

    name: str
    passed: bool
    detail: str
    figures: dict[str, float] = field(default_factory=dict)


@dataclass
class FuseResult:
    """Where the fused adapter (and the merged model) went, and the checks they passed."""

    adapter_dir: Path
    merged_dir: Path | None
    checks: list[Check]
    meta: dict[str, Any]


def _is_exact(method: str, sources: list[combine.Source], svd_rank: int | None) -> bool:
    ranks = [
        max([int(s.config.get("r", 0)), *(s.config.get("rank_pattern") or {}).values()])
        for s in sources
    ]
    if len(sources) == 1 or method == "cat":
        return True
    return method == "svd" and (svd_rank or max(ranks)) >= sum(ranks)


def _effect(name: str, ref: probe.Comparison, got: probe.Comparison, tol: float) -> Check:
    figures = {"reference_vs_base": round(ref.max_logit_diff, 8), "vs_base": got.max_logit_diff}
    if ref.within(tol):
        return Check(name, True, "the weighted sources do not change the base outputs", figures)
    if got.within(tol):
        return Check(
            name,
            False,
            f"identical to the base model (max logit difference {got.max_logit_diff:.3g}) "
            f"although the weighted sources change it by {ref.max_logit_diff:.3g}: "
            "the adapter was lost",
            figures,
        )
    return Check(name, True, f"differs from the base by {got.max_logit_diff:.3g}", figures)


def fuse_checks(
    outputs: dict[str, probe.Outputs], exact_method: bool, tolerance: float
) -> list[Check]:
    """Checks of the fused adapter against the base and the exact weighted sum."""
    ref_vs_base = probe.compare(outputs["exact"], outputs["base"])
    fused_vs_base = probe.compare(outputs["fused"], outputs["base"])
    fused_vs_exact = probe.compare(outputs["fused"], outputs["exact"])
    checks = [_effect("effect", ref_vs_base, fused_vs_base, tolerance)]
    figures = fused_vs_exact.to_dict()
    if exact_method:
        ok = fused_vs_exact.within(tolerance)
        detail = (
            f"matches the exact weighted sum (max logit difference {figures['max_logit_diff']:.3g})"
            if ok
            else f"differs from the exact weighted sum by {figures['max_logit_diff']:.3g} "
            f"(tolerance {tolerance} x {max(1.0, fused_vs_exact.scale):.3g})"
        )
        checks.append(Check("exact", ok, detail, figures))
    else:
        detail = (
            f"approximate method: {figures['max_logit_diff']:.3g} from the exact weighted sum, "
            f"greedy agreement {figures['greedy_agreement']:.2f}"
        )
        checks.append(Check("approximation", True, detail, figures))
    return checks


def merge_checks(
    outputs: dict[str, probe.Outputs], tolerance: float, min_agreement: float
) -> list[Check]:
    """Checks of the merged model against the unmerged fused adapter and the base."""
    vs_fused = probe.compare(outputs["merged"], outputs["fused"])
    figures = vs_fused.to_dict()
    ok = vs_fused.within(tolerance) and vs_fused.greedy_agreement >= min_agreement
    detail = (
        f"max logit difference {figures['max_logit_diff']:.3g} to the unmerged fused adapter, "
        f"greedy agreement {figures['greedy_agreement']:.2f}"
    )
    if not ok:
        detail = "merged model does not match the unmerged fused adapter: " + detail
    fused_vs_base = probe.compare(outputs["fused"], outputs["base"])
    merged_vs_base = probe.compare(outputs["merged"], outputs["base"])
    return [
        Check("merge", ok, detail, figures),
        _effect("merge_effect", fused_vs_base, merged_vs_base, tolerance),
    ]


def fuse(
    sources: Sequence[str | combine.Source],
    out: str | Path,
    *,
    base: str | None = None,
    method: str = "linear",
    density: float | None = None,
    svd_rank: int | None = None,
    majority_sign_method: str = "total",
    seed: int = 0,
    merge: bool = False,
    dtype: str = "float32",
    probes: str | Path | None = None,
    probe_tokens: int = 8,
    tolerance: float = 1e-3,
    min_agreement: float = 1.0,
    overwrite: bool = False,
) -> FuseResult:
    """Fuse ``sources`` (``DIR:WEIGHT`` strings or :class:`~combine.Source`) into ``out``.

    Without ``merge``, ``out`` is the fused adapter; with it, ``out`` is a standalone model
    directory and the fused adapter is kept in ``out/adapter``.
    """
    extras.require("local", "ftevals fuse")
    import torch

    if dtype not in ("float32", "bfloat16", "float16"):
        raise FtevalsError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
    srcs = [combine.parse_source(s) if isinstance(s, str) else s for s in sources]
    kind = combine.check_sources(srcs, method, density)
    base_ref, base_path = combine.resolve_base(base, srcs)
    out = Path(out)
    if out.exists() and not overwrite:
        raise FtevalsError(f"{out} exists; pass --overwrite to replace it")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    adapter_dir = tmp / ADAPTER_SUBDIR if merge else tmp
    has_tokenizer = (srcs[0].path / "tokenizer_config.json").is_file()
    tokenizer = load_tokenizer(str(srcs[0].path) if has_tokenizer else base_path)
    ctx = {"tokenizer": tokenizer, "probes": probe.load_probes(probes), "kind": kind}
    ctx["n"] = probe_tokens

    torch.manual_seed(seed)
    options = {
        "pad_id": tokenizer.pad_token_id,
        "svd_rank": svd_rank,
        "density": density,
        "majority_sign_method": majority_sign_method,
    }
    peft_model, config, state, heads = combine.combine(kind, base_path, srcs, method, options)
    combine.save_adapter(adapter_dir, config, state, heads, tokenizer)
    first_config = srcs[0].meta.get("config") or {}
    meta: dict[str, Any] = {
        "kind": kind,
        "base": base_ref,
        "config": {"max_length": first_config.get("max_length", 128)},
        "fused": {
            "method": method,
            "rank": config.r,
            "density": density,
            "svd_rank": svd_rank,
            "majority_sign_method": majority_sign_method,
            "seed": seed,
            "sources": [
                {
                    "path": str(s.path),
                    "weight": s.weight,
                    "kind": s.kind,
                    "data_sha256": s.meta.get("data_sha256"),
                }
                for s in srcs
            ],
        },
    }
    if "labels" in srcs[0].meta:
        meta["labels"] = srcs[0].meta["labels"]
    write_meta(adapter_dir, AdapterMeta.model_validate(meta))

    outputs: dict[str, probe.Outputs] = {}
    outputs["base"], outputs["exact"] = combine.reference_outputs(peft_model, srcs, heads, ctx)
    del peft_model
    fused_model = combine.load_fused(kind, base_path, adapter_dir)
    outputs["fused"] = probe.run_probes(fused_model, tokenizer, ctx["probes"], kind, probe_tokens)
    exact = _is_exact(method, srcs, svd_rank)
    checks = fuse_checks(outputs, exact, tolerance)
    if merge and all(c.passed for c in checks):
        combine.merge(fused_model, tmp, tokenizer, dtype)
        del fused_model
        merged = combine.reload_merged(kind, tmp)
        outputs["merged"] = probe.run_probes(merged, tokenizer, ctx["probes"], kind, probe_tokens)
        checks += merge_checks(outputs, tolerance, min_agreement)

    meta["checks"] = [asdict(c) for c in checks]
    meta["checks_passed"] = all(c.passed for c in checks)
    write_meta(adapter_dir, AdapterMeta.model_validate(meta))
    if merge:
        merged_meta = {**meta, "merged": True, "dtype": dtype, "adapter": ADAPTER_SUBDIR}
        write_meta(tmp, AdapterMeta.model_validate(merged_meta))
    failed = [c for c in checks if not c.passed]
    final = out.with_name(out.name + ".rejected") if failed else out
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    if failed:
        reasons = "; ".join(f"{c.name}: {c.detail}" for c in failed)
        raise FuseCheckError(f"fuse check failed: {reasons}. Output kept in {final} for inspection")
    adapter_final = final / ADAPTER_SUBDIR if merge else final
    return FuseResult(adapter_final, final if merge else None, checks, meta)


def fused_meta(path: str | Path) -> dict[str, Any]:
    """``ftevals.json`` of a fused adapter or merged model (its ``fused`` and ``checks``)."""
    meta = read_meta(path)
    if meta.fused is None:
        raise FtevalsError(f"{path}: not a fused adapter")
    return meta.to_json()
