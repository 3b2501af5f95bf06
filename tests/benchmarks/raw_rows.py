#!/usr/bin/env python3
"""Raw rows at scale: `predict` on a 1,000,000-row mixed CSV, and the single-row `/predict` latency of a
mixed pipeline next to the numeric-only default, in one run.

    python tests/benchmarks/raw_rows.py [--rows 1000000] [--keep DIR]

(with the template's environment, e.g. /work/main/.venv/bin/python). It bakes one default project
(uv sync, dvc repro: the sample table, 30 numeric features) and measures its service with the
project's `benchmark` command (1 connection). Then it adopts a mixed table of --train-rows rows
(20 numeric and 5 categorical features, 5% of the cells empty, text classes: tests/tables.py's
`wide_table`) with the project's `adopt` command, reproduces, measures the service again, and
scores CSVs of the same shape with `predict`: --rows rows, and a tenth of them, to show whether
memory grows with the table. Peak memory is the child's maximum resident set size (getrusage).
Not a timed test: the figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ is not a package: imported by path
from bakery import TOOLS_BIN, bake

TABLES = Path(__file__).resolve().parents[1] / "tables.py"  # run with the project's Python: it needs pandas

PACKAGE = "tumour_classifier"
# Runs a command and prints its wall time and its peak resident memory (the largest child's, in KiB on Linux).
_MEASURE = (
    "import json, resource, subprocess, sys, time; start = time.perf_counter(); "
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "print(json.dumps({'seconds': time.perf_counter() - start, 'returncode': done.returncode, "
    "'max_rss_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, 'out': done.stdout + done.stderr}))"
)


def step(command: list[str], project: Path, env: dict[str, str]) -> str:
    print(f"$ {' '.join(command)}", flush=True)
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def single_row_p50(project: Path, env: dict[str, str], seconds: float) -> tuple[float, str]:
    """The service's p50 in ms for one row per request at one connection, and the benchmark's whole output."""
    out = step([PACKAGE, "benchmark", "--duration", str(seconds), "--connections", "1"], project, env)
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 9 and fields[:3] == ["1", "rows", "1"]:  # rows, as, connections
            return float(fields[5]), out
    raise SystemExit(f"no single-row line in the benchmark's output:\n{out}")


def scored(project: Path, env: dict[str, str], table: str) -> dict:
    command = [str(project / ".venv/bin/python"), "-c", _MEASURE, str(project / ".venv/bin" / PACKAGE), "predict"]
    result = json.loads(step([*command, table, f"scored-{table}"], project, env))
    if result["returncode"] != 0:
        raise SystemExit(f"predict {table} failed:\n{result['out']}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the table `predict` scores")
    parser.add_argument("--train-rows", type=int, default=20_000, help="rows of the mixed table the model learns")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per service scenario")
    parser.add_argument("--keep", type=Path, help="bake here and keep the project (default: a temporary folder)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="raw-rows-bench-") as temporary:
        folder = args.keep or Path(temporary)
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ['PATH']}"}
        os.environ["PATH"] = env["PATH"]  # the post-generation hook runs `dvc init`
        project = bake(folder / "out")
        step([str(TOOLS_BIN / "uv"), "sync", "--python", sys.executable], project, env)
        env["PATH"] = f"{project / '.venv/bin'}{os.pathsep}{env['PATH']}"
        step(["dvc", "repro"], project, env)
        numeric_p50, numeric_out = single_row_p50(project, env, args.seconds)

        start = time.perf_counter()
        python = str(project / ".venv/bin/python")
        step([python, str(TABLES), "wide", str(args.train_rows), "mixed.csv"], project, env)
        step([PACKAGE, "adopt", "mixed.csv", "--target", "label"], project, env)
        step(["dvc", "repro"], project, env)
        print(f"mixed table: dvc repro {time.perf_counter() - start:.0f} s", flush=True)
        runtime = json.loads((project / "models/serving.json").read_text())["runtime"]
        mixed_p50, mixed_out = single_row_p50(project, env, args.seconds)

        results = {}
        for rows in (args.rows // 10, args.rows):
            table = f"batch-{rows}.csv"
            start = time.perf_counter()
            step([python, str(TABLES), "wide", str(rows), table, "--seed", "1"], project, env)
            size = (project / table).stat().st_size / 2**20
            print(f"wrote {table}: {size:.0f} MiB in {time.perf_counter() - start:.0f} s", flush=True)
            results[rows] = scored(project, env, table)

    print("\n--- the default project (30 numeric features), service:\n" + numeric_out)
    print(f"--- the mixed table (20 numeric, 5 categorical, 5% empty; served by {runtime}), service:\n" + mixed_out)
    print("summary")
    print(f"  single-row /predict p50, 1 connection: numeric-only {numeric_p50:.3f} ms, mixed {mixed_p50:.3f} ms")
    for rows, result in results.items():
        print(
            f"  predict {rows:>9,} rows: {result['seconds']:6.1f} s, {rows / result['seconds']:>9,.0f} rows/s, "
            f"peak memory {result['max_rss_kib'] / 1024:,.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
