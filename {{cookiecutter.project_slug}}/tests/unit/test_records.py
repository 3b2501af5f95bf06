"""The records metadata.json and serving.json: read back as written, refused clearly when damaged."""

import json

import pytest

from {{ cookiecutter.package_name }}.core import paths
from {{ cookiecutter.package_name }}.core.errors import ArtifactError, MissingOutputError
from {{ cookiecutter.package_name }}.core.records import ModelRecord, ServingRecord, TrainingData

DATA = TrainingData(source="data/raw/data.csv", sha256="ab" * 32, rows=10, train_rows=8, test_rows=2, split="time")


def model_record(**changes) -> ModelRecord:
    fields = {"model_sha256": "cd" * 32, "task": "classification", "data": DATA, "labels": ["a", "b"]}
    return ModelRecord(**{**fields, **changes})


def serving_record() -> ServingRecord:
    return ServingRecord(
        model_sha256="cd" * 32,
        task="regression",
        features=["size", "colour"],
        feature_types={"size": "numeric", "colour": "categorical"},
        nullable={"size": True, "colour": False},
        runtime="onnx",
        categories={"colour": ["red", "blue"]},
        prediction_deciles=[0.5, 1, 2.5],
        onnx_file="model.onnx",
        onnx_sha256="ef" * 32,
        parity={"rows": 2, "max_relative_difference": 0.0, "tolerance": 1e-5},
    )


@pytest.mark.parametrize("record", [model_record(), serving_record()], ids=["model", "serving"])
def test_a_record_reads_back_as_written(workdir, record):
    path = workdir / "record.json"
    record.write(path)
    assert type(record).read(path) == record
    assert json.loads(path.read_text()) == record.to_json()  # plain JSON, nested records as objects


def test_a_record_of_an_older_project_reads_with_the_defaults(workdir):
    """The gate reads main's record, which may predate fields that have defaults."""
    data = {"source": "x", "sha256": "0", "rows": 3, "train_rows": 2, "test_rows": 1}
    raw = {"model_sha256": "cd" * 32, "task": "regression", "data": data}
    paths.METADATA_PATH.parent.mkdir(parents=True)
    paths.METADATA_PATH.write_text(json.dumps(raw))
    record = ModelRecord.read()
    assert (record.git_commit, record.labels, record.data.split, record.extra_trusted_types) == (None, [], "random", [])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_sha256": None}, r"record.json: model_sha256 is None, not text; write it again with `dvc repro`"),
        ({"task": "ranking"}, r"task is 'ranking', not 'classification' or 'regression'"),
        ({"labels": "a,b"}, r"labels is 'a,b', not a list"),
        ({"metrics": {"accuracy": 0.9}, "git_commit": 7}, r"git_commit is 7, not text or null"),
        ({"data": [1, 2]}, r"expected a JSON object, found list"),
        ({"data": {"source": "x"}}, r"no field 'sha256'; it predates this code"),
    ],
    ids=["missing hash", "unknown task", "labels as text", "commit as number", "data as list", "data short"],
)
def test_a_damaged_field_is_named_with_the_fix(workdir, change, message):
    path = workdir / "record.json"
    path.write_text(json.dumps({**model_record().to_json(), **change}))
    with pytest.raises(ArtifactError, match=message):
        ModelRecord.read(path)


def test_a_missing_field_is_named(workdir):
    path = workdir / "serving.json"
    raw = serving_record().to_json()
    del raw["runtime"]
    path.write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match=r"serving.json: no field 'runtime'; it predates this code"):
        ServingRecord.read(path)


@pytest.mark.parametrize("content", ["{broken", "[1, 2]", "\xff"], ids=["not json", "a list", "not utf-8"])
def test_a_file_that_is_no_record_is_refused(workdir, content):
    path = workdir / "serving.json"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(ArtifactError, match=r"serving.json: (not valid JSON|expected a JSON object)"):
        ServingRecord.read(path)
    assert path.read_bytes() == content.encode("latin-1")  # left as it was, for inspection


def test_a_missing_record_says_to_run_the_pipeline(workdir):
    with pytest.raises(MissingOutputError, match=r"models/serving.json not found; run `dvc repro`"):
        ServingRecord.read()
