"""add-labelled: production rows with known outcomes join the training data as new files, once."""

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.core import paths
from {{ cookiecutter.package_name }}.core.errors import DataError
from {{ cookiecutter.package_name }}.core.params import Params
from {{ cookiecutter.package_name }}.pipeline import data, labelled

SAMPLE = Params(data={"split": "stratified"})  # the breast-cancer table that ships with scikit-learn


def sample_rows(rows: int, start: int = 0) -> pd.DataFrame:
    return data.sklearn_frame("breast_cancer", "target").iloc[start : start + rows].reset_index(drop=True)


def write(frame: pd.DataFrame, path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return str(path)


def test_new_labelled_rows_become_one_new_file_and_a_rerun_adds_nothing(sample_contract, workdir):
    before = data.run(SAMPLE)
    known = sample_rows(20)  # rows the training data holds already (read back from a CSV export)
    shifted = sample_rows(30, start=100).assign(**{"mean texture": lambda f: f["mean texture"] + 1.0})
    unlabelled = sample_rows(5, start=200).assign(target=None)
    write(pd.concat([known, shifted, shifted.head(3), unlabelled]), workdir / "data/production/2026-12-07.csv")

    counted = labelled.run([workdir / "data/production"], SAMPLE, dry_run=True)
    assert (counted.labelled_rows, counted.new_rows, counted.path) == (53, 30, None)
    assert not (workdir / paths.LABELLED_DIR).exists(), "a dry run writes nothing"

    added = labelled.run([workdir / "data/production"], SAMPLE)
    assert added.new_rows == 30 and added.path.parent == paths.LABELLED_DIR
    assert added.path.name.startswith("rows-") and added.path.suffix == ".csv"
    written = pd.read_csv(added.path)
    assert list(written.columns) == list(sample_rows(1).columns) and len(written) == 30

    again = labelled.run([workdir / "data/production"], SAMPLE)
    assert (again.new_rows, again.path) == (0, None)
    assert data.labelled_files() == [added.path], "a rerun writes no second file"

    assert data.stale_inputs(before.inputs, SAMPLE) == ["data"], "the data stage sees the new rows"
    after = data.run(SAMPLE)
    assert after.rows == before.rows + 30 and after.data_source == "sklearn:breast_cancer + data/labelled (1 file)"
    assert data.stale_inputs(after.inputs, SAMPLE) == []


def test_rows_added_before_are_never_rewritten(sample_contract, workdir):
    batch = workdir / "data/production/batch.parquet"
    write(sample_rows(10, start=300).assign(**{"mean radius": lambda f: f["mean radius"] + 0.5}), batch)
    first = labelled.run([batch], SAMPLE).path
    content = first.read_bytes()
    write(sample_rows(10, start=300).assign(**{"mean radius": lambda f: f["mean radius"] + 0.25}), batch)
    second = labelled.run([batch], SAMPLE).path
    assert second != first and first.read_bytes() == content
    assert data.labelled_files() == sorted([first, second])


def test_regression_rows_with_outcomes_are_added(regression_csv, workdir, csv_params):
    params = csv_params(regression_csv, "y", task="regression")
    raw = pd.read_csv(regression_csv)
    rows = data.run(params).rows
    new = raw.head(8).assign(y=lambda f: f["y"] + 100.0)  # the same inputs, other outcomes: other rows
    write(pd.concat([raw.tail(6), new]), workdir / "data/production/week.csv")
    added = labelled.run([workdir / "data/production/week.csv"], params)
    assert added.new_rows == 8
    assert data.run(params).rows == rows + 8


def test_rows_the_contract_refuses_are_named_with_the_fix(sample_contract, workdir):
    batch = sample_rows(4, start=50).assign(**{"mean radius": 500.0})
    path = workdir / "data/production/batch.csv"
    write(batch, path)
    with pytest.raises(DataError, match=r"4 new labelled rows break data-contract.yaml(.|\n)*mean radius"):
        labelled.run([path], SAMPLE)
    assert not (workdir / paths.LABELLED_DIR).exists()


def test_a_batch_with_outcomes_but_without_a_feature_is_refused(sample_contract, workdir):
    path = workdir / "data/production/batch.csv"
    write(sample_rows(4).drop(columns=["mean radius"]), path)
    with pytest.raises(DataError, match=r"batch.csv: has outcomes in 'target' but lacks the columns \['mean radius'\]"):
        labelled.run([path], SAMPLE)


def test_a_batch_without_outcomes_adds_nothing(sample_contract, workdir):
    path = workdir / "data/production/batch.csv"
    write(sample_rows(4).drop(columns=["target"]), path)
    assert labelled.run([path], SAMPLE) == labelled.Added(0, 0, None)


def test_a_missing_batch_is_named(sample_contract, workdir):
    with pytest.raises(DataError, match=r"nowhere.csv: no such file or folder"):
        labelled.run([workdir / "nowhere.csv"], SAMPLE)


def test_the_command_prints_what_the_workflow_reads(sample_contract, workdir, capsys):
    path = workdir / "data/production/batch.csv"
    write(sample_rows(3, start=400).assign(**{"mean radius": lambda f: f["mean radius"] + 0.5}), path)
    (workdir / "params.yaml").write_text("data:\n  split: stratified\n")
    assert main(["add-labelled", "--dry-run", "data/production"]) == 0
    assert capsys.readouterr().out == "labelled_rows=3\nnew_rows=3\nfile=\n"
    assert main(["add-labelled", "data/production"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == ["labelled_rows=3", "new_rows=3"] and printed[2].startswith("file=data/labelled/rows-")
