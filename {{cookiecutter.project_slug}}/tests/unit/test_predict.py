import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import data, evaluate, predict, train
from {{ cookiecutter.package_name }}.errors import DataError


@pytest.fixture
def trained(classification_csv, csv_params):
    params = csv_params(classification_csv, "label")
    data.run(params)
    train.run(params)
    evaluate.run(params)
    return classification_csv


def test_scores_a_csv_and_keeps_its_columns(trained, workdir):
    rows = pd.read_csv(trained).head(10).assign(customer_id=range(10))
    rows.to_csv(workdir / "batch.csv", index=False)
    assert predict.run(workdir / "batch.csv", workdir / "scored.csv") == 10
    scored = pd.read_csv(workdir / "scored.csv")
    assert list(scored.columns[: len(rows.columns)]) == list(rows.columns)
    assert {"prediction", "probability_0", "probability_1"} <= set(scored.columns)
    assert scored[["probability_0", "probability_1"]].sum(axis=1).round(6).eq(1).all()


def test_a_missing_feature_is_named(trained, workdir):
    pd.read_csv(trained).drop(columns="x3").to_csv(workdir / "batch.csv", index=False)
    with pytest.raises(DataError, match=r"batch.csv: missing feature columns \['x3'\]"):
        predict.run(workdir / "batch.csv", workdir / "scored.csv")
    assert not (workdir / "scored.csv").exists()


def test_bad_values_are_counted(trained, workdir):
    rows = pd.read_csv(trained).head(5).astype({"x0": object})
    rows.loc[[1, 2], "x0"] = "oops"
    rows.to_csv(workdir / "batch.csv", index=False)
    with pytest.raises(DataError, match=r"column 'x0' has 2 rows empty, not a number, or infinite"):
        predict.run(workdir / "batch.csv", workdir / "scored.csv")


def test_the_input_is_never_overwritten(trained):
    before = trained.read_bytes()
    with pytest.raises(DataError, match="would overwrite the input"):
        predict.run(trained, trained)
    assert trained.read_bytes() == before
