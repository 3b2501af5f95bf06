"""Stage ``data``: load the raw dataset, validate it, and write a deterministic split.

The raw input is only read. Outputs, in ``data/processed/``: ``train.csv``, ``test.csv``
and ``schema.json`` (feature names and ranges, labels, row counts and the data hash, which
the later stages, the tests and the reports read).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.model_selection import train_test_split

from .config import DataParams, Params
from .errors import DataError, MissingOutputError, rows

PROCESSED_DIR = Path("data/processed")
TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"
SCHEMA_FILE = "schema.json"

_SKLEARN_LOADERS = {
    "breast_cancer": datasets.load_breast_cancer,
    "diabetes": datasets.load_diabetes,
    "wine": datasets.load_wine,
    "iris": datasets.load_iris,
}


@dataclass(frozen=True)
class Schema:
    """What the model was trained on; written beside the split and read by every later step."""

    task: str
    target: str
    features: list[str]
    feature_ranges: dict[str, tuple[float, float]]
    labels: list[int | str]
    data_source: str
    data_hash: str
    rows: int
    train_rows: int
    test_rows: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def read(cls, path: Path) -> Schema:
        values = json.loads(path.read_text(encoding="utf-8"))
        values["feature_ranges"] = {k: tuple(v) for k, v in values["feature_ranges"].items()}
        return cls(**values)


def load_raw(params: DataParams) -> tuple[pd.DataFrame, str, str]:
    """Return the raw frame, a description of its source, and the SHA-256 of its content."""
    if params.source == "sklearn":
        bunch = _SKLEARN_LOADERS[params.sklearn_dataset](as_frame=True)
        frame = bunch.frame.rename(columns={"target": params.target})
        digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
        return frame, f"sklearn:{params.sklearn_dataset}", digest
    return read_csv(params.path), str(params.path), _file_sha256(params.path)


def read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV, turning pandas' parser errors into one line that names the file."""
    if not path.is_file():
        raise DataError(
            f"{path}: file not found; put your CSV there and run `dvc add {path}`, "
            "or set data.source: sklearn in params.yaml"
        )
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}".rstrip()) from None
    if frame.empty:
        raise DataError(f"{path}: has a header but no rows")
    return frame


def validate(frame: pd.DataFrame, params: Params, source: str) -> list[str]:
    """Check the raw frame against params; return the feature columns, or raise DataError.

    Every message names the file, the column and how many rows are bad, so the fix is clear.
    """
    data = params.data
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise DataError(f"{source}: duplicate column names {duplicated}; rename them")
    if data.target not in frame.columns:
        raise DataError(
            f"{source}: target column {data.target!r} not found; columns are {list(frame.columns)}; "
            "set data.target in params.yaml"
        )
    features = data.features or [c for c in frame.columns if c != data.target]
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: feature columns {missing} not found (listed in data.features)")
    if not features:
        raise DataError(f"{source}: no feature columns besides the target {data.target!r}")

    for column in [*features, data.target]:
        nulls = int(frame[column].isna().sum())
        if nulls:
            raise DataError(f"{source}: column {column!r} has {rows(nulls)} empty; fill or drop them")
    for column in features:
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            bad = int(pd.to_numeric(values, errors="coerce").isna().sum())
            raise DataError(
                f"{source}: feature column {column!r} is not numeric ({rows(bad)} not a number); "
                "encode it as numbers or leave it out of data.features"
            )
        infinite = int(np.isinf(values.to_numpy(dtype=float)).sum())
        if infinite:
            raise DataError(f"{source}: feature column {column!r} has {rows(infinite)} infinite")

    target = frame[data.target]
    if params.task == "classification":
        _validate_labels(target, data.labels, source)
    else:
        _validate_target_range(target, data.target_range, source)
    return features


def _validate_labels(target: pd.Series, allowed: list[int | str], source: str) -> None:
    present = target.unique().tolist()
    if allowed:
        unexpected = target[~target.isin(allowed)]
        if len(unexpected):
            raise DataError(
                f"{source}: target column {target.name!r} has {rows(len(unexpected))} with labels "
                f"{sorted(set(unexpected.tolist()), key=str)} outside data.labels {allowed}"
            )
    if len(present) < 2:
        raise DataError(f"{source}: target column {target.name!r} has a single class {present}")
    counts = target.value_counts()
    if counts.min() < 2:
        raise DataError(
            f"{source}: class {counts.idxmin()!r} of {target.name!r} has one row; "
            "a stratified split needs at least two per class"
        )


def _validate_target_range(target: pd.Series, bounds: tuple[float, float] | None, source: str) -> None:
    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        raise DataError(f"{source}: target column {target.name!r} is not numeric; regression needs numbers")
    if bounds is None:
        return
    low, high = bounds
    outside = int(((target < low) | (target > high)).sum())
    if outside:
        raise DataError(
            f"{source}: target column {target.name!r} has {rows(outside)} outside data.target_range [{low}, {high}]"
        )


def split(frame: pd.DataFrame, features: list[str], params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic train/test split (stratified for classification), seeded from params."""
    columns = [*features, params.data.target]
    stratify = frame[params.data.target] if params.task == "classification" else None
    train, test = train_test_split(
        frame[columns],
        test_size=params.data.test_size,
        random_state=params.seed,
        stratify=stratify,
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def run(params: Params, out_dir: Path = PROCESSED_DIR) -> Schema:
    """The ``data`` stage: load, validate, split, write the split and its schema."""
    frame, source, digest = load_raw(params.data)
    features = validate(frame, params, source)
    train, test = split(frame, features, params)
    labels = sorted(frame[params.data.target].unique().tolist()) if params.task == "classification" else []
    schema = Schema(
        task=params.task,
        target=params.data.target,
        features=features,
        feature_ranges={c: (float(frame[c].min()), float(frame[c].max())) for c in features},
        labels=labels,
        data_source=source,
        data_hash=digest,
        rows=len(frame),
        train_rows=len(train),
        test_rows=len(test),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    train.to_csv(out_dir / TRAIN_FILE, index=False)
    test.to_csv(out_dir / TEST_FILE, index=False)
    (out_dir / SCHEMA_FILE).write_text(schema.to_json(), encoding="utf-8")
    return schema


def load_split(directory: Path = PROCESSED_DIR) -> tuple[pd.DataFrame, pd.DataFrame, Schema]:
    """Read the outputs of the ``data`` stage; a clear error when it has not run."""
    paths = [directory / TRAIN_FILE, directory / TEST_FILE, directory / SCHEMA_FILE]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise MissingOutputError(f"{', '.join(missing)} not found; run `dvc repro` first")
    schema = Schema.read(paths[2])
    return pd.read_csv(paths[0]), pd.read_csv(paths[1]), schema


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
