"""Data tests: the split the pipeline wrote has the expected schema, no leakage, sane labels."""

import numpy as np
import pandas as pd


def test_columns_are_the_schema(split):
    train, test, schema = split
    expected = [*schema.features, schema.target]
    assert list(train.columns) == expected
    assert list(test.columns) == expected


def test_no_empty_or_infinite_feature_values(split):
    train, test, schema = split
    for frame in (train, test):
        values = frame[schema.features].to_numpy(dtype=float)
        assert np.isfinite(values).all()


def test_row_counts_match_the_schema(split):
    train, test, schema = split
    assert (len(train), len(test)) == (schema.train_rows, schema.test_rows)
    assert schema.train_rows + schema.test_rows == schema.rows


def test_no_row_is_in_both_train_and_test(split):
    train, test, schema = split
    train_rows = set(pd.util.hash_pandas_object(train[schema.features], index=False))
    test_rows = set(pd.util.hash_pandas_object(test[schema.features], index=False))
    assert not train_rows & test_rows, "rows of the test split also appear in the training split"


def test_features_stay_in_the_recorded_ranges(split):
    train, test, schema = split
    for column, (low, high) in schema.feature_ranges.items():
        both = pd.concat([train[column], test[column]])
        assert both.between(low, high).all(), column


def test_target_is_balanced_or_in_range(split, params):
    train, test, schema = split
    if schema.task == "classification":
        # The split is stratified: every class keeps its share (within 5 points) in both parts.
        train_share = train[schema.target].value_counts(normalize=True)
        test_share = test[schema.target].value_counts(normalize=True)
        assert set(train_share.index) == set(test_share.index) == set(schema.labels)
        assert (train_share - test_share).abs().max() < 0.05
        assert train_share.min() >= 0.05, "a class has under 5% of the rows: consider resampling"
    else:
        target = pd.concat([train[schema.target], test[schema.target]])
        assert np.isfinite(target).all()
        if params.data.target_range is not None:
            low, high = params.data.target_range
            assert target.between(low, high).all()
        assert target.std() > 0, "the target is constant"
