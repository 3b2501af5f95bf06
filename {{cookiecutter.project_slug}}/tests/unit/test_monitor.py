"""The monitor's statistics and checks on tables made here: what they flag, and what they must not."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import UndefinedMetricWarning

from {{ cookiecutter.package_name }}.core.contract import Column, Contract
from {{ cookiecutter.package_name }}.core.params import MonitoringParams
from {{ cookiecutter.package_name }}.monitoring import monitor
from {{ cookiecutter.package_name }}.monitoring.resampled import ResampledMetrics
from {{ cookiecutter.package_name }}.pipeline import evaluate
from {{ cookiecutter.package_name }}.serving.runtime import Features

SETTINGS = MonitoringParams(bootstrap=100)  # the default's thresholds; fewer resamples keep the tests quick
RNG_SEED = 7


def levels(rows: int, shares: list[float], seed: int) -> pd.Series:
    names = np.array([f"level-{i}" for i in range(len(shares))], dtype=object)
    return pd.Series(names[np.random.default_rng(seed).choice(len(shares), rows, p=shares)])


@pytest.mark.parametrize("rows", [50, 1_000, 100_000])
def test_a_sample_of_the_same_numbers_does_not_drift(rows):
    rng = np.random.default_rng(RNG_SEED)
    drift = monitor.column_drift(
        "x", "numeric", pd.Series(rng.normal(size=20_000)), pd.Series(rng.normal(size=rows)), SETTINGS, tests=30
    )
    assert not drift.drifted, drift


@pytest.mark.parametrize("rows", [200, 100_000])
def test_numbers_moved_by_half_a_standard_deviation_drift(rows):
    rng = np.random.default_rng(RNG_SEED)
    drift = monitor.column_drift(
        "x", "numeric", pd.Series(rng.normal(size=20_000)), pd.Series(rng.normal(0.5, 1.0, rows)), SETTINGS, tests=30
    )
    assert drift.drifted and drift.measure == "wasserstein" and 0.35 < drift.effect < 0.65, drift


def test_a_small_shift_in_a_huge_batch_is_significant_but_too_small_to_flag():
    rng = np.random.default_rng(RNG_SEED)
    drift = monitor.column_drift(
        "x", "numeric", pd.Series(rng.normal(size=200_000)), pd.Series(rng.normal(0.03, 1.0, 200_000)), SETTINGS, 30
    )
    assert drift.p_value < 1e-6 and not drift.drifted


@pytest.mark.parametrize("rows", [60, 5_000])
def test_categories_in_their_usual_shares_do_not_drift(rows):
    shares = [0.5, 0.3, 0.15, 0.05]
    drift = monitor.column_drift("c", "categorical", levels(20_000, shares, 1), levels(rows, shares, 2), SETTINGS, 30)
    assert not drift.drifted, drift


def test_a_category_that_doubles_its_share_drifts():
    before, after = [0.5, 0.3, 0.15, 0.05], [0.3, 0.3, 0.15, 0.25]
    drift = monitor.column_drift("c", "categorical", levels(20_000, before, 1), levels(5_000, after, 2), SETTINGS, 30)
    assert drift.drifted and drift.measure == "jensen-shannon", drift


def test_empty_cells_count_as_a_category_of_their_own():
    before = levels(5_000, [0.5, 0.5], 1)
    after = levels(5_000, [0.5, 0.5], 2).mask(np.random.default_rng(3).random(5_000) < 0.4)
    assert monitor.column_drift("c", "categorical", before, after, SETTINGS, 30).drifted


def contract_and_features() -> tuple[Contract, Features]:
    contract = Contract(
        {
            "amount": Column("amount", "numeric", empty=0.02, min=0.0, max=100.0),
            "colour": Column("colour", "categorical", empty=0.0, categories=("blue", "green", "red")),
        }
    )
    features = Features(
        names=["amount", "colour"],
        types={"amount": "numeric", "colour": "categorical"},
        nullable={"amount": True, "colour": False},
        categories={"colour": ["blue", "green", "red"]},
    )
    return contract, features


def contract_batch(rows: int, unknown: float = 0.0, empty: float = 0.0, text: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(RNG_SEED)
    amount = pd.Series(rng.uniform(0, 100, rows), dtype=object)
    amount[rng.random(rows) < empty] = None
    amount.iloc[:text] = "n/a"
    colour = pd.Series(rng.choice(["blue", "green", "red"], rows), dtype=object)
    colour[rng.random(rows) < unknown] = "purple"
    return pd.DataFrame({"amount": amount, "colour": colour})


def findings_of(batch: pd.DataFrame) -> list[str]:
    from {{ cookiecutter.package_name }}.pipeline.data import model_input

    contract, features = contract_and_features()
    return monitor.contract_findings(batch, model_input(batch, features.types), features, contract, SETTINGS)


def test_a_batch_that_keeps_the_contract_has_no_findings():
    assert findings_of(contract_batch(2_000, empty=0.02)) == []


def test_categories_the_contract_does_not_know_are_named_with_their_share():
    (finding,) = findings_of(contract_batch(2_000, unknown=0.2))
    assert "`colour`" in finding and "'purple'" in finding and "monitoring.new_categories" in finding


def test_empty_cells_beyond_the_contracts_share_are_found():
    (finding,) = findings_of(contract_batch(2_000, empty=0.3))
    assert "`amount`" in finding and "allows 2.0%" in finding


def test_text_in_a_numeric_column_is_counted():
    (finding,) = findings_of(contract_batch(500, text=3))
    assert finding.startswith("`amount`: 3 of 500 cells are not numbers")


def classification_scores(rows: int, seed: int, flip: float = 0.0) -> tuple[pd.Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, rows)
    confidence = rng.uniform(0.6, 1.0, rows)
    positive = np.where(truth == 1, confidence, 1 - confidence)
    flipped = rng.random(rows) < flip
    labels = np.where(flipped, 1 - truth, truth)
    return pd.Series(labels), np.column_stack([1 - positive, positive])


def release_classification(rows: int = 20_000) -> monitor.Outcomes:
    """The held-out split's outcomes at release: another draw of the same kind of model and data."""
    return monitor.Outcomes(*classification_scores(rows, seed=1))


