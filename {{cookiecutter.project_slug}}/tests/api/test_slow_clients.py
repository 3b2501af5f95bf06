"""Slow clients against the real server: `serve` as a process on a free port, as it is deployed.

Connections that send nothing, or their headers or body a byte at a time (slowloris), are closed
once the request timeout passes, while other clients are served meanwhile; beyond the connection
limit a request gets 503 at once instead of waiting. The timeouts are short so the test takes
seconds; each bound is asserted with a margin of seconds (a busy machine stays green).
"""

import http.client
import json
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.pipeline import export

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 3.0  # long enough that "served meanwhile" holds on a busy machine
KEEP_ALIVE_TIMEOUT = 1.0
MAX_CONNECTIONS = 8
MARGIN = 5.0  # a closed connection must be closed within its timeout plus this
EARLY = 0.95  # and not before its timeout (the event loop's clock may run a millisecond apart)
TRICKLE = 0.1  # seconds between two bytes of a slow client: each one would restart a naive timer


@dataclass
class Server:
    port: int
    log: Path

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, float]:
        """Status, body and seconds taken, on a new connection that is closed afterwards."""
        start = time.monotonic()
        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)  # a hang fails, never blocks
        try:
            headers = {"Content-Type": "application/json", "Connection": "close"}
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.read(), time.monotonic() - start
        finally:
            connection.close()

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """`serve` on the pipeline's model with short timeouts and a small connection limit."""
    served = Server(free_port(), tmp_path_factory.mktemp("serve") / "serve.log")
    options = [
        *("--host", HOST, "--port", str(served.port), "--request-timeout", str(REQUEST_TIMEOUT)),
        *("--keep-alive-timeout", str(KEEP_ALIVE_TIMEOUT), "--max-connections", str(MAX_CONNECTIONS)),
    ]
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve", *options]
    with served.log.open("wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        start = time.monotonic()
        while True:
            if process.poll() is not None or time.monotonic() - start > 60:
                pytest.fail(f"serve did not become ready:\n{served.log.read_text()}", pytrace=False)
            try:
                if served.request("GET", "/ready")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


@dataclass
class Held:
    opened: float  # time.monotonic() before connecting: the server's clock starts later
    closed: float | None  # when the server closed the connection (EOF or reset); None: still open
    answer: bytes  # what the server sent
    sent: int  # bytes the client sent

    @property
    def lived(self) -> float:
        return (self.closed or time.monotonic()) - self.opened


def hold(server: Server, first: bytes, then: bytes, connected: threading.Barrier) -> Held:
    """Send `first` at once, then `then` one byte every TRICKLE seconds, reading until the server
    closes the connection (or REQUEST_TIMEOUT + KEEP_ALIVE_TIMEOUT + MARGIN pass)."""
    opened = time.monotonic()
    with socket.create_connection((HOST, server.port)) as sock:
        sock.sendall(first)
        sent, answer, rest = len(first), b"", list(then)
        connected.wait(timeout=30)
        next_byte = opened + TRICKLE
        while time.monotonic() - opened < REQUEST_TIMEOUT + KEEP_ALIVE_TIMEOUT + MARGIN:
            try:
                if rest and time.monotonic() >= next_byte:
                    sock.sendall(bytes([rest.pop(0)]))
                    sent, next_byte = sent + 1, next_byte + TRICKLE
                if select.select([sock], [], [], 0.02)[0]:
                    data = sock.recv(65536)
                    if not data:
                        return Held(opened, time.monotonic(), answer, sent)
                    answer += data
            except (ConnectionResetError, BrokenPipeError):
                return Held(opened, time.monotonic(), answer, sent)
        return Held(opened, None, answer, sent)


def one_row(split) -> bytes:
    _, test, schema = split
    return json.dumps({"rows": export.request_rows(test.head(1)[schema.features], schema.feature_types)}).encode()


def test_slow_clients_are_closed_while_others_are_served(server, split):
    body = one_row(split)
    head = f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    health = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    slow = {  # name: (sent at once, then trickled a byte at a time)
        "idle": (b"", b""),
        "headers": (b"G", b"ET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 500),
        "body": (head.encode(), body),
        "next request on a keep-alive connection": (health, health[:-2] + b"X-Padding: " + b"a" * 500),
    }
    pipelined = health + health  # two whole requests in one write, then silence: keep-alive applies
    connected = threading.Barrier(len(slow) + 2)
    with ThreadPoolExecutor(len(slow) + 1) as pool:
        futures = {name: pool.submit(hold, server, first, then, connected) for name, (first, then) in slow.items()}
        futures["pipelined"] = pool.submit(hold, server, pipelined, b"", connected)
        connected.wait(timeout=30)
        # Meanwhile, ordinary clients are served, and at once.
        status, answer, predict_seconds = server.request("POST", "/predict", body)
        assert status == 200, answer
        status, _, health_seconds = server.request("GET", "/health")
        assert status == 200
        served = time.monotonic()
        held = {name: future.result() for name, future in futures.items()}

    for name, connection in held.items():
        assert connection.closed is not None, f"{name}: still open after {connection.lived:.1f} s"
        if name in slow:
            assert connection.closed > served, f"{name}: closed before the ordinary requests were answered"
    lived = ", ".join(f"{name} {held[name].lived:.2f} s ({held[name].sent} bytes sent)" for name in held)
    print(  # the figures, shown with `pytest -s`
        f"\nordinary requests while {len(held)} slow connections were open: POST /predict "
        f"{predict_seconds * 1000:.1f} ms, GET /health {health_seconds * 1000:.1f} ms; the slow ones lived {lived}"
    )

    # Trickled bytes do not buy time: each slow request is cut at the request timeout (with 408 once
    # a part of it arrived), however many bytes kept coming.
    for name in ("idle", "headers", "body"):
        assert EARLY * REQUEST_TIMEOUT <= held[name].lived < REQUEST_TIMEOUT + MARGIN, (name, held[name].lived)
    assert held["idle"].answer == b""
    for name in ("headers", "body"):
        assert held[name].answer.startswith(b"HTTP/1.1 408 "), (name, held[name].answer)
        assert held[name].sent > 5, name
    assert f"did not arrive whole within {REQUEST_TIMEOUT:g} s".encode() in held["body"].answer
    keep_alive = held["next request on a keep-alive connection"]
    assert keep_alive.answer.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 408 " in keep_alive.answer
    assert EARLY * REQUEST_TIMEOUT <= keep_alive.lived < REQUEST_TIMEOUT + MARGIN
    # Whole requests are answered; an idle keep-alive connection is closed after the keep-alive timeout.
    assert held["pipelined"].answer.count(b"HTTP/1.1 200 ") == 2 and b"HTTP/1.1 408 " not in held["pipelined"].answer
    assert EARLY * KEEP_ALIVE_TIMEOUT <= held["pipelined"].lived < KEEP_ALIVE_TIMEOUT + MARGIN

    # The cut-off body is logged and counted as 408 on its route, the half-sent headers on their own line.
    lines = server.log_lines()
    assert {"route": "/predict", "status": 408} in [{"route": x.get("route"), "status": x.get("status")} for x in lines]
    assert any(line["event"] == "request_timeout" and line["incomplete"] == "headers" for line in lines)
    assert 'http_requests_total{route="/predict",status="408"} 1.0' in server.request("GET", "/metrics")[1].decode()
    assert "Exception in ASGI application" not in server.log.read_text()


def test_a_client_leaving_mid_body_is_logged_as_499(server, split):
    body = one_row(split)
    head = f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection((HOST, server.port)) as sock:
        sock.sendall(head.encode() + body[: len(body) // 2])
        time.sleep(0.2)
    start = time.monotonic()
    while not any(line.get("status") == 499 for line in server.log_lines()):
        assert time.monotonic() - start < MARGIN, server.log.read_text()
        time.sleep(0.05)
    assert "Exception in ASGI application" not in server.log.read_text()


def test_beyond_the_connection_limit_a_request_gets_503_at_once(server):
    def fill(count: int) -> list[socket.socket]:
        # Connections that started a request and stall: they count until the request timeout.
        sockets = [socket.create_connection((HOST, server.port)) for _ in range(count)]
        for sock in sockets:
            sock.sendall(b"GET /health HTTP/1.1\r\n")
        time.sleep(0.2)  # accepted by the server before the request below (it accepts in order anyway)
        return sockets

    fillers = fill(MAX_CONNECTIONS - 1)
    try:
        status, _, _ = server.request("GET", "/health")
        assert status == 200, "the limit counts open connections: this one is the last allowed"
        fillers += fill(1)
        status, answer, seconds = server.request("GET", "/health")
        assert status == 503, answer
        print(f"\nbeyond {MAX_CONNECTIONS} open connections: 503 in {seconds * 1000:.1f} ms")
        for sock in fillers:  # the stalled requests are closed by the server, and then there is room again
            sock.settimeout(REQUEST_TIMEOUT + MARGIN)
            with sock.makefile("rb") as stream:
                assert stream.read().startswith(b"HTTP/1.1 408 ")
        assert server.request("GET", "/health")[0] == 200
    finally:
        for sock in fillers:
            sock.close()


def read_answer(sock: socket.socket) -> tuple[bytes, bytes, int]:
    """The head and body of one answer, and how many reads they took (blocking, within the socket's timeout)."""
    data, reads = b"", 0
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < content_length(data):
        chunk = sock.recv(1 << 20)
        assert chunk, f"the server closed the connection after {data!r}"
        data, reads = data + chunk, reads + 1
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body, reads


def content_length(data: bytes) -> int:
    head = data.partition(b"\r\n\r\n")[0].lower()
    return int(head.split(b"content-length: ")[1].split(b"\r\n")[0]) if b"content-length: " in head else 0


def test_an_answer_comes_in_one_piece_and_answers_without_a_body_are_not_held(server, split):
    _, test, schema = split
    rows = export.request_rows(test.head(100)[schema.features], schema.feature_types)  # the sample: 89 test rows
    body = json.dumps({"rows": rows}).encode()
    post = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    with socket.create_connection((HOST, server.port), timeout=30) as sock:  # a held answer fails, never blocks
        sock.sendall(post + b"\r\n" + body)
        head, answer, reads = read_answer(sock)
        assert head.startswith(b"HTTP/1.1 200") and len(json.loads(answer)["predictions"]) == len(rows)
        assert reads == 1, "the head and the body come in one write (one segment: the client woken once)"
        sock.sendall(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n")  # a length, but no body follows
        assert sock.recv(65536).startswith(b"HTTP/1.1 405")
        sock.sendall(post + b"Expect: 100-continue\r\n\r\n")  # the client waits for 100 Continue
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        assert read_answer(sock)[0].startswith(b"HTTP/1.1 200")
