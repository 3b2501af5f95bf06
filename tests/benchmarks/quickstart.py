#!/usr/bin/env python3
"""Seconds of each phase of the quick-start loop: bake, environment, dvc repro, pytest, no-op dvc repro.

    python3 tests/benchmarks/quickstart.py [--runs N] [--before OTHER_TEMPLATE]

Each run bakes a fresh default project in a temporary folder. The first run also fills the
package caches (uv's and pip's); the targets are for a warm cache, so compare the later runs:
the whole loop within 40 s, a no-op `dvc repro` within 2 s (on a 2-core machine). With
`--before`, a checkout of another commit of the template runs too, interleaved run by run,
so a busy machine slows both alike. Each phase shows wall seconds and, in brackets, the CPU
seconds of its commands (user and system), which other work on a shared machine inflates
far less than the wall time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tasks import TEMPLATE, quickstart  # tests/ is not a package: imported by path

TARGETS = {"total": 40.0, "dvc repro (no-op)": 2.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2, help="loops of each template; the first warms the caches")
    parser.add_argument("--before", type=Path, help="another checkout of the template, run interleaved with this one")
    args = parser.parse_args()
    templates = {"this": TEMPLATE} | ({"before": args.before.resolve()} if args.before else {})
    results: list[tuple[str, dict[str, tuple[float, float]]]] = []
    for number in range(args.runs):
        for name, template in templates.items():
            with tempfile.TemporaryDirectory(prefix="quickstart-bench-") as folder:
                seconds, _ = quickstart(Path(folder), template)
            seconds["total"] = (sum(w for w, _ in seconds.values()), sum(c for _, c in seconds.values()))
            results.append((f"{name} {number + 1}", seconds))

    print(f"\n{'phase':<20}" + "".join(f"{label:>18}" for label, _ in results) + "    target")
    for phase in results[0][1]:
        row = "".join(f"{run[phase][0]:>8.1f}s ({run[phase][1]:>5.1f}s)" for _, run in results)
        target = f"<= {TARGETS[phase]:.0f} s" if phase in TARGETS else ""
        print(f"{phase:<20}{row}    {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
