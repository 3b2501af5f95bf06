"""The service on small models of every kind, where the pipeline's own model cannot show a case."""

import json

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.pipeline import data, evaluate, export, train
from {{ cookiecutter.package_name }}.serving import service


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
