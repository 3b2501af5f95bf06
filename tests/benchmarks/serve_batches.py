#!/usr/bin/env python3
"""Batches over HTTP: the project's service next to `mlflow models serve` on the same fitted model, in one run.

    python3 tests/benchmarks/serve_batches.py [--model TYPE] [--before DIR] [--seconds 5] [--rounds 2]
                                              [--keep DIR]

It bakes a default project (classification, the sample table) and reproduces it; `--model`
sets `model.type` in params.yaml first, with the estimator's default hyperparameters. Then
it installs MLflow with uv from PyPI into a private environment (with the project's
scikit-learn version), saves the project's fitted pipeline there with
`mlflow.sklearn.save_model` (answering `predict_proba`, with a signature inferred from the
test rows, so MLflow checks the input's types as the service does), and serves it with
`mlflow models serve --env-manager local --workers 1`. `--before DIR` bakes a second project
from another checkout of the template (main, for a before/after in the same run) and
measures its service too.

One client for every service: a separate process, one keep-alive connection, one request
in flight, the request prebuilt as HTTP/1.1 bytes on raw asyncio streams. Scenarios: 1 row
and 100 rows of the test split per request; the project's service as rows
(`{"rows": [...]}`) and, where it accepts them, as columns (`{"columns": {...}}`); MLflow as
`dataframe_split` (its column-named form). The scenarios of one row count take turns of a
second until each had `--seconds`, so a machine whose load changes slows each of them alike.
Every round prints requests/s (at one connection, the inverse of the mean latency, tail
included), p50, p99 and the server's CPU time per request (its process tree's, from /proc),
and the ratios to MLflow at the same row count: requests/s over MLflow's (the target: at
least 20 times at 100 rows), MLflow's p50 over the service's, and MLflow's CPU time per
request over the service's, which a busy machine disturbs least: a wake-up delayed by other
processes costs a fast service a larger share of its latency than a slow one. With
`--keep DIR` a second run reuses the projects and the MLflow model there. Not a timed test:
figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tasks import TEMPLATE, TOOLS_BIN, project_env, tools_env  # tests/ is not a package: imported by path

PACKAGE = "tumour_classifier"
HOST = "127.0.0.1"
WARMUP_SECONDS = 1.0  # before a scenario's first turn
SLICE_SECONDS = 1.0  # the services take turns: a busy machine slows each of them alike
SLICE_WARMUP_SECONDS = 0.1  # before each later turn (a new connection)
TARGET_RATIO = 20.0
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)

# Run with the project's Python: the first 100 rows of the test split as each service takes them.
BODIES = """
import json, sys
from {package}.pipeline import export
from {package}.pipeline.data import load_split
_, test, schema = load_split()
rows = export.request_rows(test[schema.features].head(100), schema.feature_types)
names = schema.features
bodies = {{}}
for count in (1, 100):
    bodies[f"rows {{count}}"] = {{"rows": rows[:count]}}
    bodies[f"columns {{count}}"] = {{"columns": {{name: [row[name] for row in rows[:count]] for name in names}}}}
    split = {{"columns": names, "data": [[row[name] for name in names] for row in rows[:count]]}}
    bodies[f"mlflow {{count}}"] = {{"dataframe_split": split}}
