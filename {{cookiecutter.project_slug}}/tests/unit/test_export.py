import re

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.ensemble import HistGradientBoostingClassifier

from {{ cookiecutter.package_name }}.core import artifact, paths
from {{ cookiecutter.package_name }}.core.errors import ArtifactError
from {{ cookiecutter.package_name }}.core.params import Params
from {{ cookiecutter.package_name }}.core.records import ServingRecord
from {{ cookiecutter.package_name }}.pipeline import data, evaluate, export, train
from {{ cookiecutter.package_name }}.serving import service
from {{ cookiecutter.package_name }}.serving.predict import predict_frame


@pytest.fixture
def pipeline(request, csv_params):
    """Run data and train (and evaluate, for the service) on small data; return the params."""

    def run(task: str = "classification", evaluated: bool = False, **model):
        target = "label" if task == "classification" else "y"
        path = request.getfixturevalue(f"{task}_csv")
        params = csv_params(path, target, task, **model)
        data.run(params)
        train.run(params)
        if evaluated:
            export.run()  # evaluate scores what serves
            evaluate.run(params)
        return params

    return run


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("scale", [True, False], ids=["scaled", "unscaled"])
def test_onnx_matches_scikit_learn_and_is_recorded(pipeline, task, scale):
    pipeline(task, type="random_forest", preprocessing={"scale": scale}, hyperparameters={"n_estimators": 10})
    record = export.run()
    assert record.runtime == "onnx" and record.fallback_reason is None
    assert record.onnx_sha256 == artifact.sha256(paths.ONNX_PATH.read_bytes())
    assert record.model_sha256 == artifact.sha256(paths.MODEL_PATH.read_bytes())
    assert record == ServingRecord.read(paths.SERVING_PATH)
    parity = record.parity
    difference = parity.get("max_abs_difference", parity.get("max_relative_difference"))
    assert difference <= parity["tolerance"] == export.PROBABILITY_TOLERANCE


@pytest.mark.parametrize("model_type", ["logistic_regression", "ridge"])
def test_linear_models_convert_too(pipeline, model_type):
    pipeline(
        "classification" if model_type == "logistic_regression" else "regression", type=model_type, hyperparameters={}
    )
    assert export.run().runtime == "onnx"


def test_the_same_model_gives_the_same_onnx_bytes(pipeline):
    pipeline()
    first = export.run()
    content = paths.ONNX_PATH.read_bytes()
    assert export.run() == first
    assert paths.ONNX_PATH.read_bytes() == content


def test_a_model_onnx_cannot_hold_is_served_by_scikit_learn(pipeline, monkeypatch):
    pipeline()
    export.run()

    def refuse(*_):
        raise ValueError("Expected an int, got a boolean\nmore detail")

    monkeypatch.setattr(export, "convert", refuse)
    record = export.run()
    assert record.runtime == "sklearn" and record.onnx_sha256 is None
    assert record.fallback_reason == "ValueError: Expected an int, got a boolean"
    assert not paths.ONNX_PATH.exists(), "no stale ONNX file from the earlier export"
    assert paths.ONNX_PATH.parent.is_dir(), "the stage's output folder exists, empty"


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_hist_gradient_boosting_is_exported_with_parity(pipeline, task):
    pipeline(task, type="hist_gradient_boosting", hyperparameters={"max_iter": 20, "min_samples_leaf": 5})
    record = export.run()
    assert record.runtime == "onnx", record.fallback_reason
    difference = record.parity.get("max_abs_difference", record.parity.get("max_relative_difference"))
    assert difference <= record.parity["tolerance"]


def test_the_graph_takes_one_matrix_per_kind_and_refuses_one_input_per_feature(pipeline, monkeypatch):
    pipeline(type="hist_gradient_boosting", hyperparameters={"max_iter": 5})
    model, (_, _, schema) = artifact.load_model(), data.load_split()
    session = export.session(export.convert(model, schema.feature_types))
    assert [(value.name, value.shape[-1]) for value in session.get_inputs()] == [("numbers", len(schema.features))]
    assert export.onnx_inputs(session, schema.feature_types) == {"numbers": schema.features}
    monkeypatch.setattr(export, "_group_inputs", lambda *_: None)  # as exported before the inputs were grouped
    older = export.session(export.convert(model, schema.feature_types))
    with pytest.raises(ArtifactError, match=r"not one matrix per kind of feature.*older version.*run `dvc repro`"):
        export.onnx_inputs(older, schema.feature_types)


