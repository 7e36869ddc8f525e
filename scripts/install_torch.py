"""Install a torch build that matches the machine, before the rest of ftevals.

Modes (``make TORCH=...``):
  auto  (default) CUDA build if `nvidia-smi -L` lists a GPU, otherwise a CPU build.
  cpu   a CPU build: the pinned version if pip would pick a CPU wheel for it
        (macOS, or a local wheel such as 2.13.0+cpu), else from PyTorch's CPU index.
  cuda  the pinned version from PyPI (CUDA build on Linux).
  skip  leave whatever torch is installed alone.

An already-installed torch is kept unless --force is given, so a GPU user can
install the CUDA build of their choice first and `make` will not replace it.
Standard library only: it runs before anything else is installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

TORCH_VERSION = "2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def has_gpu() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return result.returncode == 0 and "GPU" in result.stdout


def installed_torch() -> str | None:
    code = "import torch, sys; sys.stdout.write(torch.__version__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def default_pick_is_cpu(spec: str) -> bool:
    """Ask pip (dry run) what `pip install spec` would install: CPU if no CUDA wheels."""
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-", spec]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return False
    report = json.loads(result.stdout)
    names = [item["metadata"]["name"].lower() for item in report.get("install", [])]
    return not any(n.startswith(("nvidia-", "triton")) for n in names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["auto", "cpu", "cuda", "skip"], default="auto")
    parser.add_argument("--force", action="store_true", help="reinstall even if torch imports")
    args = parser.parse_args()
    if args.mode == "skip":
        return 0
    current = installed_torch()
    if current and not args.force:
        print(f"torch {current} already installed; keeping it (use --force to replace)")
        return 0
    mode = args.mode if args.mode != "auto" else ("cuda" if has_gpu() else "cpu")
    spec = f"torch=={TORCH_VERSION}"
    if mode == "cuda":
        pip("install", spec)
    elif default_pick_is_cpu(spec):
        pip("install", spec)
    else:
        pip("install", spec, "--index-url", CPU_INDEX)
    print(f"torch {installed_torch()} installed ({mode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
