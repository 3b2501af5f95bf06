#!/usr/bin/env python3
"""Wall time of the pull-request workflow under act for the default project, cold and warm.

    .venv/bin/python tests/benchmarks/pr_workflow.py [--before OTHER_TEMPLATE] [--rounds N]

For each template (this one, and OTHER_TEMPLATE when given: a checkout of another commit of
the template, to compare before and after in the same run), it bakes the default project,
reproduces and commits `main` as a merge leaves it, opens a pull request that changes one
hyperparameter, and runs .github/workflows/pr-report.yml with act:

- cold: no cache at all (act's cache store is empty: no DVC cache, no environment);
- warm: CI has run on `main` (ci.yml's `test` job, not timed) and saved what it saves there.

The runs are interleaved (round by round, template by template), so a busy machine slows
both sides alike. It prints, per run, the whole workflow (both jobs, as act ran them) in wall
and CPU seconds (the CPU of every process the run started, which a busy machine inflates far
less than the wall time), each step of the report job as act timed it, and how many times
each stage ran (both sides together). Python's package
downloads come from this machine's uv cache in both cases (the setup-uv stand-in uses it;
GitHub's runner would download them). Needs the template's tools: run
`python3 tasks.py test` once first (it creates .venv), then use .venv/bin/python.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tasks.py
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from actrunner import Act, git, pull_request_event, reproduce_and_commit  # tests/ is not a package
from bakery import TEMPLATE, TOOLS_BIN, bake
from tasks import cpu_of_children

REPORT_JOB = "Reproduce main and this pull request, report, gate"
STEP = re.compile(re.escape(REPORT_JOB) + r"\]\s+✅  Success - Main (.+?) \[([\dhms.µ]+)\]")
GO_DURATION = re.compile(r"([\d.]+)(h|ms|µs|m|s)")  # how act prints a step's time: 1m2.5s, 850ms
UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "µs": 1e-6}
REPOSITORY = {"full_name": "acme/tumour-classifier", "name": "tumour-classifier", "owner": {"login": "acme"}}
HYPERPARAMETER = re.compile(r"(  hyperparameters:[^\n]*\n    \w+: )(\d+)")


def step_seconds(log: str) -> dict[str, float]:
    steps = {}
    for name, duration in STEP.findall(log):
        steps[name] = sum(float(value) * UNIT_SECONDS[unit] for value, unit in GO_DURATION.findall(duration))
    return steps


def change_one_hyperparameter(project: Path) -> None:
    """Raise the first integer hyperparameter of params.yaml by half, as a tuning pull request does."""
    params = project / "params.yaml"
    text = params.read_text(encoding="utf-8")
    if not HYPERPARAMETER.search(text):
        sys.exit(f"error: {params} has no integer hyperparameter first under `model.hyperparameters`")
    params.write_text(HYPERPARAMETER.sub(lambda m: f"{m[1]}{int(m[2]) * 3 // 2 + 1}", text, count=1))
    git(project, "commit", "--quiet", "--all", "-m", "Tune the model")


def prepare(template: Path, folder: Path) -> tuple[Path, Act]:
    """A baked project whose main is reproduced and on which CI ran (for the warm run), on a tuning branch."""
    project = bake(folder / "out", template=template)
    git(project, "remote", "add", "origin", "https://github.com/acme/tumour-classifier.git")
    reproduce_and_commit(project)
    warm = Act(project, folder / "warm")
    run = warm.run("ci.yml", "push", {"ref": "refs/heads/main", "repository": REPOSITORY}, job="test")
    if run.returncode != 0:
        sys.exit(f"error: CI on main failed; see {warm.state}/act-{warm.runs}.log")
    git(project, "checkout", "--quiet", "-b", "tune")
    change_one_hyperparameter(project)
    return project, warm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="another checkout of the template, run interleaved with this one")
    parser.add_argument("--rounds", type=int, default=1, help="cold and warm runs of each template")
    args = parser.parse_args()
    # As the template's tests run: its tools on PATH, and bytecode cached as on a runner.
    os.environ["PATH"] = os.pathsep.join([str(TOOLS_BIN), os.environ["PATH"]])
    os.environ["UV_PYTHON_DOWNLOADS"] = "never"
    os.environ.pop("VIRTUAL_ENV", None)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    templates = {"this": TEMPLATE} | ({"before": args.before.resolve()} if args.before else {})
    results: list[tuple[str, float, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="pr-bench-") as folder:
        root = Path(folder)
        for round_number in range(args.rounds):
            for name, template in templates.items():
                here = root / f"{name}-{round_number}"
                project, warm = prepare(template, here)
                for label, act in (("cold", Act(project, here / "cold")), ("warm", warm)):
                    event = pull_request_event(project, 1, "synchronize")
                    start, cpu_before = time.perf_counter(), cpu_of_children()
                    run = act.run("pr-report.yml", "pull_request", event)
                    seconds, cpu = time.perf_counter() - start, cpu_of_children() - cpu_before
                    if run.returncode != 0:
                        print(run.log[-4000:])
                        return 1
                    results.append((f"{name} {label}", seconds, cpu, run.log))
                    print(f"{name} {label}: {seconds:.1f} s, CPU {cpu:.1f} s", flush=True)

    print(f"\n{'':44}" + "".join(f"{label:>13}" for label, *_ in results))
    print(f"{'whole workflow (act, both jobs)':44}" + "".join(f"{seconds:>12.1f}s" for _, seconds, _, _ in results))
    print(f"{'  its CPU seconds (all processes)':44}" + "".join(f"{cpu:>12.1f}s" for _, _, cpu, _ in results))
    steps = [step_seconds(log) for *_, log in results]
    names = list(dict.fromkeys(name for run in steps for name in run))
    for name in names:
        print(f"  {name[:42]:42}" + "".join(f"{s.get(name, 0):>12.1f}s" for s in steps))
    for stage in ("data", "train", "export", "evaluate"):
        counts = [str(log.count(f"Running stage '{stage}'")) for *_, log in results]
        print(f"{'times stage ' + stage + ' ran':44}" + "".join(f"{c:>13}" for c in counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
