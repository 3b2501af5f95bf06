"""Unit tests work in a temporary folder on small data, without the pipeline's outputs."""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from {{ cookiecutter.package_name }}.core import contract, paths
from {{ cookiecutter.package_name }}.core.params import Params
from {{ cookiecutter.package_name }}.core.records import ModelRecord, TrainingData
from {{ cookiecutter.package_name }}.pipeline import data


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def model_record() -> Callable[[str], ModelRecord]:
    """Makes the record ``evaluate`` writes beside a model: made-up facts but the model's SHA-256."""

    def record(model_sha256: str) -> ModelRecord:
        data = TrainingData(source="sklearn:test", sha256="0" * 64, rows=100, train_rows=80, test_rows=20)
        return ModelRecord(model_sha256=model_sha256, task="classification", data=data)

    return record


def write_contract(folder: Path, frame: pd.DataFrame, target: str, task: str) -> Path:
    """The data contract this table meets, as `adopt` writes it, in folder/data-contract.yaml."""
    path = folder / paths.CONTRACT_PATH
    contract.write(contract.infer(frame.astype(str).where(frame.notna()), target, task), "pkg", path)
    return path


def write_raw_csv(folder: Path, features, target, target_name: str) -> Path:
    """Save generated rows as data/raw/data.csv (columns x0, x1, ... and the target) and their contract."""
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(features.shape[1])])
    path = folder / "data/raw/data.csv"
    path.parent.mkdir(parents=True)
    frame = frame.assign(**{target_name: target})
    frame.to_csv(path, index=False)
    write_contract(folder, frame, target_name, "classification" if target_name == "label" else "regression")
    return path


@pytest.fixture
def classification_csv(workdir) -> Path:
    return write_raw_csv(workdir, *make_classification(n_samples=120, n_features=5, random_state=0), "label")


@pytest.fixture
def regression_csv(workdir) -> Path:
    return write_raw_csv(workdir, *make_regression(n_samples=120, n_features=4, noise=5.0, random_state=0), "y")


@pytest.fixture
def contract_of():
    """contract_of(folder, frame, target, task): write the contract a table meets into folder."""
    return write_contract


@pytest.fixture
def sample_contract(workdir) -> Path:
    """The contract of the default sample table (breast cancer), for runs on Params()."""
    return write_contract(workdir, data.sklearn_frame("breast_cancer", "target"), "target", "classification")


@pytest.fixture
def csv_params():
    """Build Params that read a CSV, with a small forest unless the model is overridden."""

    def make(path: Path, target: str, task: str = "classification", **model) -> Params:
        split = "stratified" if task == "classification" else "random"
        return Params.model_validate(
            {
                "task": task,
                "data": {"source": "file", "path": str(path), "target": target, "split": split},
                "model": {"type": "random_forest", "hyperparameters": {"n_estimators": 10}, **model},
            }
        )

    return make


@pytest.fixture(scope="session")
def shared_classification_csv(tmp_path_factory) -> Path:
    """The same rows as classification_csv, in a folder of its own, for runs made once per module or session."""
    return write_raw_csv(
        tmp_path_factory.mktemp("shared"), *make_classification(n_samples=120, n_features=5, random_state=0), "label"
    )


@pytest.fixture(scope="session")
def _trained_once(tmp_path_factory, shared_classification_csv) -> tuple[Path, Params]:
    """data -> train -> export -> evaluate on a small classification CSV, once per session, in a folder of its own."""
    from {{ cookiecutter.package_name }}.pipeline import data, evaluate, export, train

    folder = tmp_path_factory.mktemp("trained")
    csv = shared_classification_csv
    params = Params.model_validate(
        {
            "task": "classification",
            "data": {"source": "file", "path": str(csv), "target": "label", "split": "stratified"},
            "model": {"type": "random_forest", "hyperparameters": {"n_estimators": 10}},
        }
    )
    shutil.copy(csv.parents[2] / paths.CONTRACT_PATH, folder / paths.CONTRACT_PATH)
    before = Path.cwd()
    os.chdir(folder)
    try:
        data.run(params)
        train.run(params)
        export.run()
        evaluate.run(params)
    finally:
        os.chdir(before)
    return folder, params


@pytest.fixture
def trained_outputs(_trained_once, workdir) -> Params:
    """The pipeline's outputs on small data, copied into the working folder; their params."""
    folder, params = _trained_once
    for name in ("data", "models", "reports"):
        shutil.copytree(folder / name, workdir / name)
    shutil.copy(folder / paths.CONTRACT_PATH, workdir / paths.CONTRACT_PATH)
    return params.model_copy(deep=True)


@pytest.fixture
def mixed_table(workdir, contract_of):
    """A raw table with text categories, empty cells in numeric and text columns, and string classes."""
    rng = np.random.default_rng(3)
    rows = 240
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue", "rare"], rows, p=[0.4, 0.35, 0.24, 0.01]),
            "size": rng.normal(10, 3, rows).round(2),
            "weight": rng.normal(50, 9, rows).round(1),
        }
    )
    frame["grade"] = np.where(frame["size"] + (frame["colour"] == "red") * 3 > 11, "high", "low")
    frame.loc[rng.choice(rows, 12, replace=False), "size"] = np.nan
    frame.loc[rng.choice(rows, 10, replace=False), "colour"] = np.nan
    path = workdir / "data/raw/mixed.csv"
    path.parent.mkdir(parents=True)
    frame.to_csv(path, index=False)
    contract_of(workdir, pd.read_csv(path, dtype=str), "grade", "classification")
    return path
