"""Run every benchmark script in this folder in turn and print their markdown reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    scripts = sorted(p for p in HERE.glob("bench_*.py"))
    for script in scripts:
        print(f"\n<!-- {script.name} -->", flush=True)
        subprocess.run([sys.executable, str(script), *sys.argv[1:]], check=True)
