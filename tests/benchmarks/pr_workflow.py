#!/usr/bin/env python3
"""Wall time of the pull-request workflow under act for the default project, cold and warm.

    python3 tests/benchmarks/pr_workflow.py

Bakes the default project, opens a pull request that changes one hyperparameter, and runs
.github/workflows/pr-report.yml with act twice: cold (empty DVC and artifact caches) and
warm (the same pull request again: every stage should come from DVC's run-cache). Prints
the whole run and each step of the report job, as act timed them; "Write the report" is
the report command's own time. Needs the template's tools: run `python3 tests/tasks.py test`
once first (it creates .venv), then use .venv/bin/python.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from actrunner import Act, git, pull_request_event  # tests/ is not a package: imported by path
from bakery import bake

STEP = re.compile(r"Reproduce main and this pull request, report, gate\]\s+✅  Success - Main (.+?) \[([\d.]+)(m?s)\]")


def step_seconds(log: str) -> dict[str, float]:
    steps = {}
    for name, value, unit in STEP.findall(log):
        steps[name] = float(value) / (1000 if unit == "ms" else 1)
    return steps


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="pr-bench-") as folder:
        root = Path(folder)
        project = bake(root / "out")
        git(project, "remote", "add", "origin", "https://github.com/acme/tumour-classifier.git")
        git(project, "checkout", "--quiet", "-b", "more-trees")
        params = project / "params.yaml"
        params.write_text(params.read_text().replace("n_estimators: 100", "n_estimators: 150"))
        git(project, "commit", "--quiet", "--all", "-m", "More trees")
        act = Act(project, root / "act")
        results = []
        for label in ("cold", "warm"):
            start = time.perf_counter()
            run = act.run("pr-report.yml", "pull_request", pull_request_event(project, 1, "synchronize"))
            results.append((label, time.perf_counter() - start, run))
            if run.returncode != 0:
                print(run.log[-4000:])
                return 1
    print(f"\n{'':44}" + "".join(f"{label:>10}" for label, _, _ in results))
    print(f"{'whole workflow (act, both jobs)':44}" + "".join(f"{seconds:>9.1f}s" for _, seconds, _ in results))
    steps = [step_seconds(run.log) for _, _, run in results]
    for name in steps[0]:
        print(f"  {name[:42]:42}" + "".join(f"{s.get(name, 0):>9.1f}s" for s in steps))
    retrained = ["yes" if "Running stage 'train'" in run.log else "no" for _, _, run in results]
    print(f"{'trained a model':44}" + "".join(f"{r:>10}" for r in retrained))
    return 0


if __name__ == "__main__":
    sys.exit(main())