json.dump(bodies, open(sys.argv[1], "w"))
"""
# Run with the project's Python: the verified fitted pipeline, pickled for the MLflow environment.
PICKLE = """
import pickle, sys
from {package}.core import artifact
model, metadata = artifact.load_verified()
pickle.dump((model, metadata.task), open(sys.argv[1], "wb"))
"""
# Run with MLflow's Python: the same pipeline as an MLflow model.
SAVE = """
import json, pickle, sys
import pandas as pd
import mlflow.sklearn
from mlflow.models import infer_signature
sys.path.insert(0, sys.argv[3])  # the project's package, should the pipeline hold one of its classes
model, task = pickle.load(open(sys.argv[1], "rb"))
split = json.load(open(sys.argv[2]))["mlflow 100"]["dataframe_split"]
frame = pd.DataFrame(split["data"], columns=split["columns"])
method = "predict_proba" if task == "classification" else "predict"
mlflow.sklearn.save_model(
    model, sys.argv[4], serialization_format="cloudpickle", pyfunc_predict_fn=method,
    signature=infer_signature(frame, getattr(model, method)(frame)), code_paths=[sys.argv[5]],
)
"""


def step(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    shown = [part if "\n" not in part else "<script>" for part in map(str, command)]
    print(f"$ {' '.join(shown)}", flush=True)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(map(str, command))}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def reproduced(template: Path, folder: Path, model: str | None, env: dict[str, str]) -> Path:
    """A default project baked from `template`, its environment synced and its pipeline reproduced."""
    if (folder / "done").is_file():  # --keep: reproduced by an earlier run
        return Path((folder / "done").read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    step([str(TOOLS_BIN / "cookiecutter"), "--no-input", "--output-dir", str(folder), str(template)], folder, env)
    (project,) = [path for path in folder.iterdir() if path.is_dir()]
    if model:
        params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
        params["model"]["type"], params["model"]["hyperparameters"] = model, {}
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    step([str(TOOLS_BIN / "uv"), "sync", "--locked", "--python", sys.executable], project, env)
    step([str(project / ".venv/bin/dvc"), "repro"], project, {**env, "PATH": f"{project / '.venv/bin'}:{env['PATH']}"})
    (folder / "done").write_text(str(project), encoding="utf-8")
    return project


def mlflow_model(project: Path, bodies: Path, folder: Path, env: dict[str, str]) -> Path:
    """The project's fitted pipeline saved as an MLflow model, in a private environment with MLflow."""
    saved = folder / "mlflow-model"
    if saved.is_dir():  # --keep: saved by an earlier run
        return saved
    python = project / ".venv/bin/python"
    sklearn = step([str(python), "-c", "import sklearn; print(sklearn.__version__)"], project, env).strip()
    venv = folder / "mlflow-env"
    step([str(TOOLS_BIN / "uv"), "venv", "--quiet", "--clear", "--python", sys.executable, str(venv)], folder, env)
    install = [str(TOOLS_BIN / "uv"), "pip", "install", "--quiet", "--python", str(venv / "bin/python")]
    step([*install, "mlflow", f"scikit-learn=={sklearn}"], folder, env)
    pickled = folder / "model.pkl"
    step([str(python), "-c", PICKLE.format(package=PACKAGE), str(pickled)], project, env)
    package = project / "src" / PACKAGE
    save = [str(venv / "bin/python"), "-c", SAVE, str(pickled), str(bodies), str(package.parent), str(saved)]
    step([*save, str(package)], folder, env)
    print(step([str(venv / "bin/python"), "-c", "import mlflow; print(mlflow.__version__)"], folder, env).strip())
    return saved


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Server:
    """A service as a subprocess on a free loopback port, ready once `ready_path` answers 200."""

    def __init__(self, name: str, command: list[str], cwd: Path, env: dict[str, str], path: str, log: Path) -> None:
        self.name, self.path, self.port, self.log = name, path, free_port(), log
        command = [part.replace("{port}", str(self.port)) for part in command]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, ready_path: str, timeout: float = 180.0) -> float:
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}{ready_path}", timeout=2) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"{self.name} was not ready within {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")

    def post(self, body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"http://{HOST}:{self.port}{self.path}", body, {"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- the client (runs in its own process) -----------------------------------------------------------------


async def _connection(port: int, request: bytes, warmup_end: float, end: float, latencies: list[float]) -> dict:
    reader, writer = await asyncio.open_connection(HOST, port)
    errors = sent = 0
    try:
        while True:
            start = time.perf_counter()
            if start >= end:
                return {"errors": errors, "sent": sent}
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(int(_LENGTH.search(head).group(1)))
            sent += 1
            if start >= warmup_end:
                latencies.append(time.perf_counter() - start)
                errors += head[9:12] != b"200"
    finally:
        writer.close()


def drive(port: int, path: str, body: bytes, seconds: float, warmup: float) -> dict:
    """Latencies of every request after the warm-up, one connection, one request in flight; how many were
    sent in all (warm-up included), and the client's share of a CPU."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    latencies: list[float] = []

    async def main() -> dict:
        now = time.perf_counter()
        return await _connection(port, head.encode() + body, now + warmup, now + warmup + seconds, latencies)

    cpu = time.process_time()
    done = asyncio.run(main())
    return {**done, "latencies": latencies, "client_cpu": (time.process_time() - cpu) / (seconds + warmup)}


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        process = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(process)  # fields[1]: the parent's id
        times[process] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    total, todo = 0.0, [pid]
    while todo:
        process = todo.pop()
        total += times.get(process, 0.0)
        todo += children.get(process, [])
    return total


def figures(done: dict) -> dict:
    """A scenario's throughput, latency, server CPU per request and errors, from what ``drive`` measured."""
    latencies = done["latencies"]
    return {
        "requests_per_second": len(latencies) / sum(latencies),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "cpu_ms": done["cpu"] / done["sent"] * 1000,
        "errors": done["errors"],
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- the run -----------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model.type to train (default: the template's), e.g. hist_gradient_boosting")
    parser.add_argument("--before", type=Path, help="another checkout of the template, measured in the same run")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per scenario and round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over every scenario")
    parser.add_argument("--keep", type=Path, help="bake here and keep the projects (default: a temporary folder)")
    args = parser.parse_args()

    tools_env()
    env = project_env()
    with tempfile.TemporaryDirectory(prefix="serve-batches-bench-") as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        templates = {"service": TEMPLATE} | ({"before": args.before.resolve()} if args.before else {})
        projects = {name: reproduced(template, folder / name, args.model, env) for name, template in templates.items()}
        project = projects["service"]
        serving = json.loads((project / "models/serving.json").read_text(encoding="utf-8"))
        metadata = json.loads((project / "models/metadata.json").read_text(encoding="utf-8"))
        model_type = metadata["params"]["model"]["type"]
        print(f"model: {model_type}, served by {serving['runtime']}")
        bodies_path = folder / "bodies.json"
        step([str(project / ".venv/bin/python"), "-c", BODIES.format(package=PACKAGE), str(bodies_path)], project, env)
        bodies = {name: json.dumps(body).encode() for name, body in json.loads(bodies_path.read_text()).items()}
        saved = mlflow_model(project, bodies_path, folder, env)

        servers: dict[str, Server] = {}
        try:
            for name, path in projects.items():
                command = [str(path / ".venv/bin" / PACKAGE), "serve", "--host", HOST, "--port", "{port}"]
                servers[name] = Server(name, command, path, env, "/predict", folder / f"{name}.log")
                servers[name].wait_ready("/ready")
            mlflow_bin = folder / "mlflow-env/bin/mlflow"
            command = [str(mlflow_bin), "models", "serve", "-m", str(saved), "--env-manager", "local"]
            command += ["--host", HOST, "--port", "{port}", "--workers", "1"]
            mlflow_env = {**env, "PATH": f"{mlflow_bin.parent}:{env['PATH']}"}
            servers["mlflow"] = Server("mlflow", command, folder, mlflow_env, "/invocations", folder / "mlflow.log")
            servers["mlflow"].wait_ready("/ping")

            scenarios = []  # (server, body name, rows)
            for count in (1, 100):
                for name in projects:
                    scenarios.append((name, f"rows {count}", count))
                    status, answer = servers[name].post(bodies[f"columns {count}"])
                    if status == 200:
                        scenarios.append((name, f"columns {count}", count))
                    else:
                        print(f"{name}: columns not accepted ({status}): {answer[:200]!r}")
                scenarios.append(("mlflow", f"mlflow {count}", count))
            for server, body, _ in scenarios:
                status, answer = servers[server].post(bodies[body])
                if status != 200:
                    raise SystemExit(f"{server} refused {body}: {status} {answer[:500]!r}")
            results = rounds(servers, scenarios, bodies, args.seconds, args.rounds)
        finally:
            for server in servers.values():
                server.stop()
        report(results, f"{model_type} served by {serving['runtime']}", args)
    return 0


def rounds(servers: dict, scenarios: list, bodies: dict, seconds: float, count: int) -> list[dict]:
    """Each round: per number of rows, the scenarios in turns of SLICE_SECONDS until each had `seconds`."""
    results = []
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as client:
        for round_number in range(1, count + 1):
            print(f"\nround {round_number}")
            print(
                f"{'service':<8} {'body':<12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} "
                f"{'errors':>6} {'client CPU':>10}"
            )
            for rows in (1, 100):
                group = [scenario for scenario in scenarios if scenario[2] == rows]
                measured = {
                    scenario: {"latencies": [], "errors": 0, "sent": 0, "cpu": 0.0, "client": []} for scenario in group
                }
                for turn in range(max(1, round(seconds / SLICE_SECONDS))):
                    warmup = WARMUP_SECONDS if turn == 0 else SLICE_WARMUP_SECONDS
                    for scenario in group[turn % len(group) :] + group[: turn % len(group)]:  # no fixed order
                        server, body, _ = scenario
                        port, path, pid = servers[server].port, servers[server].path, servers[server].process.pid
                        before = cpu_seconds(pid)
                        done = client.submit(drive, port, path, bodies[body], SLICE_SECONDS, warmup).result()
                        totals = measured[scenario]
                        totals["cpu"] += cpu_seconds(pid) - before
                        totals["latencies"] += done["latencies"]
                        totals["errors"] += done["errors"]
                        totals["sent"] += done["sent"]
                        totals["client"].append(done["client_cpu"])
                for (server, body, _), done in measured.items():
                    result = {
                        "round": round_number,
                        "server": server,
                        "body": body.split()[0] if server != "mlflow" else "split",
                        "rows": rows,
                        **figures(done),
                    }
                    results.append(result)
                    print(
                        f"{server:<8} {body:<12} {result['requests_per_second']:>8.0f} {result['p50_ms']:>8.3f} "
                        f"{result['p99_ms']:>8.3f} {result['cpu_ms']:>10.3f} {result['errors']:>6} "
                        f"{statistics.mean(done['client']) * 100:>9.0f}%",
                        flush=True,
                    )
    return results


def report(results: list[dict], model: str, args: argparse.Namespace) -> None:
    print(f"\nsummary, {model}: the service against MLflow at the same number of rows per request")
    print(
        "  requests/s over MLflow's; MLflow's p50 over the service's; MLflow's CPU time per request over the service's"
    )
    for round_number in sorted({result["round"] for result in results}):
        mine = [result for result in results if result["round"] == round_number]
        for rows in (1, 100):
            mlflow = next(r for r in mine if r["server"] == "mlflow" and r["rows"] == rows)
            for result in mine:
                if result["server"] == "mlflow" or result["rows"] != rows:
                    continue
                throughput = result["requests_per_second"] / mlflow["requests_per_second"]
                latency = mlflow["p50_ms"] / result["p50_ms"]
                cpu = mlflow["cpu_ms"] / result["cpu_ms"]
                verdict = "" if rows == 1 else ("  target met" if throughput >= TARGET_RATIO else "  below target")
                print(
                    f"  round {round_number}: {result['server']:<8} {rows:>3} rows as {result['body']:<8} "
                    f"req/s {throughput:5.1f}x  p50 {latency:5.1f}x  CPU {cpu:5.1f}x{verdict}"
                )
    print(
        f"conditions: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end, 1 connection, "
        f"{args.seconds:g} s per scenario and round in turns of {SLICE_SECONDS:g} s, "
        f"after a {WARMUP_SECONDS:g} s warm-up"
    )


if __name__ == "__main__":
    sys.exit(main())
