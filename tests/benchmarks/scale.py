#!/usr/bin/env python3
"""The pipeline at scale: each stage's wall time and peak memory, the model's size and `predict`'s speed,
on seeded synthetic tables of 10k, 100k and 1M rows.

    python3 tests/benchmarks/scale.py [--rows 10000,100000,1000000] [--kinds numeric,mixed]
                                      [--template DIR] [--keep DIR]

For each table it bakes a default project (classification), writes the table with
tests/tables.py (`wide_table`, seeded), makes it the project's data with the project's own
`adopt` command (the README's bring-your-own-table path), then runs `dvc repro` one stage
at a time (`dvc repro --single-item STAGE`, in the pipeline's order) and a last, no-op
`dvc repro`. It prints per stage the wall time and peak memory (the maximum resident set of
the stage's process tree), the sizes of the model files, the test metrics, and `predict`'s
rows/s and peak memory on a table of the same rows without the target.

- numeric: 30 numeric features, no empty cell.
- mixed: 25 numeric and 5 text categorical features, 5% of the cells empty.

Targets on 2 cores: 1M rows x 30 features within 3 minutes and 3 GB peak for the whole
`dvc repro`; 100k rows within 30 s; `predict` at least 200k rows/s, its memory independent
of the row count. `--template` runs another checkout of the template (an older commit, for
a before/after in one run). Not a timed test: figures depend on the machine and its load.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tasks import TEMPLATE, TOOLS_BIN, project_env, tools_env  # tests/ is not a package: imported by path

NOT_STAGES = ("adopt", "no-op repro", "predict")
TABLES = Path(__file__).resolve().parents[1] / "tables.py"
WRITE_TABLE = """
import sys
sys.path.insert(0, {tables_dir!r})
from tables import wide_table
rows, kind, seed, path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
categorical = 0 if kind == "numeric" else 5
frame = wide_table(rows, numeric=30 - categorical, categorical=categorical,
                   empty=0.0 if kind == "numeric" else 0.05, seed=seed)
if len(sys.argv) > 5:  # the table `predict` scores: the same shape, without the target
    frame = frame.drop(columns="label")
frame.to_csv(path, index=False)
"""


def measured(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run a command; return its wall seconds and the peak resident memory of its process tree in MiB."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read() if process.stderr else b""  # drained before waiting: a full pipe would block
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"error: `{' '.join(command)}` failed in {cwd}:\n{stderr.decode(errors='replace')[-4000:]}")
    # Linux reports KiB; a child's figure includes the descendants it waited for (DVC runs each stage's command).
    return seconds, usage.ru_maxrss / 1024


def stages(project: Path, env: dict[str, str]) -> list[str]:
    """The pipeline's stages in the order dvc.yaml lists them, which is the order `dvc repro` runs them."""
    names = "import yaml; print(*yaml.safe_load(open('dvc.yaml'))['stages'])"
    done = subprocess.run(["python", "-c", names], cwd=project, env=env, capture_output=True, text=True, check=True)
    return done.stdout.split()


