"""The prediction service's settings and their defaults: what ``serve``'s options and variables set.

Standard library only: the command line builds its ``--help`` from these defaults without
loading the service (FastAPI, NumPy, the model runtime).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core import paths
from .row_log import RowLogSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_ROWS = 1000
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Slow clients (see .connections). The largest body allowed arrives within 10 s at 0.8 Mbit/s; 5 s of
# keep-alive is uvicorn's default; 100 open connections is more than Cloud Run's default of 80
# requests per instance, and one process answers thousands of rows a second.
DEFAULT_REQUEST_TIMEOUT = 10.0
DEFAULT_KEEP_ALIVE_TIMEOUT = 5.0
DEFAULT_MAX_CONNECTIONS = 100


@dataclass(frozen=True)
class Settings:
    metadata_path: Path = paths.METADATA_PATH
    serving_path: Path = paths.SERVING_PATH
    model_path: Path = paths.MODEL_PATH
    onnx_path: Path = paths.ONNX_PATH
    max_rows: int = DEFAULT_MAX_ROWS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT  # seconds to receive a request whole
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT  # seconds an idle connection is kept
    max_connections: int = DEFAULT_MAX_CONNECTIONS  # open connections; beyond them, 503
    row_log: RowLogSettings = field(default_factory=RowLogSettings)  # the sampled log of scored rows: off by default
