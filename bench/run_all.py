"""Run every benchmark in bench/ and print its figures.

.venv/bin/python bench/run_all.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    [sys.executable, str(HERE / "classifier_throughput.py")],
    [sys.executable, str(HERE / "data_tools.py")],
    [sys.executable, str(HERE / "remote_throughput.py")],
    [sys.executable, str(HERE / "serve_load.py"), "--requests", "16"],
]


def main() -> int:
    failed = 0
    for cmd in BENCHES:
        print(f"$ {' '.join(Path(c).name if c.endswith('.py') else c for c in cmd)}", flush=True)
        failed += subprocess.run(cmd, check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
