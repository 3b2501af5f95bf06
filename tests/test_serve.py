"""Run a generated project's prediction service as a real process, the way it is deployed.

Bake, install, `dvc repro`, then `<package> serve` on a free loopback port: predictions equal
the offline ones (the `predict` command), as rows and as columns, bad input gets a 4xx naming
the field, the OpenAPI spec holds up under schemathesis, SIGTERM lets a request in flight
finish and exits cleanly, and a changed model file never becomes ready. Then, for each task, a raw table with
every shape of a real export (tests/tables.py) goes from `adopt` to a served row: text,
null and an unknown category are answered as `predict` answers them offline.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakery import TOOLS_BIN, bake, run
from tables import NOT_FEATURES, target_of

TABLES = Path(__file__).resolve().parent / "tables.py"  # run with a project's Python: it needs pandas
HOST = "127.0.0.1"
PACKAGE = "tumour_classifier"
# After a graceful shutdown, uvicorn (0.29+) raises the signal it caught again, so the exit
# status says what stopped the process: -SIGTERM here, as supervisors expect.
CLEAN_EXIT = {0, -signal.SIGTERM}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Service:
    """`<package> serve` as a subprocess, and a small HTTP client for it."""

    def __init__(self, project: Path, log: Path, *options: str) -> None:
        self.port = free_port()
        self.log = log
        command = [str(project / ".venv/bin" / PACKAGE), "serve", "--host", HOST, "--port", str(self.port), *options]
        self.process = subprocess.Popen(command, cwd=project, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()

    def post(self, body, content_type: str = "application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, content = self.request("POST", "/predict", data, {"Content-Type": content_type})
        return status, json.loads(content) if content.startswith((b"{", b"[")) else content

    def wait_for(self, path: str, until, timeout: float = 60.0):
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.process.poll() is not None:
                pytest.fail(f"serve exited with {self.process.returncode}:\n{self.log.read_text()}", pytrace=False)
            try:
                status, content = self.request("GET", path)
                if until(status, content):
                    return status, json.loads(content)
            except OSError:
                pass
            time.sleep(0.05)
        pytest.fail(f"{path} did not answer as expected within {timeout} s:\n{self.log.read_text()}", pytrace=False)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def offline_predictions(project: Path, rows: list[dict]) -> list[dict]:
    """The `predict` command's answers for these rows (the path that reads and writes CSV; null: an empty cell)."""
    with (project / "rows.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    run([str(project / ".venv/bin" / PACKAGE), "predict", "rows.csv", "scored.csv"], project)
    with (project / "scored.csv").open() as handle:
        return [
            {k: v for k, v in row.items() if k == "prediction" or k.startswith("probability_")}
            for row in csv.DictReader(handle)
        ]


def first_rows(project: Path, count: int) -> list[dict]:
    """The first rows of the test split, as a client sends them (the project's own export.request_rows)."""
    script = (
        f"import json, sys; from {PACKAGE}.pipeline import data, export; _, test, schema = data.load_split(); "
        "print(json.dumps(export.request_rows(test.head(int(sys.argv[1])), schema.feature_types)))"
    )
    return json.loads(run([str(project / ".venv/bin/python"), "-c", script, str(count)], project).stdout)


def assert_same(answer: list[dict], expected: list[dict]) -> None:
    assert len(answer) == len(expected)
    for got, want in zip(answer, expected, strict=True):
        assert set(got) == set(want)
        for key, value in want.items():
            if isinstance(got[key], str):  # a class label given as text
                assert got[key] == value, key
            else:
                assert float(got[key]) == pytest.approx(float(value), rel=1e-5, abs=1e-5), key


def fuzz(service: Service, folder: Path) -> None:
    """Every operation in the spec under schemathesis: no 5xx, answers that match their documented schema.

    The hooks (tests/fuzz_hooks.py) tell it the one rule of the body JSON Schema cannot state: columns of
    equal length."""
    hooks = {"SCHEMATHESIS_HOOKS": "fuzz_hooks", "PYTHONPATH": str(Path(__file__).resolve().parent)}
    done = run(
        [
            str(TOOLS_BIN / "schemathesis"),
            "run",
            f"http://{HOST}:{service.port}/openapi.json",
            "--checks=all",
            "--max-examples=30",
            "--generation-deterministic",
        ],
        folder,
        env={**os.environ, **hooks},
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]


def reproduced(tmp_path: Path, monkeypatch, **answers: str) -> Path:
    """A baked project with its environment; the project's environment first on PATH (DVC runs its commands)."""
    project = bake(tmp_path / "out", **answers)
    run([str(TOOLS_BIN / "uv"), "sync", "--python", sys.executable], project)
    monkeypatch.setenv("PATH", os.pathsep.join([str(project / ".venv/bin"), os.environ["PATH"]]))
    return project


@pytest.mark.serve
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_service_serves_the_reproduced_model(tmp_path, monkeypatch, task):
    project = reproduced(tmp_path, monkeypatch, task=task)
    run(["dvc", "repro"], project)
    rows = first_rows(project, 20)
    expected = offline_predictions(project, rows)

    service = Service(project, tmp_path / "serve.log", "--max-rows", "20")
    try:
        service.wait_for("/health", lambda status, _: status == 200)
        _, ready = service.wait_for("/ready", lambda status, _: status == 200)
        metadata = json.loads(service.request("GET", "/metadata")[1])
        assert ready["runtime"] == metadata["runtime"] == "onnx"

        status, single = service.post({"rows": rows[:1]})
        assert status == 200, single
        assert_same(single["predictions"], expected[:1])
        status, batch = service.post({"rows": rows})
        assert status == 200, batch
        assert_same(batch["predictions"], expected)
        columns = {name: [row[name] for row in rows] for name in rows[0]}
        assert service.post({"columns": columns}) == (200, batch)

        first, second = list(rows[0])[:2]
        bad = [
            ({"rows": [{**rows[0], first: "1.0"}]}, 422, f"rows[0].{first}"),
            ({"rows": [{**rows[0], first: None}]}, 422, f"rows[0].{first}"),  # the contract allows no empty cell
            ({"rows": [{k: v for k, v in rows[0].items() if k != second}]}, 422, f"rows[0].{second}"),
            ({"rows": [{**rows[0], "id": 1}]}, 422, "rows[0].id"),
            ({"rows": []}, 422, "rows"),
            ({"rows": [rows[0]] * 21}, 422, "rows"),  # above --max-rows
            ({"columns": {**columns, first: ["1.0"] * len(rows)}}, 422, f"columns.{first}[19]"),
            ({"columns": {**columns, second: columns[second][1:]}}, 422, f"columns.{second}"),  # ragged
            ({"columns": {name: values * 2 for name, values in columns.items()}}, 422, f"columns.{first}"),
            (json.dumps({"rows": [rows[0]]}).replace(str(rows[0][first]), "NaN", 1).encode(), 422, None),
            (json.dumps({"rows": [rows[0]]}).replace(str(rows[0][first]), "Infinity", 1).encode(), 422, None),
            (b'{"rows": [', 422, "body"),
            (b"x" * (1024 * 1024 + 1), 413, "body"),
        ]
        for body, code, field in bad:
            status, answer = service.post(body)
            assert status == code, (body if len(str(body)) < 200 else str(body)[:200], answer)
            if field:
                assert field in [problem["field"] for problem in answer["detail"]]
        status, answer = service.post(json.dumps({"rows": rows[:1]}).encode(), content_type="text/plain")
        assert status == 415

        fuzz(service, tmp_path)

        # SIGTERM with a request in flight (its body half sent): it is answered, then the process exits 0.
        body = json.dumps({"rows": rows}).encode()
        in_flight = socket.create_connection((HOST, service.port))
        head = f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        head += "\r\n"
        in_flight.sendall(head.encode() + body[: len(body) // 2])
        time.sleep(0.2)
        service.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        in_flight.sendall(body[len(body) // 2 :])
        answer = in_flight.makefile("rb").read()
        in_flight.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        assert service.process.wait(timeout=60) in CLEAN_EXIT
    finally:
        if service.process.poll() is None:
            service.stop()
    log = service.log.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "model_ready" for line in lines)
    assert all(line["request_id"] for line in lines if line.get("event") == "request")
    assert "Application shutdown complete" in log and "Finished server process" in log

    # A model file changed after the pipeline ran: the service starts, but never becomes ready.
    onnx = project / "models/onnx/model.onnx"
    content = bytearray(onnx.read_bytes())
    content[len(content) // 2] ^= 0xFF
    onnx.write_bytes(bytes(content))
    tampered = Service(project, tmp_path / "tampered.log")
    try:
        _, ready = tampered.wait_for("/ready", lambda status, _: status == 503 and b"loading" not in _)
        assert "differs from" in ready["detail"]
        assert tampered.post({"rows": rows[:1]})[0] == 503
        time.sleep(1)
        assert tampered.request("GET", "/ready")[0] == 503
    finally:
        assert tampered.stop() in CLEAN_EXIT


# How each task's raw table (tests/tables.py) is split: the two kinds of split a user sets by hand.
SPLITS = {
    "classification": ("stratified", "group", "branch"),
    "regression": ("random", "time", "signed up"),
}


def raw_rows(project: Path, table: Path, count: int) -> list[dict]:
    """The first rows of a raw table as a client sends them: features only, text as text, empty cells as null."""
    script = (
        "import json, sys; import pandas as pd; "
        f"from {PACKAGE}.core.records import ModelRecord; from {PACKAGE}.pipeline import export; "
        "features = ModelRecord.read().feature_types; "
        "frame = pd.read_csv(sys.argv[1], dtype=str, nrows=int(sys.argv[2])); "
        "print(json.dumps(export.request_rows(frame, features)))"
    )
    return json.loads(run([str(project / ".venv/bin/python"), "-c", script, str(table), str(count)], project).stdout)


@pytest.mark.serve
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_raw_table_from_adopt_to_a_served_row(tmp_path, monkeypatch, task):
    """adopt a table with every shape of a real export, reproduce with a group or time split, test,
    score the raw file, and serve raw rows (text, null, an unknown category) as they are scored offline."""
    project = reproduced(tmp_path, monkeypatch, task=task)
    exported = tmp_path / "exports/customers.csv"
    exported.parent.mkdir()
    run([str(project / ".venv/bin/python"), str(TABLES), "raw", task, str(exported)], project)
    # The split is chosen before adopt, as a user does: adopt keeps it and measures the quality
    # bounds on it (bounds measured on a random split do not hold for the latest rows).
    params = project / "params.yaml"
    default_split, split, column = SPLITS[task]
    text = params.read_text(encoding="utf-8").replace(f"split: {default_split} ", f"split: {split} ", 1)
    params.write_text(text.replace("split_column: null", f"split_column: {column}", 1), encoding="utf-8")
    adopted = run([PACKAGE, "adopt", str(exported), "--target", target_of(task)], project).stdout
    for column_name in NOT_FEATURES:
        assert column_name in adopted, f"adopt did not say it leaves out {column_name!r}"

    run(["dvc", "repro"], project)
    tested = run(["pytest", "-q"], project)
    assert " failed" not in tested.stdout and " skipped" not in tested.stdout
    schema = json.loads((project / "data/processed/schema.json").read_text())
    assert schema["split"] == split and column not in schema["features"]
    assert schema["duplicates"]["dropped"] >= 12
    assert schema["feature_types"]["region"] == "categorical" and schema["feature_types"]["plan code"] == "categorical"

    # The raw file, every column of it, scored in chunks.
    run([PACKAGE, "predict", str(exported), "scored.csv"], project)
    with (project / "scored.csv").open() as handle:
        scored = list(csv.DictReader(handle))
    assert len(scored) == sum(1 for _ in exported.open()) - 1
    assert scored[0]["customer id"] == "C0-000000" and "prediction" in scored[0]

    rows = raw_rows(project, exported, 8)
    assert any(value is None for row in rows for value in row.values()), "the rows have empty cells"
    rows.append({**rows[0], "region": "a region never seen", "tenure (months)": None})
    expected = offline_predictions(project, rows)
    service = Service(project, tmp_path / "serve.log")
    try:
        _, ready = service.wait_for("/ready", lambda status, _: status == 200)
        assert ready["runtime"] == "onnx"
        status, answer = service.post({"rows": rows})
        assert status == 200, answer
        assert_same(answer["predictions"], expected)
        if task == "classification":
            assert {p["prediction"] for p in answer["predictions"]} <= {"basic", "plus", "premium"}
        for row, field in [({**rows[0], "region": 7}, "region"), ({**rows[0], "monthly spend": "12"}, "monthly spend")]:
            status, answer = service.post({"rows": [row]})
            assert status == 422 and f"rows[0].{field}" in [problem["field"] for problem in answer["detail"]]
        fuzz(service, tmp_path)
    finally:
        assert service.stop() in CLEAN_EXIT
