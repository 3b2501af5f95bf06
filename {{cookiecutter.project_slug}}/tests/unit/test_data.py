import hashlib

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import data
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.errors import DataError, MissingOutputError


def test_the_sample_dataset_loads_without_a_download(workdir):
    schema = data.run(Params())
    assert schema.rows == schema.train_rows + schema.test_rows > 100
    assert schema.data_source.startswith("sklearn:")


def test_the_split_is_deterministic(classification_csv, workdir, csv_params):
    params = csv_params(classification_csv, "label")
    data.run(params)
    first = [(workdir / data.PROCESSED_DIR / name).read_bytes() for name in (data.TRAIN_FILE, data.TEST_FILE)]
    data.run(params)
    assert [(workdir / data.PROCESSED_DIR / name).read_bytes() for name in (data.TRAIN_FILE, data.TEST_FILE)] == first


def test_the_raw_file_is_never_modified(classification_csv, csv_params):
    before = hashlib.sha256(classification_csv.read_bytes()).hexdigest()
    data.run(csv_params(classification_csv, "label"))
    assert hashlib.sha256(classification_csv.read_bytes()).hexdigest() == before


def test_the_split_is_stratified(classification_csv, csv_params):
    data.run(csv_params(classification_csv, "label"))
    train, test, _ = data.load_split()
    shares = train["label"].mean(), test["label"].mean()
    assert abs(shares[0] - shares[1]) < 0.05


def test_a_missing_target_column_is_named(classification_csv, csv_params):
    with pytest.raises(DataError, match=r"data\.csv: target column 'outcome' not found"):
        data.run(csv_params(classification_csv, "outcome"))


def test_empty_cells_are_counted_by_column(classification_csv, csv_params):
    frame = pd.read_csv(classification_csv)
    frame.loc[[3, 7, 9], "x2"] = None
    frame.to_csv(classification_csv, index=False)
    with pytest.raises(DataError, match=r"data\.csv: column 'x2' has 3 rows empty"):
        data.run(csv_params(classification_csv, "label"))


def test_text_in_a_feature_column_is_refused(classification_csv, csv_params):
    frame = pd.read_csv(classification_csv)
    frame["x1"] = frame["x1"].astype(object)
    frame.loc[[0, 1], "x1"] = "unknown"
    frame.to_csv(classification_csv, index=False)
    with pytest.raises(DataError, match=r"feature column 'x1' is not numeric \(2 rows not a number\)"):
        data.run(csv_params(classification_csv, "label"))


def test_labels_outside_the_allowed_set_are_counted(classification_csv):
    params = Params.model_validate(
        {"data": {"source": "csv", "path": str(classification_csv), "target": "label", "labels": [0]}}
    )
    with pytest.raises(DataError, match=r"has \d+ rows? with labels \[1\] outside data.labels \[0\]"):
        data.run(params)


def test_regression_targets_outside_the_range_are_counted(regression_csv):
    params = Params.model_validate(
        {
            "task": "regression",
            "data": {"source": "csv", "path": str(regression_csv), "target": "y", "target_range": [0, 1e9]},
        }
    )
    with pytest.raises(DataError, match=r"target column 'y' has \d+ rows? outside data.target_range"):
        data.run(params)


def test_a_malformed_csv_names_the_file(workdir, csv_params):
    path = workdir / "broken.csv"
    path.write_text('a,b,label\n1,2,0\n3,"4,1\n')
    with pytest.raises(DataError, match=r"broken\.csv: not a readable CSV file"):
        data.run(csv_params(path, "label"))


def test_a_missing_csv_says_how_to_add_it(workdir, csv_params):
    with pytest.raises(DataError, match=r"file not found; put your CSV there and run `dvc add"):
        data.run(csv_params(workdir / "data/raw/data.csv", "label"))


def test_missing_outputs_say_to_run_the_pipeline(workdir):
    with pytest.raises(MissingOutputError, match="run `dvc repro` first"):
        data.load_split()
