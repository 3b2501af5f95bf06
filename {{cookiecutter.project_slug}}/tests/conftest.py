"""Shared fixtures. Data and model tests read the pipeline's outputs: run `dvc repro` first.

They judge only outputs of the current inputs: when ``params.yaml``, the raw data or the
data contract changed since the pipeline ran (a failed ``data`` stage leaves the previous
outputs in place), every such test fails with "outputs are from other inputs", never
passes on stale metrics. A check that the project switched off (``quality.direction:
null``) passes, and its reason is listed under "notes" at the end of the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import artifact, contract
from {{ cookiecutter.package_name }}.compare import Side, Verdict, judge
from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.data import Schema, load_split, stale_inputs
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


NOTES: list[str] = []


def pytest_terminal_summary(terminalreporter) -> None:
    if NOTES:
        terminalreporter.section("notes")
        for note in dict.fromkeys(NOTES):
            terminalreporter.write_line(note)


@pytest.fixture(scope="session")
def note() -> Callable[[str], None]:
    """note(text): a reason shown at the end of the run (a check the project switched off, and why)."""
    return NOTES.append


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
def data_contract() -> contract.Contract:
    return contract.load(PROJECT_ROOT / contract.CONTRACT_PATH)


def refuse_stale(recorded: dict[str, str], params: Params, what: str) -> None:
    changed = stale_inputs(recorded, params, PROJECT_ROOT)
    if changed:
        pytest.fail(
            f"{what} are from other inputs ({', '.join(changed)} changed since the pipeline ran); run `dvc repro`",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def split(params) -> tuple[pd.DataFrame, pd.DataFrame, Schema]:
    loaded = pipeline_output(lambda: load_split(PROJECT_ROOT / "data/processed"))
    refuse_stale(loaded[2].inputs, params, "data/processed")
    return loaded


@pytest.fixture(scope="session")
def schema(split) -> Schema:
    return split[2]


@pytest.fixture(scope="session")
def metadata(params) -> dict:
    """The record of the trained model, once it is known to come from the current inputs."""
    record = pipeline_output(lambda: artifact.read_metadata(PROJECT_ROOT / artifact.METADATA_PATH))
    refuse_stale(record.get("data", {}).get("inputs", {}), params, "the model and its metrics")
    if record.get("params") != params.as_dict(exclude={"quality"}):
        pytest.fail(
            "the model and its metrics are from other inputs (model params changed since the pipeline ran); "
            "run `dvc repro`",
            pytrace=False,
        )
    return record


@pytest.fixture(scope="session")
def model(metadata):
    loaded, _ = pipeline_output(
        lambda: artifact.load_verified(PROJECT_ROOT / artifact.MODEL_PATH, PROJECT_ROOT / artifact.METADATA_PATH)
    )
    return loaded


@pytest.fixture(scope="session")
def metrics(metadata) -> dict[str, float]:
    path = PROJECT_ROOT / METRICS_FILE
    if not path.is_file():
        pytest.fail(f"{METRICS_FILE} not found; run `dvc repro` first", pytrace=False)
    scores = json.loads(path.read_text(encoding="utf-8"))
    if scores != metadata.get("metrics"):
        pytest.fail(f"{METRICS_FILE} is not the one recorded with the model; run `dvc repro`", pytrace=False)
    return scores


@pytest.fixture
def verdict_against_main(request) -> Verdict:
    """The pull-request gate's verdict for this folder against --base (a reproduced checkout of main)."""
    base = pipeline_output(lambda: Side.load(request.config.getoption("--base")))
    head = pipeline_output(lambda: Side.load(PROJECT_ROOT))
    return judge(base, head)