def classification_checks(truth: pd.Series, scores: np.ndarray, **tolerance: float) -> tuple[list, list[str]]:
    return monitor.quality_checks(
        monitor.Outcomes(truth, scores), release_classification(), [0, 1], "classification", SETTINGS, 0, tolerance
    )


@pytest.mark.parametrize("rows", [60, 2_000, 100_000])
def test_quality_as_at_release_is_not_a_finding(rows):
    checks, notes = classification_checks(*classification_scores(rows, seed=2))
    assert checks and not [check for check in checks if check.decayed], checks
    sampled = [f"quality judged on {monitor.QUALITY_ROWS:,} labelled rows, drawn with the project's seed"]
    assert notes == ([] if rows <= monitor.QUALITY_ROWS else sampled)


def test_flipped_labels_on_a_slice_show_as_decayed_quality():
    checks, _ = classification_checks(*classification_scores(2_000, seed=2, flip=0.25))
    decayed = {check.metric for check in checks if check.decayed}
    assert {"accuracy", "roc_auc"} <= decayed
    assert all(check.high < 0 for check in checks if check.metric in decayed)


def test_a_drop_within_the_tolerance_is_not_decay():
    truth, scores = classification_scores(100_000, seed=2, flip=0.01)  # accuracy about 0.01 lower
    strict, _ = classification_checks(truth, scores)
    tolerant, _ = classification_checks(truth, scores, accuracy=0.03)
    assert "accuracy" in {check.metric for check in strict if check.decayed}
    assert "accuracy" not in {check.metric for check in tolerant if check.decayed}


