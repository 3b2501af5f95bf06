"""Behavioural tests: what the model must do whatever its metrics say.

Invariance (an irrelevant change leaves predictions alone), direction (a change with a known
effect moves predictions the known way, from params.yaml quality.direction) and minimum
functionality (easy, typical cases come out right).
"""

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.predict import check_features


def score(model, features, task):
    """The number the model is judged by: P(last class) for classification, the prediction otherwise."""
    if task == "classification":
        return model.predict_proba(features)[:, -1]
    return model.predict(features)


def test_column_order_and_extra_columns_do_not_matter(model, split):
    # Scoring selects the model's features by name, as `predict` and the service do.
    _, test, schema = split
    features = test[schema.features]
    reordered = features[list(reversed(schema.features))].assign(customer_id=range(len(features)))
    selected = check_features(reordered, schema.features, "reordered rows")
    np.testing.assert_allclose(score(model, selected, schema.task), score(model, features, schema.task))


def test_a_row_is_scored_the_same_alone_and_in_a_batch(model, split):
    _, test, schema = split
    features = test[schema.features]
    batch = score(model, features, schema.task)
    alone = np.concatenate([score(model, features.iloc[[i]], schema.task) for i in range(5)])
    np.testing.assert_allclose(alone, batch[:5])


def test_direction_of_a_known_effect(model, split, params):
    direction = params.quality.direction
    if direction is None:
        pytest.fail("set quality.direction in params.yaml: a feature whose effect you know", pytrace=False)
    train, test, schema = split
    if schema.task == "classification" and len(schema.labels) != 2:
        pytest.fail("quality.direction needs two classes or a regression; set it to null", pytrace=False)
    assert direction.feature in schema.features, f"quality.direction.feature {direction.feature!r} is not a feature"
    features = test[schema.features]
    raised = features.copy()
    raised[direction.feature] += train[direction.feature].std()
    change = score(model, raised, schema.task).mean() - score(model, features, schema.task).mean()
    if direction.expect == "increase":
        assert change > 0, f"raising {direction.feature} moved the mean score by {change:+.4f}, expected up"
    else:
        assert change < 0, f"raising {direction.feature} moved the mean score by {change:+.4f}, expected down"


def test_typical_cases_come_out_right(model, split):
    train, _, schema = split
    if schema.task == "classification":
        # The median row of each class is as typical as a case gets: it must get its own label.
        for label, rows in train.groupby(schema.target):
            typical = rows[schema.features].median().to_frame().T
            assert model.predict(typical)[0] == label, f"the median {label!r} case was misclassified"
    else:
        # Rows with the highest targets must be predicted higher, on average, than the lowest.
        low_cut, high_cut = train[schema.target].quantile([0.25, 0.75])
        low = train[train[schema.target] <= low_cut]
        high = train[train[schema.target] >= high_cut]
        assert model.predict(high[schema.features]).mean() > model.predict(low[schema.features]).mean()


def test_predictions_are_finite_and_plausible(model, split):
    train, test, schema = split
    predicted = model.predict(test[schema.features])
    if schema.task == "classification":
        assert set(predicted) <= set(schema.labels)
    else:
        assert np.isfinite(predicted).all()
        # Linear models extrapolate a little; half the training range beyond either end is not plausible.
        low, high = train[schema.target].min(), train[schema.target].max()
        margin = (high - low) / 2
        assert ((predicted >= low - margin) & (predicted <= high + margin)).all()
