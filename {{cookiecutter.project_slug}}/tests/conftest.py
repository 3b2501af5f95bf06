"""Shared fixtures. Data and model tests read the pipeline's outputs: run `dvc repro` first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import artifact
from {{ cookiecutter.package_name }}.compare import Side, Verdict, judge
from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.data import Schema, load_split
from {{ cookiecutter.package_name }}.errors import MissingOutputError
from {{ cookiecutter.package_name }}.evaluate import METRICS_FILE

PROJECT_ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--base",
        type=Path,
        default=None,
        help="a checkout of main with its pipeline outputs: also run the pull-request gate against it",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The comparison with main needs main's outputs: without --base it is not collected at all.
    if config.getoption("--base") is None:
        kept = [item for item in items if "needs_base" not in item.keywords]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def pipeline_output(read: Callable[[], T]) -> T:
    """Read a pipeline output; when it is missing, fail (never skip) and say what to run."""
    try:
        return read()
    except MissingOutputError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(PROJECT_ROOT / "params.yaml")


@pytest.fixture(scope="session")
def split() -> tuple[pd.DataFrame, pd.DataFrame, Schema]:
    return pipeline_output(lambda: load_split(PROJECT_ROOT / "data/processed"))


@pytest.fixture(scope="session")
def schema(split) -> Schema:
    return split[2]


@pytest.fixture(scope="session")
def model():
    loaded, _ = pipeline_output(
        lambda: artifact.load_verified(PROJECT_ROOT / artifact.MODEL_PATH, PROJECT_ROOT / artifact.METADATA_PATH)
    )
    return loaded


@pytest.fixture(scope="session")
def metrics() -> dict[str, float]:
    path = PROJECT_ROOT / METRICS_FILE
    if not path.is_file():
        pytest.fail(f"{METRICS_FILE} not found; run `dvc repro` first", pytrace=False)
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def verdict_against_main(request) -> Verdict:
    """The pull-request gate's verdict for this folder against --base (a reproduced checkout of main)."""
    base = pipeline_output(lambda: Side.load(request.config.getoption("--base")))
    head = pipeline_output(lambda: Side.load(PROJECT_ROOT))
    return judge(base, head)
