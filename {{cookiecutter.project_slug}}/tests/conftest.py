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

from {{ cookiecutter.package_name }}.core import artifact, contract, paths
from {{ cookiecutter.package_name }}.core.errors import MissingOutputError
from {{ cookiecutter.package_name }}.core.params import Params, load_params
from {{ cookiecutter.package_name }}.core.records import ModelRecord
from {{ cookiecutter.package_name }}.pipeline.data import Schema, load_split, stale_inputs
from {{ cookiecutter.package_name }}.review.gate import Side, Verdict, judge

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


def pytest_sessionfinish(session: pytest.Session) -> None:
    # With `pytest -n auto` (pytest-xdist) tests run in worker processes: each hands its notes
    # to the main process, which prints them.
    handed_over = getattr(session.config, "workeroutput", None)
    if handed_over is not None:
        handed_over["notes"] = NOTES


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: the main process learns a worker finished
def pytest_testnodedown(node, error) -> None:
    NOTES.extend(getattr(node, "workeroutput", {}).get("notes", []))


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
    return contract.load(PROJECT_ROOT / paths.CONTRACT_PATH)


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
def metadata(params) -> ModelRecord:
    """The record of the trained model, once it is known to come from the current inputs."""
    record = pipeline_output(lambda: ModelRecord.read(PROJECT_ROOT / paths.METADATA_PATH))
    refuse_stale(record.data.inputs, params, "the model and its metrics")
    if record.params != params.as_dict(exclude={"quality", "search"}):
        pytest.fail(
            "the model and its metrics are from other inputs (model params changed since the pipeline ran); "
            "run `dvc repro`",
            pytrace=False,
        )
    return record


@pytest.fixture(scope="session")
def model(metadata):
    loaded, _ = pipeline_output(
        lambda: artifact.load_verified(PROJECT_ROOT / paths.MODEL_PATH, PROJECT_ROOT / paths.METADATA_PATH)
    )
    return loaded


@pytest.fixture(scope="session")
def metrics(metadata) -> dict[str, float]:
    path = PROJECT_ROOT / paths.METRICS_PATH
    if not path.is_file():
        pytest.fail(f"{paths.METRICS_PATH} not found; run `dvc repro` first", pytrace=False)
    scores = json.loads(path.read_text(encoding="utf-8"))
    if scores != metadata.metrics:
        pytest.fail(f"{paths.METRICS_PATH} is not the one recorded with the model; run `dvc repro`", pytrace=False)
    return scores


@pytest.fixture
def verdict_against_main(request) -> Verdict:
    """The pull-request gate's verdict for this folder against --base (a reproduced checkout of main)."""
    base = pipeline_output(lambda: Side.load(request.config.getoption("--base")))
    head = pipeline_output(lambda: Side.load(PROJECT_ROOT))
    return judge(base, head)


def write_mixed_table(folder: Path, rows: int = 240, seed: int = 0) -> Params:
    """A raw table as people bring them, its data contract (``contract.infer``) and params, in ``folder``.

    Text categories (one with empty cells), codes with leading zeros, yes/no, numbers with
    empty cells, an identifier column (excluded) and text classes.
    """
    import numpy as np

    from {{ cookiecutter.package_name }}.core import contract

    rng = np.random.default_rng(seed)
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], rows)
    length = rng.normal(45, 5, rows).round(1)
    species = np.where(island == "Torgersen", "Adelie", np.where(length > 45, "Gentoo", "Chinstrap"))
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(rows)],
            "island": island,
            "code": rng.choice(["007", "012", "100"], rows),
            "member": rng.choice(["yes", "no"], rows),
            "bill length": length,
            "depth": rng.normal(17, 2, rows).round(1),
            "species": species,
        }
    )
    frame.loc[rng.choice(rows, rows // 10, replace=False), "depth"] = np.nan
    frame.loc[rng.choice(rows, rows // 20, replace=False), "island"] = None
    path = folder / "data/raw/data.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    inferred = contract.infer(frame, "species", "classification")
    contract.write(inferred, "{{ cookiecutter.package_name }}", folder / paths.CONTRACT_PATH)
    return Params.model_validate(
        {
            "task": "classification",
            "data": {"source": "file", "path": str(path), "target": "species", "exclude": ["customer_id"]},
            "model": {"type": "random_forest", "hyperparameters": {"n_estimators": 10}},
        }
    )


@pytest.fixture(scope="session")
def mixed_project(tmp_path_factory) -> Path:
    """A folder with a mixed raw table and the pipeline's outputs for it (data, train, export, evaluate)."""
    import os

    from {{ cookiecutter.package_name }}.pipeline import data, evaluate, export, train

    folder = tmp_path_factory.mktemp("mixed")
    params = write_mixed_table(folder)
    before = Path.cwd()
    os.chdir(folder)
    try:
        data.run(params)
        train.run(params)
        export.run()
        evaluate.run(params)
    finally:
        os.chdir(before)
    return folder


@pytest.fixture
def mixed_outputs(mixed_project, tmp_path, monkeypatch) -> Path:
    """The mixed table's folder copied to this test's temporary folder, which becomes the working folder."""
    import shutil

    shutil.copytree(mixed_project, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path
