#!/usr/bin/env python3
"""What preparing raw rows costs: each pipeline stage on a mixed table next to the same table in numbers.

    python3 tests/benchmarks/raw_pipeline.py [--rows 100000] [--model hist_gradient_boosting]

Bakes one default project, writes two tables of the same rows (tests/tables.py
`wide_table`): 20 numeric and 5 categorical columns with 5% empty cells, and the same with
each category as its integer code. For each, it describes the table in the project's data
contract, then runs the stages (`data`, `train`, `export`, `evaluate`) one by one, as
`dvc repro` would, and prints each stage's wall time and peak memory (the child's maximum
resident set), then the mixed table's cost as a ratio of the numeric one's. The two tables
run interleaved, `--rounds` times each, and each stage's fastest run counts, so the ratio
holds on a shared, noisy machine (the first run of all also warms the caches).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tasks import TEMPLATE, TOOLS_BIN, project_env, tools_env  # tests/ is not a package: imported by path

STAGES = ["data", "train", "export", "evaluate"]
TABLES = Path(__file__).resolve().parents[1] / "tables.py"
DESCRIBE = """
import sys
import pandas as pd
from {package}.core import contract
frame = pd.read_csv(sys.argv[1], dtype=str)
contract.write(contract.infer(frame, "label", "classification"), "{package}")
"""


def measured(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run a command; return its wall seconds and its peak resident memory in MiB."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"error: `{' '.join(command)}` failed:\n{process.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def set_params(project: Path, model: str) -> None:
    text = (project / "params.yaml").read_text(encoding="utf-8")
    for before, after in (
        ("  source: sklearn ", "  source: file    "),
        ("  path: data/raw/data.csv", "  path: data/raw/table.csv"),
        ("  target: target ", "  target: label  "),
    ):
        assert before in text, f"params.yaml has no line {before!r}"
        text = text.replace(before, after, 1)
    text, count = re.subn(r"(?m)^  type: \w+", f"  type: {model}", text, count=1)
    assert count, "params.yaml has no model.type line"
    (project / "params.yaml").write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--model", default="hist_gradient_boosting", help="model.type to train (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each table, interleaved; the fastest counts")
    args = parser.parse_args()
    tools_env()
    env = project_env()
    results: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="raw-pipeline-bench-") as folder:
        out = Path(folder)
        cookiecutter = [str(TOOLS_BIN / "cookiecutter"), "--no-input", "--output-dir", str(out), str(TEMPLATE)]
        subprocess.run(cookiecutter, env=env, check=True, capture_output=True)
        (project,) = [path for path in out.iterdir() if path.is_dir()]
        uv = [str(TOOLS_BIN / "uv"), "sync", "--python", sys.executable]
        subprocess.run(uv, cwd=project, env=env, check=True, capture_output=True)
        python, command = project / ".venv/bin/python", str(project / ".venv/bin" / project.name.replace("-", "_"))
        set_params(project, args.model)
        package = project.name.replace("-", "_")
        for _ in range(args.rounds):
            for kind in ("numeric", "mixed"):
                table = project / "data/raw/table.csv"
                flags = ["--numeric-only"] if kind == "numeric" else []
                subprocess.run([str(python), str(TABLES), "wide", str(args.rows), str(table), *flags], check=True)
                describe = DESCRIBE.format(package=package)
                subprocess.run([str(python), "-c", describe, str(table)], cwd=project, env=env, check=True)
                for stage in STAGES:
                    seconds, mib = measured([command, stage], project, env)
                    best = results.setdefault(kind, {}).get(stage, (float("inf"), 0.0))
                    results[kind][stage] = (min(best[0], seconds), max(best[1], mib))

    print(f"\n{args.rows:,} rows, model {args.model}: 20 numeric + 5 categorical columns, 5% empty cells")
    print(f"{'stage':<10}{'numeric s':>11}{'mixed s':>10}{'ratio':>8}{'numeric MiB':>13}{'mixed MiB':>11}")
    for stage in [*STAGES, "total"]:
        if stage == "total":
            numeric = (sum(s for s, _ in results["numeric"].values()), max(m for _, m in results["numeric"].values()))
            mixed = (sum(s for s, _ in results["mixed"].values()), max(m for _, m in results["mixed"].values()))
        else:
            numeric, mixed = results["numeric"][stage], results["mixed"][stage]
        ratio = mixed[0] / numeric[0]
        print(f"{stage:<10}{numeric[0]:>11.1f}{mixed[0]:>10.1f}{ratio:>8.2f}{numeric[1]:>13.0f}{mixed[1]:>11.0f}")
    print("target: the mixed table's total within 1.33x the numeric one's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
