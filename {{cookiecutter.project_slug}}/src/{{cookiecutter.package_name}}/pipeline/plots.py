"""Plot data for ``dvc plots`` (CSV files in Git) and PNG renderings of the same tables.

Each table is written once as data; ``dvc.yaml`` names the template and axes that DVC uses
to draw it, and :func:`render_figures` draws the same table with matplotlib, so a reviewer
sees identical numbers in ``dvc plots show``, in the PNGs and in pull-request reports.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI runners or servers (chosen before pyplot is imported)

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from sklearn import metrics as skm

DECIMALS = 6  # plot data rounded so it diffs cleanly in Git
CURVE_POINTS = 1_000  # points of a ROC or precision-recall curve at most: plenty for a chart


def classification_tables(
    y_true: pd.Series, proba: np.ndarray, classes: np.ndarray, rows: np.ndarray | None = None
) -> dict[str, pd.DataFrame]:
    """Confusion rows, ROC and precision-recall curves (one-vs-rest, micro-averaged if multiclass).

    The confusion table has a line per row: only the ``rows`` positions (a sample) when given.
    The curves use every row.
    """
    picked = slice(None) if rows is None else rows
    predicted = classes[proba[picked].argmax(axis=1)]
    confusion = pd.DataFrame({"actual": y_true.iloc[picked].astype(str).to_numpy(), "predicted": predicted.astype(str)})
    if len(classes) == 2:
        truth, score = (y_true.to_numpy() == classes[1]).astype(int), proba[:, 1]
    else:  # micro-average: every (row, class) pair is one binary decision
        truth = (y_true.to_numpy()[:, None] == classes[None, :]).astype(int).ravel()
        score = proba.ravel()
    fpr, tpr, _ = skm.roc_curve(truth, score)
    precision, recall, _ = skm.precision_recall_curve(truth, score, drop_intermediate=True)
    return {
        "confusion": confusion,
        "roc": _thinned(pd.DataFrame({"fpr": fpr, "tpr": tpr}).round(DECIMALS)),
        "precision_recall": _thinned(pd.DataFrame({"recall": recall, "precision": precision}).round(DECIMALS)),
    }


def _thinned(curve: pd.DataFrame, most: int = CURVE_POINTS) -> pd.DataFrame:
    """At most ``most`` points of a curve, evenly spaced along it, both ends kept: a curve of
    continuous scores has a point per test row, and its table is kept in Git."""
    if len(curve) <= most:
        return curve
    return curve.iloc[np.unique(np.linspace(0, len(curve) - 1, most).round().astype(int))].reset_index(drop=True)


def regression_tables(y_true: pd.Series, predicted: np.ndarray) -> dict[str, pd.DataFrame]:
    """Predicted against actual, and residuals against predicted."""
    actual = y_true.to_numpy(dtype=float)
    return {
        "predicted_vs_actual": pd.DataFrame({"actual": actual, "predicted": predicted}).round(DECIMALS),
        "residuals": pd.DataFrame({"predicted": predicted, "residual": actual - predicted}).round(DECIMALS),
    }


def write_tables(tables: dict[str, pd.DataFrame], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.to_csv(directory / f"{name}.csv", index=False)


def render_figures(tables: dict[str, pd.DataFrame], task: str, directory: Path) -> list[Path]:
    """Draw every table as a PNG; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    drawers = {
        "confusion": _confusion,
        "roc": lambda ax, t: _curve(ax, t, "fpr", "tpr", "ROC curve", diagonal=True),
        "precision_recall": lambda ax, t: _curve(ax, t, "recall", "precision", "Precision-recall curve"),
        "predicted_vs_actual": _predicted_vs_actual,
        "residuals": _residuals,
        "feature_importance": _importance,
    }
    written = []
    for name, table in tables.items():
        figure, axes = plt.subplots(figsize=(6, 4.5), dpi=100)
        drawers[name](axes, table)
        figure.tight_layout()
        path = directory / f"{name}.png"
        # No timestamp or software tag in the file: the same numbers give the same bytes.
        figure.savefig(path, metadata={"Software": None})
        plt.close(figure)
        written.append(path)
    return written


def _confusion(ax: Axes, table: pd.DataFrame) -> None:
    counts = pd.crosstab(table["actual"], table["predicted"])
    labels = sorted(set(counts.index) | set(counts.columns))
    counts = counts.reindex(index=labels, columns=labels, fill_value=0)
    ax.imshow(counts.to_numpy(), cmap="Blues")
    for (row, col), value in np.ndenumerate(counts.to_numpy()):
        ax.text(col, row, str(value), ha="center", va="center")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="actual", title=f"Confusion matrix ({len(table):,} test rows)")


def _curve(ax: Axes, table: pd.DataFrame, x: str, y: str, title: str, diagonal: bool = False) -> None:
    ax.plot(table[x], table[y])
    if diagonal:
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set(xlabel=x, ylabel=y, title=title, xlim=(0, 1), ylim=(0, 1.02))


def _predicted_vs_actual(ax: Axes, table: pd.DataFrame) -> None:
    ax.scatter(table["actual"], table["predicted"], s=12)
    low, high = table[["actual", "predicted"]].min().min(), table[["actual", "predicted"]].max().max()
    ax.plot([low, high], [low, high], linestyle="--", color="grey")
    ax.set(xlabel="actual", ylabel="predicted", title=f"Predicted vs actual ({len(table):,} test rows)")


def _residuals(ax: Axes, table: pd.DataFrame) -> None:
    ax.scatter(table["predicted"], table["residual"], s=12)
    ax.axhline(0, linestyle="--", color="grey")
    ax.set(xlabel="predicted", ylabel="actual - predicted", title=f"Residuals ({len(table):,} test rows)")


def _importance(ax: Axes, table: pd.DataFrame) -> None:
    top = table.head(15).iloc[::-1]
    ax.barh(top["feature"], top["importance"])
    ax.set(xlabel="mean drop in score when shuffled", title="Permutation feature importance")
