#!/usr/bin/env python3
"""The Search workflow under act with 1, 2 and 4 runners: the matrix's speed-up, and what a trial costs on real runners.

    .venv/bin/python tests/benchmarks/search_runners.py [--trials 8] [--runners 1,2,4] [--template DIR] [--keep DIR]

It bakes the default project (classification, the breast-cancer sample), reproduces and
commits main and pushes it to a bare `origin`, as tests/test_search_workflow.py does, then
dispatches .github/workflows/search.yml with act once per runner count, with the same
budget and a search name of its own (bench-r1, bench-r2, ...), each with its own act state
(artifacts) folder. For each run it prints:

- the whole workflow's wall seconds as act ran it (and the CPU seconds of every process it
  started), and the speed-up over the first runner count;
- each job's wall seconds (plan, each search shard, collect, propose): act prints no
  timestamps and no job times, so act's output is read line by line as it comes and each
  line keeps its arrival time; a job's time runs from its first line (`[Search/<job name>]`)
  to its last (`🏁  Job succeeded`). Step times are act's own (`✅  Success - Main ... [1.2s]`);
- inside each shard: its trials' seconds (the `seconds` of each experiment's
  reports/search.json, fetched from origin after the propose job pushed them; with
  search.workers > 1 a batch's wall time shared among its trials, so they add up to the
  time spent fitting), and the fixed overhead of the shard (its job time minus its trials'
  seconds), split into the steps around the search (checkout, Python, uv sync, `dvc repro
  data`, bundle, upload) and the search step beyond its fits (interpreter, imports, data,
  recording that the next fits did not hide).

Then an estimate for real runners, one machine per runner: wall ≈ plan + a shard's fixed
overhead + the largest shard's trials times the seconds per trial + collect + propose, with plan,
the fixed overhead and the seconds per trial from the first runner count's run (one shard
with this machine to itself, so each runner is assumed as fast as this whole machine
running one shard with the project's search.workers), and collect and propose from each
count's own run. Job start latency on GitHub (queueing, a runner's boot) is not in it, and
uv sync here installs from this machine's uv cache where a runner downloads. Also the
per-trial overhead that remains: the fixed overhead spread over a shard's trials.

act runs a matrix's shards at once on this one machine (act 0.2.89 starts all of them, even
more than it has cores; each run prints how many overlapped): on 2 cores, 2 or 4 runners
share the CPU one runner had, so the speed-up measured here is not the one real runners
give; the estimate is. The search step's time beyond its fits is mostly once per shard (the
interpreter, imports and data, and a first recording slower than the next, which the next
fits hide), partly per trial: the estimate shows both ends. Not a timed test: figures depend on
the machine and its load. Needs the template's tools: `python3 tasks.py test` once (it
creates .venv), then use .venv/bin/python.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tasks.py
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import actrunner  # tests/ is not a package: imported by path
from actrunner import Act, git, reproduce_and_commit
from bakery import TEMPLATE, TOOLS_BIN, bake
from tasks import cpu_of_children

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
REPOSITORY = {"full_name": "acme/tumour-classifier", "default_branch": "main"}
LINE = re.compile(r"^\[Search/(.+?)\]\s")  # act's prefix: the workflow's name, the job's name
STEP = re.compile(r"✅  Success - Main (.+?) \[([\dhms.µ]+)\]")
GO_DURATION = re.compile(r"([\d.]+)(h|ms|µs|m|s)")  # how act prints a step's time: 1m2.5s, 850ms
UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "µs": 1e-6}
SHARD = re.compile(r"shard (\d+)")
TRIALS_STEP = "Run this shard's trials"


class StampedSubprocess:
    """`subprocess` for actrunner: act's output read as it comes, each line with its arrival time.

    Act.run captures act's output whole; this keeps its interface (the log it returns is the
    same text, stdout then stderr merged in order) and records when each line arrived.
    """

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def __getattr__(self, name: str):
        return getattr(subprocess, name)

    def run(self, command, **kwargs):
        if Path(command[0]).name != "act":
            return subprocess.run(command, **kwargs)
        self.lines = []
        with subprocess.Popen(
            command, cwd=kwargs.get("cwd"), env=kwargs.get("env"), text=True, encoding="utf-8", errors="replace",
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        ) as process:  # fmt: skip
            for line in process.stdout:
                self.lines.append((time.perf_counter(), line))
        return subprocess.CompletedProcess(command, process.returncode, "".join(line for _, line in self.lines), "")


@dataclass
class Job:
    name: str
    first: float
    last: float
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.last - self.first


@dataclass
class Run:
    runners: int
    wall: float
    cpu: float
    jobs: dict[str, Job]  # by act's job name, in the order they started
    fits: dict[int, list[float]]  # shard -> its trials' seconds

    def job(self, prefix: str) -> Job:
        (found,) = [job for name, job in self.jobs.items() if name.startswith(prefix)]
        return found

    def shards(self) -> dict[int, Job]:
        return {int(SHARD.search(name)[1]): job for name, job in self.jobs.items() if SHARD.search(name)}

    def at_once(self) -> int:
        """The most search shards act ran at the same time."""
        spans = [(job.first, job.last) for job in self.shards().values()]
        return max(sum(start <= moment <= end for start, end in spans) for moment, _ in spans)


def duration(text: str) -> float:
    return sum(float(value) * UNIT_SECONDS[unit] for value, unit in GO_DURATION.findall(text))


def jobs_of(lines: list[tuple[float, str]]) -> dict[str, Job]:
    jobs: dict[str, Job] = {}
    for moment, line in lines:
        prefix = LINE.match(line)
        if not prefix:
            continue
        job = jobs.setdefault(prefix[1], Job(prefix[1], moment, moment))
        job.last = moment
        step = STEP.search(line)
        if step:
            job.steps[step[1]] = job.steps.get(step[1], 0.0) + duration(step[2])
    return jobs


def trial_seconds(project: Path, origin: Path, name: str) -> dict[int, list[float]]:
    """Each shard's trials' seconds, from the experiments origin holds for this search."""
    git(project, "fetch", "--quiet", str(origin), "+refs/exps/*:refs/exps/*")
    fits: dict[int, list[float]] = {}
    for ref in git(project, "for-each-ref", "--format=%(refname)", "refs/exps/").splitlines():
        if not re.fullmatch(re.escape(name) + r"-(s\d+-)?t\d{3}", ref.rsplit("/", 1)[1]):
            continue
        record = json.loads(git(project, "show", f"{ref}:reports/search.json"))
        fits.setdefault(int(record["shard"].split("/")[0]), []).append(float(record["seconds"]))
    return fits


def dispatch(project: Path, origin: Path, state: Path, trials: int, runners: int, stamped: StampedSubprocess) -> Run:
    name = f"bench-r{runners}"
    event = {"inputs": {"trials": trials, "runners": runners, "name": name}, "repository": REPOSITORY}
    act = Act(project, state)
    start, cpu_before = time.perf_counter(), cpu_of_children()
    done = act.run("search.yml", "workflow_dispatch", event)
    wall, cpu = time.perf_counter() - start, cpu_of_children() - cpu_before
    if done.returncode != 0:
        print(done.log[-4000:])
        sys.exit(f"error: the search with {runners} runners failed; see {act.state}/act-{act.runs}.log")
    fits = trial_seconds(project, origin, name)
    if sum(len(seconds) for seconds in fits.values()) != trials:
        sys.exit(f"error: origin holds {sum(map(len, fits.values()))} experiments of {name}, not {trials}")
    lines = [(round(moment - start, 3), line) for moment, line in stamped.lines]
    (state / "lines.json").write_text(json.dumps(lines), encoding="utf-8")  # act's output with times, for a re-read
    return Run(runners, wall, cpu, jobs_of(stamped.lines), fits)


def report(run: Run, first: Run) -> None:
    shards = run.shards()
    print(
        f"\n{run.runners} runner(s): wall {run.wall:.1f} s as act ran it (CPU {run.cpu:.1f} s), "
        f"speed-up over {first.runners}: {first.wall / run.wall:.2f}x; shards act ran at once: {run.at_once()}"
    )
    header = f"{'wall s':>8}{'trials':>8}{'fits s':>8}{'fixed s':>9}{'setup+hand-on s':>17}{'search-fits s':>15}"
    print(f"  {'job':34}{header}")
    print(f"  {'plan':34}{run.job('Plan').seconds:8.1f}")
    for index, job in sorted(shards.items()):
        fits = run.fits.get(index, [])
        search_step = job.steps.get(TRIALS_STEP, 0.0)
        around = job.seconds - search_step  # checkout, Python, uv sync, dvc repro data, bundle, upload
        print(
            f"  {f'shard {index}':34}{job.seconds:8.1f}{len(fits):8d}{sum(fits):8.1f}{job.seconds - sum(fits):9.1f}"
            f"{around:17.1f}{search_step - sum(fits):15.1f}"
        )
    for label, prefix in (("collect", "Collect"), ("propose", "Push")):
        print(f"  {label:34}{run.job(prefix).seconds:8.1f}")
    critical = run.job("Plan").seconds + max(job.seconds for job in shards.values())
    critical += run.job("Collect").seconds + run.job("Push").seconds
    print(f"  {'between jobs and act itself':34}{run.wall - critical:8.1f}")
    slowest = max(shards.values(), key=lambda job: job.seconds)
    steps = ", ".join(f"{step} {seconds:.1f}" for step, seconds in slowest.steps.items())
    print(f"  steps of the slowest shard (act's times, s): {steps}")


def estimate(runs: list[Run], trials: int) -> None:
    base = min(runs, key=lambda run: run.runners)
    index, shard = max(base.shards().items(), key=lambda item: item[1].seconds)
    fits = base.fits[index]
    per_fit = sum(fits) / len(fits)
    search_step = shard.steps.get(TRIALS_STEP, 0.0)
    beyond = search_step - sum(fits)  # the search's interpreter, imports, data, and recording the fits did not hide
    around = shard.seconds - search_step  # checkout, Python, uv sync, dvc repro data, bundle, upload
    plan = base.job("Plan").seconds
    print(
        f"\nOn real runners, one machine each, as fast as this machine running one shard alone "
        f"(from the {base.runners}-runner run; GitHub's job start latency and package downloads not included):"
    )
    print(
        f"  a trial's fits {per_fit:.1f} s; a shard's fixed overhead {shard.seconds - sum(fits):.1f} s: setup and "
        f"hand-on {around:.1f} s, the search step beyond its fits {beyond:.1f} s"
    )
    print(
        f"  the search step beyond its fits counted per trial ({beyond / len(fits):.2f} s each, the low figures) "
        "or once per shard (the high ones)"
    )
    print(f"  {'runners':>8}{'trials/shard':>14}{'estimate s':>14}{'speed-up':>14}{'overhead/trial s':>18}")
    first = 0.0
    for run in runs:
        per_shard = math.ceil(trials / run.runners)
        rest = plan + around + per_shard * per_fit + run.job("Collect").seconds + run.job("Push").seconds
        low, high = rest + per_shard * beyond / len(fits), rest + beyond
        first = first or high
        overhead = f"{around / per_shard + beyond / len(fits):.1f}-{(around + beyond) / per_shard:.1f}"
        print(
            f"  {run.runners:8d}{per_shard:14d}{f'{low:.1f}-{high:.1f}':>14}"
            f"{f'{first / high:.2f}-{first / low:.2f}x':>14}{overhead:>18}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=8, help="the budget, the same for every runner count")
    parser.add_argument("--runners", default="1,2,4", help="runner counts, comma-separated; the first is the base")
    parser.add_argument("--template", type=Path, default=TEMPLATE, help="bake another checkout of the template")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (the project, origin, act's logs)")
    args = parser.parse_args()
    counts = [int(count) for count in args.runners.split(",")]
    # As the template's tests run: its tools on PATH, and bytecode cached as on a runner.
    os.environ["PATH"] = os.pathsep.join([str(TOOLS_BIN), os.environ["PATH"]])
    os.environ["UV_PYTHON_DOWNLOADS"] = "never"
    os.environ.pop("VIRTUAL_ENV", None)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="search-runners-"))
    project = bake(folder / "out", template=args.template.resolve(), python_version=PYTHON)
    origin = folder / "origin.git"
    git(folder, "init", "--quiet", "--bare", str(origin))
    git(project, "remote", "add", "origin", str(origin))
    reproduce_and_commit(project)
    git(project, "push", "--quiet", "origin", "main")
    stamped = StampedSubprocess()
    actrunner.subprocess = stamped  # act's output line by line, with times (Act.run is otherwise unchanged)
    print(f"{os.cpu_count()} cores; {args.trials} trials; runners {args.runners}; work in {folder}", flush=True)
    runs = []
    for count in counts:
        runs.append(dispatch(project, origin, folder / f"act-r{count}", args.trials, count, stamped))
        print(f"{count} runner(s): {runs[-1].wall:.1f} s", flush=True)
    for run in runs:
        report(run, runs[0])
    estimate(runs, args.trials)
    print(
        f"\nCaveat: act ran up to {max(run.at_once() for run in runs)} shards at once on this machine's "
        f"{os.cpu_count()} cores: more runners here share the same CPU, so the measured speed-up is not what "
        "separate machines give; the estimate above is."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
