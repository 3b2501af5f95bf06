import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core.params import Params
from {{ cookiecutter.package_name }}.pipeline.data import Schema
from {{ cookiecutter.package_name }}.review.gate import (
    MetricChange,
    Side,
    changed_params,
    judge,
    roc_on_grid,
)

SCHEMA = Schema("classification", "y", ["x"], {"x": "numeric"}, {}, [0, 1], "test", "0" * 64, 10, 8, 2)


def side(metrics: dict[str, float], **quality) -> Side:
    params = Params.model_validate({"quality": quality})
    return Side(root=None, params=params, metrics=metrics, schema=SCHEMA, metadata={})


def test_a_drop_within_tolerance_passes():
    verdict = judge(side({"roc_auc": 0.99}, tolerance={"roc_auc": 0.01}), side({"roc_auc": 0.985}))
    assert verdict.passed
    assert verdict.summary().startswith("pass")


def test_a_drop_beyond_tolerance_fails_and_says_why():
    verdict = judge(side({"roc_auc": 0.99}, tolerance={"roc_auc": 0.005}), side({"roc_auc": 0.97}))
    assert not verdict.passed
    assert verdict.failures == [
        "roc_auc is worse than main by 0.0200 (0.9900 -> 0.9700), more than its tolerance 0.005"
    ]


def test_lower_is_better_for_errors():
    base = side({"rmse": 50.0}, tolerance={"rmse": 1.0})
    assert judge(base, side({"rmse": 45.0})).passed
    assert not judge(base, side({"rmse": 52.0})).passed
    assert MetricChange("rmse", 50.0, 45.0, 1.0).direction == "better"


def test_the_bar_of_main_applies_not_the_pull_requests():
    # A pull request cannot pass by loosening its own tolerance or floor.
    base = side({"accuracy": 0.95}, tolerance={"accuracy": 0.01}, minimum={"accuracy": 0.9})
    head = side({"accuracy": 0.85}, tolerance={"accuracy": 1.0}, minimum={"accuracy": 0.5})
    verdict = judge(base, head)
    assert len(verdict.failures) == 2
    assert "accuracy = 0.85 is below its floor 0.9" in verdict.failures


def test_a_metric_missing_from_head_fails_when_gated():
    verdict = judge(side({"f1": 0.9}, tolerance={"f1": 0.01}), side({}))
    assert verdict.failures == ["f1 is missing from the head model's metrics"]


def test_only_changed_params_are_listed():
    base = Params.model_validate({"model": {"hyperparameters": {"n_estimators": 100, "max_depth": 3}}})
    head = Params.model_validate({"seed": 7, "model": {"hyperparameters": {"n_estimators": 100, "max_depth": 5}}})
    assert changed_params(base, head) == [("seed", 42, 7), ("model.hyperparameters.max_depth", 3, 5)]


def test_roc_on_grid_is_the_best_rate_reached_so_far():
    table = pd.DataFrame({"fpr": [0.0, 0.0, 0.0, 0.5, 1.0], "tpr": [0.0, 0.5, 0.8, 0.9, 1.0]})
    np.testing.assert_allclose(roc_on_grid(table, np.array([0.0, 0.25, 0.5, 1.0])), [0.8, 0.8, 0.9, 1.0])


@pytest.mark.parametrize(("base", "head", "expected"), [(0.9, 0.9, "same"), (None, 0.9, "new"), (0.9, None, "removed")])
def test_directions(base, head, expected):
    assert MetricChange("accuracy", base, head, None).direction == expected