def one_table(template: Path, folder: Path, kind: str, rows: int, env: dict[str, str]) -> dict:
    """Bake, adopt the table, reproduce stage by stage, score; the figures of one table."""
    out = folder / f"{kind}-{rows}"
    cookiecutter = [str(TOOLS_BIN / "cookiecutter"), "--no-input", "--output-dir", str(out), str(template)]
    subprocess.run(cookiecutter, env=env, check=True, capture_output=True)
    (project,) = [path for path in out.iterdir() if path.is_dir()]
    package = project.name.replace("-", "_")
    subprocess.run(
        [str(TOOLS_BIN / "uv"), "sync", "--locked", "--python", sys.executable],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    env = {**env, "PATH": f"{project / '.venv/bin'}{os.pathsep}{env['PATH']}"}
    python = str(project / ".venv/bin/python")
    write = WRITE_TABLE.format(tables_dir=str(TABLES.parent))
    subprocess.run([python, "-c", write, str(rows), kind, "0", "table.csv"], cwd=project, env=env, check=True)
    figures: dict = {"adopt": measured([package, "adopt", "table.csv", "--target", "label"], project, env)}
    for stage in stages(project, env):
        figures[stage] = measured(["dvc", "repro", "--single-item", stage], project, env)
    figures["no-op repro"] = measured(["dvc", "repro"], project, env)
    onnx = project / "models/onnx/model.onnx"
    figures["model MB"] = (project / "models/model.skops").stat().st_size / 1e6
    figures["onnx MB"] = onnx.stat().st_size / 1e6 if onnx.exists() else None
    figures["runtime"] = json.loads((project / "models/serving.json").read_text())["runtime"]
    figures["metrics"] = json.loads((project / "reports/metrics.json").read_text())
    subprocess.run([python, "-c", write, str(rows), kind, "1", "score.csv", "unlabelled"], cwd=project, check=True)
    seconds, mib = measured([package, "predict", "score.csv", "scored.csv"], project, env)
    figures["predict"] = (seconds, mib, rows / seconds)
    return figures


def stage_names(figures: dict) -> list[str]:
    """The pipeline stages among the figures: `dvc repro`'s work, without adopt, the no-op run and predict."""
    return [name for name, value in figures.items() if isinstance(value, tuple) and name not in NOT_STAGES]


def report(kind: str, rows: int, figures: dict) -> None:
    pipeline = [name for name, value in figures.items() if isinstance(value, tuple) and name != "predict"]
    repro = stage_names(figures)
    print(f"\n{kind}, {rows:,} rows x 30 features (served by {figures['runtime']})", flush=True)
    print(f"  {'step':<14}{'wall s':>9}{'peak MiB':>10}")
    for name in pipeline:
        seconds, mib = figures[name]
        print(f"  {name:<14}{seconds:>9.1f}{mib:>10.0f}")
    total = sum(figures[name][0] for name in repro)
    peak = max(figures[name][1] for name in repro)
    print(f"  {'dvc repro':<14}{total:>9.1f}{peak:>10.0f}   (the stages above, adopt and no-op excluded)")
    onnx = "none" if figures["onnx MB"] is None else f"{figures['onnx MB']:.1f} MB"
    print(f"  model: skops {figures['model MB']:.1f} MB, onnx {onnx}")
    metrics = ", ".join(f"{name} {value:.4f}" for name, value in figures["metrics"].items() if isinstance(value, float))
    print(f"  test metrics: {metrics}")
    seconds, mib, per_second = figures["predict"]
    print(f"  predict: {seconds:.1f} s, {per_second:,.0f} rows/s, peak {mib:.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="10000,100000,1000000", help="comma-separated row counts")
    parser.add_argument("--kinds", default="numeric,mixed", help="numeric, mixed or both (comma-separated)")
    parser.add_argument("--template", type=Path, default=TEMPLATE, help="the template to bake (default: this one)")
    parser.add_argument("--keep", type=Path, help="bake here and keep the projects (default: a temporary folder)")
    args = parser.parse_args()
    tools_env()
    env = project_env()
    os.environ["PATH"] = env["PATH"]  # the post-generation hook runs `dvc init` and `uv lock`
    row_counts = [int(value.replace("_", "")) for value in args.rows.split(",")]
    kinds = [kind for kind in args.kinds.split(",") if kind]
    unknown = sorted(set(kinds) - {"numeric", "mixed"})
    if unknown:
        parser.error(f"--kinds {unknown}: choose numeric, mixed or both")
    results = []
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as temporary:
        folder = args.keep or Path(temporary)
        for rows in row_counts:
            for kind in kinds:
                figures = one_table(args.template.resolve(), folder, kind, rows, env)
                report(kind, rows, figures)
                results.append((kind, rows, figures))
    print(f"\nsummary ({args.template.resolve()})")
    print(f"  {'table':<20}{'repro s':>9}{'peak MiB':>10}{'onnx MB':>9}{'predict rows/s':>16}{'predict MiB':>13}")
    for kind, rows, figures in results:
        repro = [figures[name] for name in stage_names(figures)]
        onnx = "-" if figures["onnx MB"] is None else f"{figures['onnx MB']:.1f}"
        _, predict_mib, per_second = figures["predict"]
        print(
            f"  {f'{kind} {rows:,}':<20}{sum(s for s, _ in repro):>9.1f}{max(m for _, m in repro):>10.0f}"
            f"{onnx:>9}{per_second:>16,.0f}{predict_mib:>13.0f}"
        )
    print("targets: 1M rows within 180 s and 3,072 MiB; 100k rows within 30 s; predict >= 200,000 rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
