"""The service on the pipeline's outputs, in-process (FastAPI's TestClient): run `dvc repro` first."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from {{ cookiecutter.package_name }}.core import paths
from {{ cookiecutter.package_name }}.core.errors import MissingOutputError
from {{ cookiecutter.package_name }}.serving import service

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def wait_until_settled(client: TestClient, timeout: float = 30.0) -> Response:
    """The /ready answer once the model has loaded or been refused."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        answer = client.get("/ready")
        if answer.status_code == 200 or answer.json().get("detail") != "loading":
            return answer
        time.sleep(0.02)
    pytest.fail(f"the model did not load within {timeout} s")


@contextmanager
def _started(root: Path = PROJECT_ROOT, **limits) -> Iterator[tuple[TestClient, Response]]:
    settings = service.Settings(
        metadata_path=root / paths.METADATA_PATH,
        serving_path=root / paths.SERVING_PATH,
        model_path=root / paths.MODEL_PATH,
        onnx_path=root / paths.ONNX_PATH,
        **limits,
    )
    try:
        app = service.create_app(settings)
    except MissingOutputError as exc:  # fail, never skip: the pipeline has not run
        pytest.fail(str(exc), pytrace=False)
    with TestClient(app) as client:
        yield client, wait_until_settled(client)


@pytest.fixture(scope="session")
def start() -> Callable:
    """start(root, **limits): a context manager giving a client of the service on root's models/ and its /ready."""
    return _started


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    with _started() as (client, ready):
        if ready.status_code != 200:
            pytest.fail(f"the service is not ready: {ready.json()['detail']}", pytrace=False)
        yield client


@pytest.fixture(scope="session")
def limited() -> Iterator[TestClient]:
    """The same model with small limits: 2 rows, 4 KiB."""
    with _started(max_rows=2, max_body_bytes=4096) as (client, _):
        yield client