def test_regression_quality_judges_errors_the_lower_the_better():
    rng = np.random.default_rng(4)
    truth, release_truth = pd.Series(rng.normal(100, 10, 3_000)), pd.Series(rng.normal(100, 10, 3_000))
    release = monitor.Outcomes(release_truth, (release_truth + rng.normal(0, 2, 3_000)).to_numpy())
    good, bad = truth + rng.normal(0, 2, 3_000), truth + rng.normal(0, 8, 3_000)
    held, _ = monitor.quality_checks(monitor.Outcomes(truth, good.to_numpy()), release, [], "regression", SETTINGS, 0)
    worse, _ = monitor.quality_checks(monitor.Outcomes(truth, bad.to_numpy()), release, [], "regression", SETTINGS, 0)
    assert held and not [check for check in held if check.decayed]
    assert {check.metric for check in worse if check.decayed} == {"rmse", "mae", "r2"}


def test_too_few_outcomes_are_a_note_not_a_verdict():
    checks, notes = classification_checks(*classification_scores(10, seed=2, flip=0.5))
    assert checks == [] and "too few to judge quality" in notes[0]


def test_outcomes_of_an_unknown_class_are_left_out_and_named():
    truth, scores = classification_scores(500, seed=2)
    truth = truth.astype(object)
    truth.iloc[:5] = "maybe"
    _, notes = classification_checks(truth, scores)
    assert any("'maybe'" in note for note in notes)


def test_the_reports_escape_names_from_the_data():
    result = monitor.Result(batch="b.csv", rows=1, sampled_rows=1, reference_rows=1, model_sha256=None)
    result.features.append(monitor.Drift("<script>a|b", "numeric", "wasserstein", 0.5, 0.001, True, 10, 10))
    result.findings.append("`<script>a|b` drifted")
    page = monitor.html_page(result, charts=[])
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "a\\|b" in monitor.markdown(result)


@pytest.mark.parametrize("task", ["binary", "three classes", "rare class", "regression", "constant truth"])
def test_resampled_metrics_are_scikit_learns_on_the_drawn_rows(task):
    """The bootstrap's weighted metrics against scikit-learn's on the same resamples, ties and all."""
    rng = np.random.default_rng(RNG_SEED)
    rows = 400
    if task == "regression" or task == "constant truth":
        truth = np.full(rows, 3.0) if task == "constant truth" else rng.normal(10, 3, rows)
        scores = truth + rng.normal(0, 1, rows)
        metrics = ResampledMetrics(truth, scores, "regression")
        expected = lambda index: evaluate.regression_metrics(truth[index], scores[index])  # noqa: E731
    else:
        classes = 2 if task == "binary" else 3
        shares = [0.99, 0.005, 0.005] if task == "rare class" else [1 / classes] * classes
        truth = rng.choice(classes, rows, p=shares)
        logits = rng.normal(size=(rows, classes)) + np.eye(classes)[truth]
        scores = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 2)  # rounded: ties
        scores[:, -1] = 1 - scores[:, :-1].sum(axis=1)
        metrics = ResampledMetrics(truth, scores, "classification", classes)
        positions = np.arange(classes)
        expected = lambda index: evaluate.classification_metrics(truth[index], scores[index], positions)  # noqa: E731
    undefined = 0
    for _ in range(30):
        index = rng.integers(0, rows, rows)
        got = metrics(np.bincount(index, minlength=rows))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", UndefinedMetricWarning)
                wanted = expected(index)
        except (ValueError, UndefinedMetricWarning):  # scikit-learn: a class without positives has no ROC AUC
            assert got is None
            undefined += 1
            continue
        assert got is not None and got.keys() == wanted.keys()
        for name, value in wanted.items():
            assert got[name] == pytest.approx(float(value), abs=1e-12), name
    assert undefined > 0 if task == "rare class" else undefined == 0
