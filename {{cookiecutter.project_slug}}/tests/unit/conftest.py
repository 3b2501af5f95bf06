"""Unit tests work in a temporary folder on small data, without the pipeline's outputs."""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from {{ cookiecutter.package_name }}.config import Params


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_raw_csv(folder: Path, features, target, target_name: str) -> Path:
    """Save generated rows as data/raw/data.csv, with columns x0, x1, ... and the target."""
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(features.shape[1])])
    path = folder / "data/raw/data.csv"
    path.parent.mkdir(parents=True)
    frame.assign(**{target_name: target}).to_csv(path, index=False)
    return path


@pytest.fixture
def classification_csv(workdir) -> Path:
    return write_raw_csv(workdir, *make_classification(n_samples=120, n_features=5, random_state=0), "label")


@pytest.fixture
def regression_csv(workdir) -> Path:
    return write_raw_csv(workdir, *make_regression(n_samples=120, n_features=4, noise=5.0, random_state=0), "y")


@pytest.fixture
def csv_params():
    """Build Params that read a CSV, with a small forest unless the model is overridden."""

    def make(path: Path, target: str, task: str = "classification", **model) -> Params:
        return Params.model_validate(
            {
                "task": task,
                "data": {"source": "csv", "path": str(path), "target": target},
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
    """data -> train -> evaluate on a small classification CSV, once per session, in a folder of its own."""
    from {{ cookiecutter.package_name }} import data, evaluate, train

    folder = tmp_path_factory.mktemp("trained")
    csv = shared_classification_csv
    params = Params.model_validate(
        {
            "task": "classification",
            "data": {"source": "csv", "path": str(csv), "target": "label"},
            "model": {"type": "random_forest", "hyperparameters": {"n_estimators": 10}},
        }
    )
    before = Path.cwd()
    os.chdir(folder)
    try:
        data.run(params)
        train.run(params)
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
    return params.model_copy(deep=True)
