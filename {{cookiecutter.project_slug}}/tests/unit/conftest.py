"""Unit tests work in a temporary folder on small data, without the pipeline's outputs."""

from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from {{ cookiecutter.package_name }}.config import Params


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def classification_csv(workdir) -> Path:
    features, target = make_classification(n_samples=120, n_features=5, random_state=0)
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(5)]).assign(label=target)
    path = workdir / "data/raw/data.csv"
    path.parent.mkdir(parents=True)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def regression_csv(workdir) -> Path:
    features, target = make_regression(n_samples=120, n_features=4, noise=5.0, random_state=0)
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(4)]).assign(y=target)
    path = workdir / "data/raw/data.csv"
    path.parent.mkdir(parents=True)
    frame.to_csv(path, index=False)
    return path


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
