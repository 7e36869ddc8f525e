"""Remove the 725 MB of evals' own bundled registry data from the venv.

ftevals runs evals from its own registry (./registry); evals' built-in sample files
are not needed for that. Keep them with `make KEEP_EVALS_DATA=1` if you want to run
evals' built-in evals (e.g. `oaieval gpt-4o-mini coqa-match`).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path


def main() -> int:
    spec = importlib.util.find_spec("evals")
    if spec is None or not spec.submodule_search_locations:
        print("evals is not installed", file=sys.stderr)
        return 1
    data = Path(next(iter(spec.submodule_search_locations))) / "registry" / "data"
    if data.is_dir():
        size = sum(f.stat().st_size for f in data.rglob("*") if f.is_file())
        shutil.rmtree(data)
        data.mkdir()
        print(f"pruned evals' bundled registry data: {size / 1e6:.0f} MB from {data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
