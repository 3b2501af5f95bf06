"""Loopback plumbing for the gcloud and kubectl stand-ins: free ports, readiness, a TCP forward.

`gcloud run services proxy` and `kubectl port-forward` listen on a local port and carry each
connection to the service; here the service is a process on another loopback port, and the
forward is a real one, so the workflow's smoke test talks through it. A forward stops when the
step's shell that started it in the background exits (its parent changes), or after an hour.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

LIFETIME = 3600.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def http_ok(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


def alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
        return True
    except (OSError, ValueError):
        return False


def wait_limit(seconds: float) -> float:
    """A command's own timeout, capped in tests by ACT_WAIT_LIMIT (seconds): a real rollout may wait minutes."""
    cap = os.environ.get("ACT_WAIT_LIMIT")
    return min(seconds, float(cap)) if cap else seconds


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def forward(local_port: int, target_port: int, banner: str) -> int:
    """Carry connections from 127.0.0.1:local_port to 127.0.0.1:target_port until the caller's shell exits."""
    try:
        server = socket.create_server(("127.0.0.1", local_port))
    except OSError as error:
        print(f"Unable to listen on port {local_port}: {error}", file=sys.stderr)
        return 1
    print(banner, flush=True)
    parent, started = os.getppid(), time.monotonic()
    server.settimeout(0.5)
    while os.getppid() == parent and time.monotonic() - started < LIFETIME:
        try:
            client, _ = server.accept()
        except TimeoutError:
            continue
        try:
            upstream = socket.create_connection(("127.0.0.1", target_port), timeout=5)
        except OSError:
            client.close()  # nothing listens behind the forward yet: the caller sees a dropped connection
            continue
        for source, target in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(source, target), daemon=True).start()
    server.close()
    return 0


def load(path: Path, default):
    return json.loads(path.read_text()) if path.exists() else default


def save(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(value, indent=1))
    shutil.move(scratch, path)
