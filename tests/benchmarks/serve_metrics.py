#!/usr/bin/env python3
"""What the model's traffic metrics cost the service: single-row /predict with and without them, in one run.

    python3 tests/benchmarks/serve_metrics.py --before DIR [--task classification] [--seconds 10]
                                              [--rounds 2] [--log-level warning] [--keep DIR]

`--before DIR` is a checkout of the template without the metrics (for example
`git worktree add /tmp/before <commit>`). Both templates are baked with the same answers
(`--task`) and reproduced; each project's service runs as a subprocess, and a third runs this
template's service with the sampled log of scored rows on (`--log-rows 0.05` to a folder), the
cost of the opt-in log. The client is serve_batches.py's: a separate process, one keep-alive
connection, one request in flight, the request prebuilt as bytes. For 1 and 100 rows of the
test split per request, the services take turns of a second until each had `--seconds`, so a
machine whose load changes slows each alike. Each round prints requests/s, p50, p99 and the
server's CPU time per request (its process's, from /proc: what other processes disturb
least), then the ratios to the service without the metrics. At `--log-level warning` (the default
here) no line is logged per request, so the metrics' share of the time is the largest it can be;
`info` is how the service runs by default. The issue's target: the metrics
cost at most 10% of single-row throughput. Not a timed test: figures depend on the machine
and its load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from serve_batches import (  # the benchmark beside this one: the same client and server handling
    HOST,
    PACKAGE,
    SLICE_SECONDS,
    SLICE_WARMUP_SECONDS,
    WARMUP_SECONDS,
    Server,
    cpu_seconds,
    drive,
    figures,
    step,
)

from tasks import TEMPLATE, TOOLS_BIN, project_env, tools_env

TARGET = 0.90  # the metrics may cost at most 10% of single-row throughput
LOG_SHARE = "0.05"
BODIES = """
import json, sys
from {package}.pipeline import export
from {package}.pipeline.data import load_split
_, test, schema = load_split()
rows = export.request_rows(test[schema.features].head(100), schema.feature_types)
json.dump({{"1": {{"rows": rows[:1]}}, "100": {{"rows": rows}}}}, open(sys.argv[1], "w"))
"""


def reproduced(template: Path, folder: Path, task: str, env: dict[str, str]) -> Path:
    """A project baked from `template` with `task`, its environment synced and its pipeline reproduced."""
    if (folder / "done").is_file():  # --keep: reproduced by an earlier run
        return Path((folder / "done").read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    bake = [str(TOOLS_BIN / "cookiecutter"), "--no-input", "--output-dir", str(folder), str(template), f"task={task}"]
    step(bake, folder, env)
    (project,) = [path for path in folder.iterdir() if path.is_dir()]
    step([str(TOOLS_BIN / "uv"), "sync", "--locked", "--python", sys.executable], project, env)
    step([str(project / ".venv/bin/dvc"), "repro"], project, {**env, "PATH": f"{project / '.venv/bin'}:{env['PATH']}"})
    (folder / "done").write_text(str(project), encoding="utf-8")
    return project


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the template without the metrics")
    parser.add_argument("--task", default="classification", choices=["classification", "regression"])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per scenario and round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over every scenario")
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["info", "warning"],
        help="the services' (default: %(default)s: no line per request, so the metrics' share is the largest)",
    )
    parser.add_argument("--keep", type=Path, help="bake here and keep the projects (default: a temporary folder)")
    args = parser.parse_args()

    tools_env()
    env = {**project_env(), "OMP_NUM_THREADS": "1"}  # as the image runs the service
    with tempfile.TemporaryDirectory(prefix="serve-metrics-bench-") as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        before = reproduced(args.before.resolve(), folder / "before", args.task, env)
        after = reproduced(TEMPLATE, folder / "after", args.task, env)
        bodies_path = folder / "bodies.json"
        step([str(after / ".venv/bin/python"), "-c", BODIES.format(package=PACKAGE), str(bodies_path)], after, env)
        bodies = {rows: json.dumps(body).encode() for rows, body in json.loads(bodies_path.read_text()).items()}
        commands = {
            "before": (before, []),
            "metrics": (after, []),
            "metrics+log": (after, ["--log-rows", LOG_SHARE, "--log-rows-to", str(folder / "logged-rows")]),
        }
        servers: dict[str, Server] = {}
        try:
            for name, (project, options) in commands.items():
                command = [str(project / ".venv/bin" / PACKAGE), "serve", "--host", HOST, "--port", "{port}"]
                command += ["--log-level", args.log_level, *options]
                servers[name] = Server(name, command, project, env, "/predict", folder / f"{name}.log")
                servers[name].wait_ready("/ready")
            for name, server in servers.items():
                for rows, body in bodies.items():
                    status, answer = server.post(body)
                    if status != 200:
                        raise SystemExit(f"{name} refused {rows} rows: {status} {answer[:500]!r}")
            results = rounds(servers, bodies, args.seconds, args.rounds)
        finally:
            for server in servers.values():
                server.stop()
        logged = sum(1 for path in (folder / "logged-rows").glob("*.jsonl") for _ in path.open())
    report(results, args, logged)
    return 0


def rounds(servers: dict[str, Server], bodies: dict[str, bytes], seconds: float, count: int) -> list[dict]:
    """Each round: per number of rows, the services in turns of SLICE_SECONDS until each had `seconds`."""
    results = []
    names = list(servers)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as client:
        for round_number in range(1, count + 1):
            print(f"\nround {round_number}")
            print(
                f"{'service':<12} {'rows':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} {'errors':>6}"
            )
            for rows, body in bodies.items():
                measured = {name: {"latencies": [], "errors": 0, "sent": 0, "cpu": 0.0} for name in names}
                for turn in range(max(1, round(seconds / SLICE_SECONDS))):
                    warmup = WARMUP_SECONDS if turn == 0 else SLICE_WARMUP_SECONDS
                    for name in names[turn % len(names) :] + names[: turn % len(names)]:  # no fixed order
                        server = servers[name]
                        start = cpu_seconds(server.process.pid)
                        done = client.submit(drive, server.port, server.path, body, SLICE_SECONDS, warmup).result()
                        totals = measured[name]
                        totals["cpu"] += cpu_seconds(server.process.pid) - start
                        totals["latencies"] += done["latencies"]
                        totals["errors"] += done["errors"]
                        totals["sent"] += done["sent"]
                for name, done in measured.items():
                    result = {"round": round_number, "service": name, "rows": int(rows), **figures(done)}
                    results.append(result)
                    print(
                        f"{name:<12} {rows:>4} {result['requests_per_second']:>8.0f} {result['p50_ms']:>8.3f} "
                        f"{result['p99_ms']:>8.3f} {result['cpu_ms']:>10.3f} {result['errors']:>6}",
                        flush=True,
                    )
    return results


def report(results: list[dict], args: argparse.Namespace, logged: int) -> None:
    print(f"\nsummary ({args.task}): each service against the one without the metrics, same rows per request")
    print("  requests/s over before's (target at 1 row: >= 0.90); CPU time per request over before's")
    for round_number in sorted({result["round"] for result in results}):
        mine = [result for result in results if result["round"] == round_number]
        for rows in sorted({result["rows"] for result in mine}):
            base = next(r for r in mine if r["service"] == "before" and r["rows"] == rows)
            for result in mine:
                if result["service"] == "before" or result["rows"] != rows:
                    continue
                throughput = result["requests_per_second"] / base["requests_per_second"]
                cpu = result["cpu_ms"] / base["cpu_ms"]
                verdict = ""
                if rows == 1 and result["service"] == "metrics":
                    verdict = "  target met" if throughput >= TARGET else "  below target"
                print(
                    f"  round {round_number}: {result['service']:<12} {rows:>3} rows  req/s {throughput:5.3f}x  "
                    f"CPU/req {cpu:5.3f}x{verdict}"
                )
    print(f"  the log at share {LOG_SHARE} wrote {logged} rows")
    print(
        f"conditions: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end, 1 connection, "
        f"{args.seconds:g} s per scenario and round in turns of {SLICE_SECONDS:g} s, after a "
        f"{WARMUP_SECONDS:g} s warm-up; services at --log-level {args.log_level}, OMP_NUM_THREADS=1"
    )


if __name__ == "__main__":
    sys.exit(main())
