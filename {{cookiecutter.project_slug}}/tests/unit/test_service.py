"""The service on small models of every kind, where the pipeline's own model cannot show a case."""

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from {{ cookiecutter.package_name }}.pipeline import data, evaluate, export, train
from {{ cookiecutter.package_name }}.serving import runtime, service

FEATURES = runtime.Features(names=["x"], types={"x": "numeric"}, nullable={"x": False}, categories={})


@pytest.fixture
def ridge_service(regression_csv, csv_params):
    """A linear regression, exported to ONNX and served: its answer grows with its inputs, without bound."""
    params = csv_params(regression_csv, "y", "regression", type="ridge", hyperparameters={})
    data.run(params)
    train.run(params)
    assert export.run().runtime == "onnx"
    evaluate.run(params)
    with TestClient(service.create_app()) as client:
        while client.get("/ready").json().get("detail") == "loading":
            pass
        yield client


def test_an_answer_json_cannot_carry_is_refused_naming_the_row(ridge_service):
    ordinary = {"x0": 0.1, "x1": -0.2, "x2": 0.3, "x3": 0.0}
    extreme = dict.fromkeys(ordinary, 1e308)  # finite, valid input: the linear model's answer overflows
    answer = ridge_service.post("/predict", json={"rows": [ordinary, extreme]})
    assert answer.status_code == 422
    json.loads(answer.text, parse_constant=lambda name: pytest.fail(f"the answer holds {name}"))
    assert [problem["field"] for problem in answer.json()["detail"]] == ["rows[1]"]
    assert answer.json()["detail"][0]["type"] == "not_finite"
    assert ridge_service.post("/predict", json={"rows": [ordinary]}).status_code == 200
    columns = {name: [value, extreme[name]] for name, value in ordinary.items()}
    answer = ridge_service.post("/predict", json={"columns": columns})
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert (problem["field"], problem["type"]) == ("columns", "not_finite")
    assert problem["msg"].startswith("row 1: "), problem


@pytest.mark.parametrize(
    ("task", "classes"),
    [
        ("classification", [0, 1]),
        ("classification", ["Adelie", "a, b", 'say "50%"', "naïve\\n", "%s %b"]),
        ("classification", [-3, 7, 1000]),
        ("regression", []),
    ],
    ids=["binary", "labels-json-must-escape", "integers", "regression"],
)
def test_the_answers_json_is_what_the_answers_serialise_to(task, classes):
    """The service writes its answers without a dict per row: byte for byte pydantic's JSON of the records."""
    rng = np.random.default_rng(0)
    for rows in (1, 2, 100):
        scores = rng.random((rows, len(classes))) if classes else rng.normal(0, 1e6, rows)
        edge = [0.0, -0.0, 1e-7, 5e-324, 1 / 3, 1e300, -2.5e-12, 1.0]  # every form a float's JSON takes
        scores.reshape(-1)[: len(edge)] = edge[: scores.size]
        predictor = runtime.Predictor(FEATURES, task, classes)  # no model: its answers are made from given scores
        records = predictor.records(scores)
        assert predictor.answers_json(scores) == TypeAdapter(list[dict[str, Any]]).dump_json(records)
        assert json.loads(predictor.answers_json(scores)) == records
