#!/usr/bin/env python3
"""Seconds of each phase of the quick-start loop: bake, environment, dvc repro, pytest, no-op dvc repro.

    python3 tests/benchmarks/quickstart.py [--runs N]

Each run bakes a fresh default project in a temporary folder. The first run also fills the
package caches (uv's and pip's); the targets are for a warm cache, so compare the later runs:
the whole loop within 60 s, a no-op `dvc repro` within 2 s (on a 2-core machine).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tasks import quickstart  # tests/ is not a package: imported by path

TARGETS = {"total": 60.0, "dvc repro (no-op)": 2.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2, help="number of loops; the first warms the caches")
    args = parser.parse_args()
    results = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="quickstart-bench-") as folder:
            seconds, _ = quickstart(Path(folder))
            seconds["total"] = sum(seconds.values())
            results.append(seconds)

    phases = list(results[0])
    print("\nphase                " + "".join(f"{'run ' + str(i + 1):>10}" for i in range(len(results))) + "    target")
    for phase in phases:
        row = "".join(f"{run[phase]:>9.1f}s" for run in results)
        target = f"<= {TARGETS[phase]:.0f} s" if phase in TARGETS else ""
        print(f"{phase:<21}{row}    {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
