"""Stage ``evaluate``: score the model on the held-out split.

Writes ``reports/metrics.json`` (what ``dvc metrics`` shows and the quality tests read),
plot data in ``reports/plots/`` (what ``dvc plots`` draws), PNG renderings of the same plots
in ``reports/figures/``, and ``models/metadata.json``: the model's record (hash, version,
git commit, data hash, params, metrics, library versions).

The model is scored as it is served: through the runtime ``models/serving.json`` names (the
ONNX session, or scikit-learn when the model could not be converted), so the metrics are
those of what production runs, and the fastest runtime does the work. The metrics and the
curves use every test row; permutation importance and the plots of single rows use a seeded
sample of at most ``evaluate.sample_rows`` rows, so the stage takes seconds at any size.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from .. import __version__
from ..core import artifact, paths
from ..core.params import EvaluateParams, Params
from ..core.records import ModelRecord, TrainingData
from ..serving import runtime
from . import plots
from .data import Schema, load_part, model_input

# Libraries whose versions decide what the artifact contains; recorded in the metadata.
RECORDED_LIBRARIES = ["scikit-learn", "skops", "numpy", "pandas", "scipy"]


def classification_metrics(y_true: pd.Series, proba: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    predicted = classes[proba.argmax(axis=1)]
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    positive = {"pos_label": classes[1]} if binary else {}
    # One confusion matrix for the three (each of precision_score, recall_score and f1_score builds its own):
    # a third of the time, which counts in monitor's bootstrap of these metrics.
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true, predicted, average=average, zero_division=0, **positive
    )
    return {
        "accuracy": skm.accuracy_score(y_true, predicted),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": skm.roc_auc_score(y_true, proba[:, 1], labels=classes)
        if binary
        else skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes),
    }


def per_class_metrics(y_true: pd.Series, proba: np.ndarray, classes: np.ndarray) -> dict[str, dict[str, float]]:
    """Precision, recall, f1 and support of each class, keyed by the class label as text."""
    predicted = classes[proba.argmax(axis=1)]
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, predicted, labels=classes, zero_division=0
    )
    return {
        str(label): {
            "precision": round(float(precision[i]), 6),
            "recall": round(float(recall[i]), 6),
            "f1": round(float(f1[i]), 6),
            "support": int(support[i]),
        }
        for i, label in enumerate(classes)
    }


def regression_metrics(y_true: pd.Series, predicted: np.ndarray) -> dict[str, float]:
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, predicted))),
        "mae": skm.mean_absolute_error(y_true, predicted),
        "r2": skm.r2_score(y_true, predicted),
    }


def sample_positions(rows: int, most: int, seed: int) -> np.ndarray:
    """Positions of a seeded sample of ``most`` of ``rows`` rows, in table order; every row when there are fewer."""
    if rows <= most:
        return np.arange(rows)
    return np.sort(np.random.default_rng(seed).choice(rows, size=most, replace=False))


def evaluate(
    predictor: runtime.Predictor, test: pd.DataFrame, schema: Schema, seed: int, settings: EvaluateParams
) -> tuple[dict, dict[str, pd.DataFrame], dict | None]:
    """Metrics (rounded, so they diff cleanly), plot tables and, for classification, the metrics
    of each class, on the test split, scored by ``predictor``."""
    per_class = None
    features, y_true = model_input(test, schema), test[schema.target]
    sample = sample_positions(len(test), settings.sample_rows, seed)
    scores = np.asarray(predictor.predict_frame(features), dtype=np.float64)  # ONNX answers in float32
    if schema.task == "classification":
        classes = predictor.classes
        metrics = classification_metrics(y_true, scores, classes)
        tables = plots.classification_tables(y_true, scores, classes, sample)
        per_class = per_class_metrics(y_true, scores, classes)

        def predict(frame: pd.DataFrame) -> np.ndarray:
            return classes[predictor.predict_frame(frame).argmax(axis=1)]
    else:
        metrics = regression_metrics(y_true, scores)
        tables = plots.regression_tables(y_true.iloc[sample], scores[sample])
        predict = predictor.predict_frame
    importance = permutation_importance(
        predict,
        features.iloc[sample].reset_index(drop=True),
        y_true.iloc[sample].reset_index(drop=True),
        schema.task,
        seed=seed,
        repeats=settings.importance_repeats,
    )
    tables["feature_importance"] = (
        importance.round(6)
        .rename_axis("feature")
        .reset_index(name="importance")
        .sort_values("importance", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    return {name: round(float(value), 6) for name, value in metrics.items()}, tables, per_class


def permutation_importance(
    predict: Callable[[pd.DataFrame], np.ndarray],
    features: pd.DataFrame,
    target: pd.Series,
    task: str,
    seed: int,
    repeats: int = 5,
    rows_per_call: int = 200_000,
) -> pd.Series:
    """Mean drop in score (accuracy or R²) when one feature's values are shuffled, per feature.

    ``predict`` returns the predicted label (classification) or value (regression) of each row.
    The same estimate as scikit-learn's ``permutation_importance`` with the estimator's
    default score, but the shuffled copies are scored in a few large ``predict`` calls
    instead of one call per feature and repeat: for a forest on a small test set the fixed
    cost of each call dominates, and this makes the ``evaluate`` stage many times faster.
    ``rows_per_call`` bounds the memory a call takes.
    """
    score = skm.accuracy_score if task == "classification" else skm.r2_score
    baseline = score(target, predict(features))
    rng = np.random.default_rng(seed)
    rows = len(features)
    blocks = [(column, rng.permutation(rows)) for column in features.columns for _ in range(repeats)]
    per_call = max(1, rows_per_call // rows)
    drops: dict[str, list[float]] = {column: [] for column in features.columns}
    for start in range(0, len(blocks), per_call):
        chunk = blocks[start : start + per_call]
        copies = []
        for column, order in chunk:
            shuffled = features.copy()
            shuffled[column] = features[column].to_numpy()[order]
            copies.append(shuffled)
        predicted = predict(pd.concat(copies, ignore_index=True))
        for index, (column, _) in enumerate(chunk):
            drops[column].append(baseline - score(target, predicted[index * rows : (index + 1) * rows]))
    return pd.Series({column: float(np.mean(values)) for column, values in drops.items()})


def library_versions() -> dict[str, str]:
    return {"python": platform.python_version(), **artifact.installed_versions(RECORDED_LIBRARIES)}


def git_commit() -> str | None:
    """The commit the model was trained from, or None outside a Git repository."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run([git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)  # noqa: S603 (fixed arguments)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def run(
    params: Params,
    data_dir: Path = paths.PROCESSED_DIR,
    model_path: Path = paths.MODEL_PATH,
    reports_dir: Path = paths.REPORTS_DIR,
    metadata_path: Path = paths.METADATA_PATH,
    serving_path: Path = paths.SERVING_PATH,
    onnx_path: Path = paths.ONNX_PATH,
) -> dict[str, float]:
    """The ``evaluate`` stage; returns the metrics it wrote."""
    test, schema = load_part("test", data_dir)
    # The model comes straight from the train stage; its hash is recorded here, then verified on every later load.
    model_sha256 = artifact.sha256(model_path.read_bytes())
    predictor = runtime.served(
        model_sha256, model_path, serving_path, model_path, onnx_path, params.model.extra_trusted_types
    )
    scores, tables, per_class = evaluate(predictor, test, schema, params.seed, params.evaluate)

    reports_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / paths.METRICS_PATH.name).write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    if per_class is not None:
        text = json.dumps(per_class, indent=2, ensure_ascii=False)
        (reports_dir / paths.PER_CLASS_PATH.name).write_text(text + "\n", encoding="utf-8")
    plots.write_tables(tables, reports_dir / paths.PLOTS_DIR.name)
    plots.render_figures(tables, schema.task, reports_dir / paths.FIGURES_DIR.name)

    ModelRecord(
        model_sha256=model_sha256,
        model_version=f"{__version__}+{model_sha256[:12]}",
        model_file=model_path.name,
        trained_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        git_commit=git_commit(),
        task=schema.task,
        features=schema.features,
        feature_types=schema.feature_types,
        categories=schema.categories,
        target=schema.target,
        labels=schema.labels,
        data=TrainingData(
            source=schema.data_source,
            sha256=schema.data_hash,
            rows=schema.rows,
            train_rows=schema.train_rows,
            test_rows=schema.test_rows,
            split=schema.split,
            duplicates=schema.duplicates,
            inputs=schema.inputs,  # what the data stage's fingerprint was
        ),
        params=params.as_dict(exclude={"quality", "search"}),  # what the model depends on
        metrics=scores,
        libraries=library_versions(),
    ).write(metadata_path)
    return scores