def test_features_named_like_the_graph_s_inputs_convert_with_parity(workdir, mixed_table, contract_of):
    frame = pd.read_csv(mixed_table).rename(columns={"colour": "text", "size": "numbers"})
    frame.to_csv(mixed_table, index=False)
    contract_of(workdir, pd.read_csv(mixed_table, dtype=str), "grade", "classification")
    target = {"source": "file", "path": str(mixed_table), "target": "grade", "split": "stratified"}
    params = Params.model_validate({"data": target, "model": {"type": "hist_gradient_boosting"}})
    data.run(params)
    train.run(params)
    record = export.run()  # the parity check included
    assert record.runtime == "onnx", record.fallback_reason
    assert record.onnx_inputs == {"numbers": ["numbers", "weight"], "text": ["text"]}


def test_native_categorical_splits_are_served_by_scikit_learn_with_the_reason():
    codes = np.tile([0.0, 1.0, 2.0, np.nan], 30).reshape(-1, 1)
    model = HistGradientBoostingClassifier(max_iter=3, categorical_features=[True]).fit(codes, codes.ravel() == 1.0)
    with pytest.raises(NotImplementedError, match="native categorical splits"):
        export.convert(model, {"code": "numeric"})


def test_the_parity_check_runs_on_a_bounded_seeded_sample(pipeline):
    params = pipeline()
    _, test, _ = data.load_split()
    bounded = Params.model_validate({**params.as_dict(), "export": {"parity_rows": 7}})
    record = export.run(bounded)
    assert record.parity["rows"] == 7 and record.parity["test_rows"] == len(test) > 7
    first = export.parity_sample(test, 7, seed=42)
    assert len(first) == 7 and first.equals(export.parity_sample(test, 7, seed=42)), "the same rows each run"
    assert first.index.is_monotonic_increasing and not first.equals(export.parity_sample(test, 7, seed=1))
    assert export.parity_sample(test, len(test), seed=42) is test, "a test split within the bound is checked whole"


def test_a_model_over_the_size_budget_fails_the_stage_with_the_fix(pipeline):
    params = pipeline(type="hist_gradient_boosting", hyperparameters={"max_iter": 20, "min_samples_leaf": 5})
    tight = Params.model_validate({**params.as_dict(), "export": {"max_model_mb": 0.001}})
    with pytest.raises(export.ModelSizeError) as refused:
        export.run(tight)
    message = str(refused.value)
    assert re.search(r"models/onnx/model\.onnx is [\d.]+ MB, over export\.max_model_mb 0\.001: bound", message)
    assert "max_leaf_nodes" in message and not paths.ONNX_PATH.exists()


def test_a_forest_over_the_budget_is_refused_before_its_conversion(pipeline, monkeypatch):
    params = pipeline()  # a forest of 10 trees: several kilobytes of nodes
    monkeypatch.setattr(export, "convert", lambda *_: pytest.fail("a forest over the budget was converted"))
    tight = Params.model_validate({**params.as_dict(), "export": {"max_model_mb": 0.001}})
    with pytest.raises(export.ModelSizeError, match=r"model\.onnx would be at least [\d.]+ MB, over export"):
        export.run(tight)


def test_onnx_that_differs_from_scikit_learn_fails_the_stage(pipeline, monkeypatch):
    pipeline()
    monkeypatch.setattr(export, "PROBABILITY_TOLERANCE", -1.0)
    with pytest.raises(export.ParityError, match=r"ONNX probabilities differ .* on the test split"):
        export.run()
    assert not paths.ONNX_PATH.exists()


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_forest_takes_scikit_learn_s_branch_at_every_threshold(pipeline, task):
    pipeline(task)  # a forest after imputation and scaling
    model, (_, _, schema) = artifact.load_model(), data.load_split()
    scale = model.named_steps["prepare"].named_transformers_["numeric"].named_steps["scale"]
    # Rows whose scaled value sits at a threshold (as float32) and one float32 step either side of it.
    rows = []
    for tree in model.named_steps["model"].estimators_:
        for feature, threshold in zip(tree.tree_.feature, tree.tree_.threshold, strict=True):
            if feature < 0:  # a leaf
                continue
            at = np.float32(threshold)
            for value in (at, np.nextafter(at, np.float32(np.inf)), np.nextafter(at, np.float32(-np.inf))):
                scaled = np.zeros(len(schema.features))
                scaled[feature] = value
                rows.append(scale.inverse_transform(scaled.reshape(1, -1))[0])
    rows = pd.DataFrame(rows, columns=schema.features)
    session = export.session(export.convert(model, schema.feature_types))
    inputs = export.frame_feeds(rows, export.onnx_inputs(session, schema.feature_types))
    served, offline = export.onnx_outputs(session, inputs, task), export.scikit_learn_outputs(model, rows, task)
    # Another branch would differ by a leaf's share of the vote; float32 sums differ by far less.
    np.testing.assert_allclose(served, offline, rtol=export.RELATIVE_TOLERANCE, atol=export.PROBABILITY_TOLERANCE)


