import json

import numpy as np
import pandas as pd
import pytest
from sklearn import inspection
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from {{ cookiecutter.package_name }}.core import artifact, paths
from {{ cookiecutter.package_name }}.core.errors import ArtifactError
from {{ cookiecutter.package_name }}.core.metric_goals import METRIC_GOALS
from {{ cookiecutter.package_name }}.core.params import EvaluateParams, Params
from {{ cookiecutter.package_name }}.pipeline import data, evaluate, export, train
from {{ cookiecutter.package_name }}.serving import runtime


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
    assert names == set(METRIC_GOALS)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_stage_writes_metrics_plots_and_metadata(task, request, csv_params):
    path = request.getfixturevalue(f"{task}_csv")
    params = csv_params(path, "label" if task == "classification" else "y", task=task)
    data.run(params)
    digest = train.run(params)
    export.run()
    scores = evaluate.run(params)

    assert json.loads(paths.METRICS_PATH.read_text()) == scores
    metadata = json.loads(paths.METADATA_PATH.read_text())
    assert metadata["model_sha256"] == digest
    assert metadata["metrics"] == scores
    assert metadata["data"]["sha256"] == data.Schema.read(paths.PROCESSED_DIR / paths.SCHEMA_FILE).data_hash
    assert "quality" not in metadata["params"]
    assert {"python", "scikit-learn", "skops"} <= set(metadata["libraries"])
    tables = {p.stem for p in paths.PLOTS_DIR.glob("*.csv")}
    figures = {p.stem for p in paths.FIGURES_DIR.glob("*.png")}
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
    ours = evaluate.permutation_importance(
        model.predict, frame, pd.Series(target), "classification", seed=0, repeats=30
    )
    theirs = inspection.permutation_importance(model, frame, target, n_repeats=30, random_state=0)
    np.testing.assert_allclose(ours.to_numpy(), theirs.importances_mean, atol=0.02)
    assert set(ours.nlargest(2).index) == {"x0", "x1"}  # the informative features come first


def test_permutation_importance_is_the_same_in_small_calls():
    features, target = make_classification(n_samples=60, n_features=3, n_informative=2, n_redundant=0, random_state=1)
    frame = pd.DataFrame(features, columns=["a", "b", "c"])
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(frame, target)
    whole = evaluate.permutation_importance(model.predict, frame, pd.Series(target), "classification", seed=3)
    chunked = evaluate.permutation_importance(
        model.predict, frame, pd.Series(target), "classification", seed=3, rows_per_call=1
    )
    pd.testing.assert_series_equal(whole, chunked)


def test_the_sample_is_bounded_seeded_and_in_table_order():
    sample = evaluate.sample_positions(100_000, 5_000, seed=7)
    assert len(sample) == len(set(sample)) == 5_000
    assert (np.diff(sample) > 0).all() and sample[0] >= 0 and sample[-1] < 100_000
    np.testing.assert_array_equal(sample, evaluate.sample_positions(100_000, 5_000, seed=7))
    assert not np.array_equal(sample, evaluate.sample_positions(100_000, 5_000, seed=8))
    np.testing.assert_array_equal(evaluate.sample_positions(300, 5_000, seed=7), np.arange(300))


@pytest.fixture
def evaluated_twice(workdir, contract_of):
    """A table whose test split (500 rows) is longer than the sample (100 rows); trained and exported."""

    def run(**evaluate_settings):
        features, target = make_classification(n_samples=2_500, n_features=4, random_state=2)
        frame = pd.DataFrame(features, columns=["a", "b", "c", "d"]).assign(label=target)
        path = workdir / "data/raw/data.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
        contract_of(workdir, frame, "label", "classification")
        settings = {
            "data": {"source": "file", "path": str(path), "target": "label", "split": "stratified"},
            "model": {"type": "random_forest", "hyperparameters": {"n_estimators": 5}},
            "evaluate": evaluate_settings,
        }
        params = Params.model_validate(settings)
        data.run(params)
        train.run(params)
        export.run()
        return params, evaluate.run(params)

    return run


def test_diagnostics_use_the_sample_and_metrics_every_row(evaluated_twice):
    params, scores = evaluated_twice(sample_rows=100, importance_repeats=2)
    test, schema = data.load_part("test")
    assert len(test) == 500
    assert len(pd.read_csv(paths.REPORTS_DIR / "plots/confusion.csv")) == 100
    model = artifact.load_model()
    labels = model.predict(data.model_input(test, schema))
    assert scores["accuracy"] == round(float((labels == test["label"].to_numpy()).mean()), 6), "every test row"
    importance = pd.read_csv(paths.REPORTS_DIR / "plots/feature_importance.csv")
    assert sorted(importance["feature"]) == ["a", "b", "c", "d"]
    first = importance.copy()
    evaluate.run(params)
    pd.testing.assert_frame_equal(pd.read_csv(paths.REPORTS_DIR / "plots/feature_importance.csv"), first)


def test_the_runtime_that_serves_scores_the_model(evaluated_twice, monkeypatch):
    params, _ = evaluated_twice(sample_rows=100)
    scored_by = []
    for kind in (runtime.OnnxPredictor, runtime.SklearnPredictor):
        original = kind.predict_frame
        monkeypatch.setattr(
            kind, "predict_frame", lambda self, frame, o=original: scored_by.append(self.runtime) or o(self, frame)
        )
    evaluate.run(params)
    assert set(scored_by) == {"onnx"}
    monkeypatch.setattr(export, "convert", lambda *_: (_ for _ in ()).throw(ValueError("cannot convert")))
    export.run()
    scored_by.clear()
    evaluate.run(params)
    assert set(scored_by) == {"sklearn"}


def test_a_serving_record_of_another_model_is_refused(evaluated_twice):
    params, _ = evaluated_twice(sample_rows=100)
    train.run(params.model_copy(update={"seed": 1}))  # another model, not exported
    with pytest.raises(ArtifactError, match=r"serving\.json was exported from another model .* models/model\.skops"):
        evaluate.run(params)


def test_the_evaluate_settings_have_floors():
    with pytest.raises(ValueError, match="sample_rows"):
        EvaluateParams(sample_rows=10)
    with pytest.raises(ValueError, match="importance_repeats"):
        EvaluateParams(importance_repeats=0)
