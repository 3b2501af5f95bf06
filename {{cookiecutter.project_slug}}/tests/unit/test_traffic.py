"""The model's traffic metrics: what they count, and that their labels come from the model only."""

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.package_name }}.pipeline.export import prediction_deciles
from {{ cookiecutter.package_name }}.serving.runtime import Features
from {{ cookiecutter.package_name }}.serving.traffic import OTHER_FIELD, SMALL_BATCH, ModelTraffic

FEATURES = Features(
    names=["island", "code", "member", "bill length", "depth"],
    types={
        "island": "categorical",
        "code": "categorical",
        "member": "boolean",
        "bill length": "numeric",
        "depth": "numeric",
    },
    nullable={"island": True, "code": False, "member": False, "bill length": False, "depth": True},
    categories={"island": ["Biscoe", "Dream"], "code": ["007", "012"]},
)
CLASSES = ["Adelie", "Gentoo", "Chinstrap"]


def samples(traffic: ModelTraffic) -> dict[tuple[str, tuple], float]:
    """Every sample the collector exposes: (name, sorted labels) -> value."""
    registry = CollectorRegistry()
    registry.register(traffic)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(traffic: ModelTraffic, name: str, **labels: str) -> float:
    return samples(traffic)[(name, tuple(sorted(labels.items())))]


def columns(*rows: dict) -> dict[str, list]:
    return {name: [row[name] for row in rows] for name in FEATURES.names}


def row(**changes) -> dict:
    return {"island": "Dream", "code": "007", "member": True, "bill length": 40.0, "depth": 17.0, **changes}


def test_every_series_is_there_from_the_start_at_zero():
    traffic = ModelTraffic(FEATURES, "classification", CLASSES, [])
    found = samples(traffic)
    assert found[("model_rows_total", ())] == 0
    assert {labels for name, labels in found if name == "model_predictions_total"} == {
        (("label", label),) for label in CLASSES
    }
    assert {labels for name, labels in found if name == "model_empty_cells_total"} == {
        (("feature", name),) for name in FEATURES.names
    }
    assert {labels for name, labels in found if name == "model_unknown_categories_total"} == {
        (("feature", "island"),),
        (("feature", "code"),),
    }
    assert {labels for name, labels in found if name == "model_invalid_cells_total"} == {
        (("feature", name),) for name in [*FEATURES.names, OTHER_FIELD]
    }
    assert found[("model_top_class_probability_count", ())] == 0


def test_rows_empty_cells_and_unknown_categories_are_counted_by_feature():
    traffic = ModelTraffic(FEATURES, "classification", CLASSES, [])
    batch = columns(row(), row(island=None, depth=None), row(island="  ", code="999"), row(island="Atlantis"))
    assert traffic.observe_inputs(batch) == 4
    assert value(traffic, "model_rows_total") == 4
    assert value(traffic, "model_empty_cells_total", feature="island") == 2  # null and blank text
    assert value(traffic, "model_empty_cells_total", feature="depth") == 1
    assert value(traffic, "model_empty_cells_total", feature="bill length") == 0
    assert value(traffic, "model_unknown_categories_total", feature="island") == 1
    assert value(traffic, "model_unknown_categories_total", feature="code") == 1


def test_a_value_from_a_client_never_becomes_a_label():
    traffic = ModelTraffic(FEATURES, "classification", CLASSES, [])
    before = set(samples(traffic))
    traffic.observe_inputs(columns(row(island="Atlantis", code="<script>")))
    traffic.observe_refusal([("body", "rows", 0, "secret_field"), ("body", "columns", "made up", 3)])
    after = samples(traffic)
    assert set(after) == before
    assert value(traffic, "model_invalid_cells_total", feature=OTHER_FIELD) == 2


def test_refused_cells_are_counted_by_the_feature_they_name():
    traffic = ModelTraffic(FEATURES, "classification", CLASSES, [])
    traffic.observe_refusal(
        [
            ("body", "rows", 1, "island"),
            ("body", "rows", 2, "island", "str"),
            ("body", "columns", "code", 0),
            ("body", "columns", "depth"),  # a ragged or missing column
            ("body", "rows"),  # neither form
            ("body",),
        ]
    )
    assert value(traffic, "model_invalid_cells_total", feature="island") == 2
    assert value(traffic, "model_invalid_cells_total", feature="code") == 1
    assert value(traffic, "model_invalid_cells_total", feature="depth") == 1
    assert value(traffic, "model_invalid_cells_total", feature=OTHER_FIELD) == 2


@pytest.mark.parametrize("rows", [1, SMALL_BATCH, SMALL_BATCH + 1, 500])
def test_predicted_classes_and_the_top_probability_in_small_and_large_batches(rows):
    rng = np.random.default_rng(rows)
    scores = rng.dirichlet([1.0, 1.0, 1.0], rows)
    scores[0] = [0.4, 0.4, 0.2]  # a tie goes to the first class, as the answer's argmax
    traffic = ModelTraffic(FEATURES, "classification", CLASSES, [])
    traffic.observe_scores(scores)
    expected = np.bincount(scores.argmax(axis=1), minlength=3)
    for label, count in zip(CLASSES, expected, strict=True):
        assert value(traffic, "model_predictions_total", label=label) == count
    top = scores.max(axis=1)
    assert value(traffic, "model_top_class_probability_count") == rows
    assert value(traffic, "model_top_class_probability_sum") == pytest.approx(top.sum())
    assert value(traffic, "model_top_class_probability_bucket", le="0.5") == (top <= 0.5).sum()
    assert value(traffic, "model_top_class_probability_bucket", le="+Inf") == rows


@pytest.mark.parametrize("rows", [3, 100])
def test_regression_answers_fill_the_buckets_of_the_deciles(rows):
    reference = np.arange(1001) / 10  # 0.0 to 100.0, each value exact
    deciles = prediction_deciles(reference)
    assert deciles == pytest.approx([10.0 * tenth for tenth in range(1, 10)])
    traffic = ModelTraffic(FEATURES, "regression", [], deciles)
    answers = np.linspace(5.0, 95.0, rows)
    traffic.observe_scores(answers)
    assert value(traffic, "model_prediction_count") == rows
    assert value(traffic, "model_prediction_bucket", le="50.0") == (answers <= 50.0).sum()
    assert value(traffic, "model_prediction_sum") == pytest.approx(answers.sum())
    assert not [name for name, _ in samples(traffic) if name.startswith("model_predictions")]


def test_a_model_that_answers_few_values_has_fewer_buckets():
    assert prediction_deciles(np.full(100, 3.0)) == [3.0]
    assert prediction_deciles(np.array([1.0] * 95 + [2.0] * 5)) == [1.0]
