import json

import numpy as np
import pandas as pd
import pytest
from sklearn import inspection
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from {{ cookiecutter.package_name }} import artifact, data, evaluate, train


def test_classification_metrics_on_a_known_case():
    y_true = pd.Series([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])
    scores = evaluate.classification_metrics(y_true, proba, np.array([0, 1]))
    assert scores["accuracy"] == 0.75
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == 1.0
    assert scores["roc_auc"] == 1.0


def test_regression_metrics_on_a_known_case():
    scores = evaluate.regression_metrics(pd.Series([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert scores["mae"] == pytest.approx(2 / 3)
    assert scores["rmse"] == pytest.approx(np.sqrt(4 / 3))


def test_every_metric_has_a_direction():
    y = pd.Series([0, 1, 0, 1])
    names = set(evaluate.classification_metrics(y, np.eye(2)[[0, 1, 1, 1]], np.array([0, 1])))
    names |= set(evaluate.regression_metrics(pd.Series([1.0, 2.0]), np.array([1.0, 1.5])))
    assert names == set(evaluate.METRIC_GOALS)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_stage_writes_metrics_plots_and_metadata(task, request, csv_params):
    path = request.getfixturevalue(f"{task}_csv")
    params = csv_params(path, "label" if task == "classification" else "y", task=task)
    data.run(params)
    digest = train.run(params)
    scores = evaluate.run(params)

    assert json.loads(evaluate.METRICS_FILE.read_text()) == scores
    metadata = json.loads(artifact.METADATA_PATH.read_text())
    assert metadata["model_sha256"] == digest
    assert metadata["metrics"] == scores
    assert metadata["data"]["sha256"] == data.Schema.read(data.PROCESSED_DIR / data.SCHEMA_FILE).data_hash
    assert "quality" not in metadata["params"]
    assert {"python", "scikit-learn", "skops"} <= set(metadata["libraries"])
    tables = {p.stem for p in (evaluate.REPORTS_DIR / "plots").glob("*.csv")}
    figures = {p.stem for p in (evaluate.REPORTS_DIR / "figures").glob("*.png")}
    assert tables == figures
    per_task = {
        "classification": {"confusion", "roc", "precision_recall"},
        "regression": {"predicted_vs_actual", "residuals"},
    }
    assert tables == per_task[task] | {"feature_importance"}


def test_permutation_importance_agrees_with_scikit_learn():
    features, target = make_classification(
        n_samples=300, n_features=5, n_informative=2, n_redundant=0, shuffle=False, random_state=0
    )
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(5)])
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(frame, target)
    ours = evaluate.permutation_importance(model, frame, pd.Series(target), "classification", seed=0, repeats=30)
    theirs = inspection.permutation_importance(model, frame, target, n_repeats=30, random_state=0)
    np.testing.assert_allclose(ours.to_numpy(), theirs.importances_mean, atol=0.02)
    assert set(ours.nlargest(2).index) == {"x0", "x1"}  # the informative features come first


def test_permutation_importance_is_the_same_in_small_calls():
    features, target = make_classification(n_samples=60, n_features=3, n_informative=2, n_redundant=0, random_state=1)
    frame = pd.DataFrame(features, columns=["a", "b", "c"])
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(frame, target)
    whole = evaluate.permutation_importance(model, frame, pd.Series(target), "classification", seed=3)
    chunked = evaluate.permutation_importance(
        model, frame, pd.Series(target), "classification", seed=3, rows_per_call=1
    )
    pd.testing.assert_series_equal(whole, chunked)