class Probabilities:
    """A model and an ONNX session that answer fixed class probabilities."""

    def __init__(self, rows):
        self.rows = np.array(rows, dtype=np.float64)

    def predict_proba(self, _):
        return self.rows

    def get_inputs(self):
        return [type("Input", (), {"name": "numbers", "type": "tensor(double)", "shape": [None, 1]})()]

    def run(self, _, __):
        return [None, self.rows]


def test_a_label_may_differ_only_where_scikit_learn_has_a_tie():
    features = pd.DataFrame({"x": [0.0, 1.0]})
    offline = Probabilities([[0.5, 0.5], [0.9, 0.1]])  # row 0: 20 of 40 trees each way
    served = Probabilities([[0.4999999, 0.5000001], [0.9, 0.1]])
    assert export.parity(offline, served, features, "classification")["labels_differ"] == 0
    decided = Probabilities([[0.5, 0.5], [0.4999999, 0.5000001]])
    with pytest.raises(export.ParityError, match="1 of 2 predicted labels differ"):
        export.parity(Probabilities([[0.5, 0.5], [0.5001, 0.4999]]), decided, features, "classification")


def test_the_service_predicts_with_scikit_learn_when_onnx_cannot(pipeline, monkeypatch):
    params = pipeline("regression", evaluated=True, type="hist_gradient_boosting", hyperparameters={"max_iter": 5})
    monkeypatch.setattr(export, "convert", lambda *_: (_ for _ in ()).throw(ValueError("cannot convert")))
    export.run()
    _, test, schema = data.load_split()
    rows = test[schema.features].head(3)
    with TestClient(service.create_app()) as client:
        while client.get("/ready").json().get("detail") == "loading":
            pass
        assert client.get("/ready").json() == {"ready": True, "runtime": "sklearn"}
        assert client.get("/metadata").json()["fallback_reason"] == "ValueError: cannot convert"
        answer = client.post("/predict", json={"rows": rows.to_dict(orient="records")})
    model, _ = artifact.load_verified()
    expected = predict_frame(model, rows, params.task)["prediction"]
    pd.testing.assert_series_equal(pd.DataFrame(answer.json()["predictions"])["prediction"], expected)


@pytest.mark.parametrize("model_type", ["hist_gradient_boosting", "random_forest", "logistic_regression"])
def test_a_pipeline_of_text_and_numbers_converts_with_parity(mixed_table, model_type):
    params = Params.model_validate(
        {
            "data": {"source": "file", "path": str(mixed_table), "target": "grade", "split": "stratified"},
            "model": {
                "type": model_type,
                "hyperparameters": {"random_forest": {"n_estimators": 10}}.get(model_type, {}),
            },
        }
    )
    data.run(params)
    train.run(params)
    record = export.run()
    assert record.runtime == "onnx", record.fallback_reason
    assert record.parity["max_abs_difference"] <= export.PROBABILITY_TOLERANCE
    assert record.feature_types == {"colour": "categorical", "size": "numeric", "weight": "numeric"}
    # Rows the test split never had: an unknown category, empty cells of both kinds.
    session = export.session(paths.ONNX_PATH.read_bytes())
    rows = {"colour": ["violet", None, "red"], "size": [None, 3.0, 11.0], "weight": [50.0, None, 47.5]}
    assert record.onnx_inputs == {"numbers": ["size", "weight"], "text": ["colour"]}
    inputs = export.onnx_inputs(session, record.feature_types)
    served = export.onnx_outputs(session, export.feeds(rows, inputs), "classification")
    offline = artifact.load_model().predict_proba(data.model_input(pd.DataFrame(rows), record.feature_types))
    np.testing.assert_allclose(served, offline, atol=export.PROBABILITY_TOLERANCE)
