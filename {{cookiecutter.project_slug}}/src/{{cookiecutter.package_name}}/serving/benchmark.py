"""``benchmark``: how fast the real service answers, next to predicting in-process.

Starts ``serve`` as a subprocess on a free loopback port, waits until it is ready, then
drives it from a separate process for a bounded time per scenario (1 row and 100 rows per
request, the 100 rows also as columns, at each number of connections): keep-alive
connections, one request in flight per connection, a request prebuilt as HTTP/1.1 bytes and
raw asyncio streams, so the client costs little. The client's CPU use is printed: near 100 % it would be the bottleneck.
Latency is measured from sending the request to reading the last byte of the response.
Needs the pipeline's outputs (``dvc repro``); the rows are the first of the test split, sent raw
(text categories, null for an empty cell) as a client sends them.
"""

from __future__ import annotations

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
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
WARMUP_SECONDS = 0.5
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _request(port: int, body: bytes) -> bytes:
    head = (
        f"POST /predict HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def _connection(port: int, request: bytes, warmup_end: float, end: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    errors = 0
    try:
        while True:
            start = time.perf_counter()
            if start >= end:
                return errors
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = _LENGTH.search(head)
            if length is None:  # the service always sends one; without it the body's end is unknown
                raise ConnectionError(f"the service answered without a Content-Length: {head[:200]!r}")
            await reader.readexactly(int(length.group(1)))
            if start >= warmup_end:
                latencies.append(time.perf_counter() - start)
                errors += head[9:12] != b"200"
    finally:
        writer.close()


def _drive(port: int, body: bytes, connections: int, seconds: float) -> dict[str, Any]:
    """The load generator (runs in its own process): latencies of every request after the warm-up."""
    latencies: list[float] = []
    request = _request(port, body)

    async def main() -> int:
        now = time.perf_counter()
        warmup_end, end = now + WARMUP_SECONDS, now + WARMUP_SECONDS + seconds
        errors = await asyncio.gather(
            *(_connection(port, request, warmup_end, end, latencies) for _ in range(connections))
        )
        return sum(errors)

    cpu = time.process_time()
    errors = asyncio.run(main())
    cpu = time.process_time() - cpu
    return {"latencies": latencies, "errors": errors, "client_cpu": cpu / (seconds + WARMUP_SECONDS)}


def _in_process(rows: Any, feature_types: dict[str, str], repeats: int = 200) -> list[tuple[str, int, float]]:
    """Median seconds of one predict call on the verified model, scikit-learn and ONNX, for 1 and 100 rows.

    scikit-learn is given rows prepared by ``data.model_input``; ONNX raw JSON-like rows, as the service
    gives them (building its inputs is part of the time)."""
    from ..core import artifact
    from ..core.records import ServingRecord
    from ..pipeline import export
    from ..pipeline.data import model_input
    from . import runtime
    from .predict import predict_frame

    model, metadata = artifact.load_verified()
    serving = ServingRecord.read()
    timings = []
    for count in (1, 100):
        frame = model_input(rows.head(count), feature_types)
        timings.append(("scikit-learn", count, _median(lambda f=frame: predict_frame(model, f, metadata.task))))
    if serving.runtime == "onnx":
        predictor = runtime.load()
        raw = export.request_rows(rows.head(100), feature_types)
        for count in (1, 100):
            columns = {name: [row[name] for row in raw[:count]] for name in feature_types}
            timings.append(("onnxruntime", count, _median(lambda c=columns: predictor.predict(c), repeats * 10)))
    return timings


def _median(call: Any, repeats: int = 200) -> float:
    call()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _wait_ready(port: int, server: subprocess.Popen, timeout: float = 60.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if server.poll() is not None:
            raise RuntimeError(f"the service exited with status {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/ready", timeout=1) as answer:
                if answer.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the service was not ready within {timeout:.0f} s")


def _rss_mib(pid: int) -> float | None:
    status = Path(f"/proc/{pid}/status")
    if not status.is_file():
        return None
    match = re.search(r"VmRSS:\s+(\d+) kB", status.read_text())
    return int(match.group(1)) / 1024 if match else None


def run(duration: float = 5.0, connections: list[int] | None = None) -> list[dict[str, Any]]:
    """Benchmark the service; print a table and return its rows."""
    import pandas as pd

    from ..core.records import ModelRecord
    from ..pipeline import export
    from ..pipeline.data import load_split

    connections = connections or [1, 8]
    _, test, schema = load_split()
    metadata = ModelRecord.read()
    rows = test[schema.features]
    raw = export.request_rows(rows.head(100), schema.feature_types)  # as a client sends them
    columns = {name: [row[name] for row in raw] for name in schema.features}
    bodies = {
        ("rows", 1): json.dumps({"rows": raw[:1]}).encode(),
        ("rows", 100): json.dumps({"rows": raw}).encode(),
        ("columns", 100): json.dumps({"columns": columns}).encode(),
    }

    print(f"model {metadata.model_version}: in-process predict (median)")
    for runtime, count, seconds in _in_process(rows, schema.feature_types):
        print(f"  {runtime:<13} {count:>3} rows  {seconds * 1000:8.3f} ms")

    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile() as log:
        command = [sys.executable, "-m", __package__, "serve", "--host", HOST, "--port", str(port)]
        server = subprocess.Popen(command, stdout=log, stderr=log, env=env)  # noqa: S603 (our own command)
        results = []
        try:
            cold = _wait_ready(port, server)
            print(f"\nservice: ready {cold:.2f} s after start, {_rss_mib(server.pid) or float('nan'):.0f} MiB resident")
            print(
                f"\n{'rows':>4} {'as':<7} {'conns':>5} {'req/s':>9} {'rows/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
                f"{'errors':>6} {'client CPU %':>12}"
            )
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as client:
                for (form, count), body in bodies.items():
                    for connection_count in connections:
                        done = client.submit(_drive, port, body, connection_count, duration).result()
                        latencies = pd.Series(done["latencies"])
                        result = {
                            "rows": count,
                            "form": form,
                            "connections": connection_count,
                            "requests_per_second": len(latencies) / duration,
                            "p50_ms": latencies.quantile(0.5) * 1000,
                            "p99_ms": latencies.quantile(0.99) * 1000,
                            "errors": done["errors"],
                            "client_cpu": done["client_cpu"],
                        }
                        results.append(result)
                        print(
                            f"{count:>4} {form:<7} {connection_count:>5} {result['requests_per_second']:>9.0f} "
                            f"{result['requests_per_second'] * count:>9.0f} {result['p50_ms']:>8.3f} "
                            f"{result['p99_ms']:>8.3f} {result['errors']:>6} {result['client_cpu'] * 100:>12.0f}"
                        )
            print(f"\nservice after the load: {_rss_mib(server.pid) or float('nan'):.0f} MiB resident")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    return results
