"""Data tests: the split the pipeline wrote meets the data contract kept in Git, and nothing leaks."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core.contract import check, typed
from {{ cookiecutter.package_name }}.pipeline.data import feature_columns, row_keys


@pytest.fixture(scope="session")
def expected_columns(params, data_contract) -> list[str]:
    """The split's columns as params.yaml and the data contract in Git say: features, target, split column."""
    data = params.data
    return [*feature_columns(params, data_contract), data.target] + (
        [data.split_column] if data.split in ("group", "time") else []
    )


def test_columns_are_the_features_and_the_target(split, expected_columns):
    train, test, _ = split
    assert list(train.columns) == expected_columns
    assert list(test.columns) == expected_columns


@pytest.mark.parametrize("part", ["train", "test"])
def test_the_split_meets_the_data_contract(split, data_contract, expected_columns, part):
    # The contract in Git is written and reviewed apart from the pipeline: a split that breaks
    # it (a missing column, a type, a category, a range, empty cells) means the data stage let
    # something through.
    train, test, _ = split
    frame = train if part == "train" else test
    problems = check(typed(frame, data_contract), data_contract, expected_columns)
    assert not problems, "\n".join(problems)


def test_the_features_are_the_contracts_feature_types(split, data_contract):
    _, _, schema = split
    for name in schema.features:
        assert schema.feature_types[name] == data_contract[name].type, name
        assert data_contract[name].type in ("numeric", "categorical", "boolean"), name


def test_row_counts_match_the_schema(split):
    train, test, schema = split
    assert (len(train), len(test)) == (schema.train_rows, schema.test_rows)
    assert schema.train_rows + schema.test_rows == schema.rows


def test_nothing_leaks_from_test_to_train(split, params, note):
    train, test, schema = split
    if schema.split == "group":  # the user's groups: no group on both sides
        both = set(train[schema.split_column].astype(str)) & set(test[schema.split_column].astype(str))
        assert not both, f"groups on both sides of the split: {sorted(both)[:5]}"
        return
    if schema.split == "time":  # the test split is the latest
        latest_train = pd.to_datetime(train[schema.split_column], format="mixed").max()
        assert (pd.to_datetime(test[schema.split_column], format="mixed") >= latest_train).all()
        return
    shared = int(np.isin(row_keys(test[schema.features]), row_keys(train[schema.features])).sum())
    if params.data.duplicates == "keep":
        if shared:
            note(f"data.duplicates: keep: {shared} of {len(test)} test rows have the features of a training row")
        return
    assert not shared, (
        f"{shared} of {len(test)} test rows have the features of a training row; "
        "set data.duplicates: drop in params.yaml to keep identical rows on one side"
    )


def test_the_target_is_balanced_or_spread(split):
    train, test, schema = split
    if schema.task == "classification":
        assert set(train[schema.target]) == set(schema.labels), "every class is in the training split"
        if schema.split == "stratified":
            # Each class keeps its share (within 5 points) in both parts.
            train_share = train[schema.target].value_counts(normalize=True)
            test_share = test[schema.target].value_counts(normalize=True)
            assert (train_share - test_share.reindex(train_share.index, fill_value=0)).abs().max() < 0.05
    else:
        target = pd.concat([train[schema.target], test[schema.target]])
        assert np.isfinite(target).all()
        assert target.std() > 0, "the target is constant"
