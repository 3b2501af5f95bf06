"""Behavioural tests: what the model must do whatever its metrics say.

Invariance (an irrelevant change leaves predictions alone), direction (a change with a known
effect moves predictions the known way, from params.yaml quality.direction) and minimum
functionality (typical cases are recognised). Rows are prepared as `predict` and the service
prepare them (`model_input`), so text categories and empty cells take the same path.
"""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.pipeline.data import model_input


def score(model, features, task, label=None):
    """The number the model is judged by: P(label) (default: the last class), or the prediction."""
    if task == "classification":
        classes = list(model.classes_)
        column = classes.index(label) if label is not None else len(classes) - 1
        return model.predict_proba(features)[:, column]
    return model.predict(features)


def test_column_order_and_extra_columns_do_not_matter(model, split):
    # Scoring selects the model's features by name, as `predict` and the service do.
    _, test, schema = split
    features = model_input(test, schema)
    reordered = test[list(reversed(test.columns))].assign(customer_id=range(len(test)))
    np.testing.assert_allclose(
        score(model, model_input(reordered, schema), schema.task), score(model, features, schema.task)
    )


def test_a_row_is_scored_the_same_alone_and_in_a_batch(model, split):
    _, test, schema = split
    features = model_input(test, schema)
    batch = score(model, features, schema.task)
    alone = np.concatenate([score(model, features.iloc[[i]], schema.task) for i in range(5)])
    np.testing.assert_allclose(alone, batch[:5])


def test_direction_of_a_known_effect(model, split, params, note):
    direction = params.quality.direction
    if direction is None:
        note("quality.direction is null: no direction check (set feature, expect and, for 3+ classes, label)")
        return
    train, test, schema = split
    assert direction.feature in schema.features, f"quality.direction.feature {direction.feature!r} is not a feature"
    assert schema.feature_types[direction.feature] != "categorical", (
        f"quality.direction.feature {direction.feature!r} is categorical; name a numeric or boolean feature"
    )
    label = direction.label
    if schema.task == "classification":
        if label is None and len(schema.labels) > 2:
            pytest.fail(
                f"quality.direction.label: name the class whose probability must move; classes are {schema.labels}",
                pytrace=False,
            )
        if label is not None and label not in list(model.classes_):
            pytest.fail(f"quality.direction.label {label!r} is not a class; classes are {schema.labels}", pytrace=False)
    features = model_input(test, schema)
    raised = features.copy()
    raised[direction.feature] += model_input(train, schema)[direction.feature].std()
    change = np.nanmean(score(model, raised, schema.task, label)) - np.nanmean(
        score(model, features, schema.task, label)
    )
    what = "the prediction" if schema.task == "regression" else f"P({label if label is not None else 'last class'})"
    if direction.expect == "increase":
        assert change > 0, f"raising {direction.feature} moved {what} by {change:+.4f} on average, expected up"
    else:
        assert change < 0, f"raising {direction.feature} moved {what} by {change:+.4f} on average, expected down"


def typical_row(rows: pd.DataFrame, schema) -> pd.DataFrame:
    """The median of each numeric feature and the commonest value of each other one."""
    values = {}
    for name in schema.features:
        column = rows[name]
        if schema.feature_types[name] == "categorical":
            values[name] = column.mode().iloc[0] if column.notna().any() else None
        else:
            values[name] = column.median()
    return model_input(pd.DataFrame([values]), schema)


def test_typical_cases_are_recognised(model, split):
    train, _, schema = split
    features = model_input(train, schema)
    if schema.task == "classification":
        # The typical row of each class (median numbers, commonest categories) gets a higher
        # probability of its own class than the typical rows of the other classes do.
        classes = list(model.classes_)
        typical = pd.concat([typical_row(features[train[schema.target] == label], schema) for label in classes])
        proba = model.predict_proba(typical)
        for row, label in enumerate(classes):
            own = proba[row, row]
            others = np.delete(proba[:, row], row)
            assert own > others.max(), f"the typical {label!r} case is not the likeliest {label!r} of the typical cases"
    else:
        # Rows with the highest targets must be predicted higher, on average, than the lowest.
        low_cut, high_cut = train[schema.target].quantile([0.25, 0.75])
        low = features[train[schema.target] <= low_cut]
        high = features[train[schema.target] >= high_cut]
        assert model.predict(high).mean() > model.predict(low).mean()


def test_predictions_are_finite_and_plausible(model, split):
    train, test, schema = split
    predicted = model.predict(model_input(test, schema))
    if schema.task == "classification":
        assert set(predicted) <= set(schema.labels)
    else:
        assert np.isfinite(predicted).all()
        # Linear models extrapolate a little; half the training range beyond either end is not plausible.
        low, high = train[schema.target].min(), train[schema.target].max()
        margin = (high - low) / 2
        assert ((predicted >= low - margin) & (predicted <= high + margin)).all()
