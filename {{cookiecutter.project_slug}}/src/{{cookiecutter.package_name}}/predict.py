"""Batch scoring: read a CSV of feature rows, write it back with the model's predictions."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import artifact
from .data import read_csv
from .errors import DataError, rows


def check_features(frame: pd.DataFrame, features: list[str], source: str) -> pd.DataFrame:
    """The feature columns in training order, or DataError naming what is missing or bad."""
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing feature columns {missing}; the model needs {features}")
    selected = frame[features]
    for column in features:
        values = pd.to_numeric(selected[column], errors="coerce")
        bad = int((values.isna() | np.isinf(values)).sum())
        if bad:
            raise DataError(f"{source}: column {column!r} has {rows(bad)} empty, not a number, or infinite")
    return selected.apply(pd.to_numeric)


def predict_frame(model: Any, features: pd.DataFrame, task: str) -> pd.DataFrame:
    """Predictions (and class probabilities for classification) for each row."""
    if task == "classification":
        proba = model.predict_proba(features)
        columns = {"prediction": model.classes_[proba.argmax(axis=1)]}
        columns.update({f"probability_{label}": proba[:, i] for i, label in enumerate(model.classes_)})
        return pd.DataFrame(columns, index=features.index)
    return pd.DataFrame({"prediction": model.predict(features)}, index=features.index)


def run(
    input_path: Path,
    output_path: Path,
    model_path: Path = artifact.MODEL_PATH,
    metadata_path: Path = artifact.METADATA_PATH,
) -> int:
    """Score ``input_path`` into ``output_path``; return the number of rows written.

    The input is never overwritten, and the output appears whole or not at all.
    """
    if output_path.resolve() == input_path.resolve():
        raise DataError(f"{output_path}: the output would overwrite the input; choose another file")
    model, metadata = artifact.load_verified(model_path, metadata_path)
    frame = read_csv(input_path)
    features = check_features(frame, metadata["features"], str(input_path))
    scored = pd.concat([frame, predict_frame(model, features, metadata["task"])], axis=1)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=output_path.parent, suffix=".tmp")
    os.close(handle)
    try:
        scored.to_csv(temporary, index=False)
        Path(temporary).replace(output_path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return len(scored)
