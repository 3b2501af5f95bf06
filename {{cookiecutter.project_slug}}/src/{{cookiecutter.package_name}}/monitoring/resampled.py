"""The quality metrics of bootstrap resamples, from how often each row was drawn.

A resample of n outcomes is the same n rows, each drawn 0, 1, 2, ... times. Each metric here
is the one scikit-learn computes on the drawn rows (``evaluate.classification_metrics`` and
``regression_metrics``), written with those counts as weights: the confusion matrix is one
weighted count, and ROC AUC comes from the rows grouped by score once (ties counted half), so
no resample sorts or checks anything. ``monitor`` draws a few hundred resamples of up to
20,000 outcomes on each side; this takes a fraction of the time of scikit-learn's calls, and
tests/unit/test_monitor.py checks both give the same figures on the same draws.
"""

from __future__ import annotations

import math

import numpy as np


class ResampledMetrics:
    """The task's metrics for any resample of these outcomes, given as each row's draw count."""

    def __init__(self, truth: np.ndarray, scores: np.ndarray, task: str, classes: int = 0) -> None:
        """``truth``: class positions (classification) or numbers; ``scores``: the class probabilities
        (one column per class, in the model's order) or the predictions."""
        self.task, self.classes = task, classes
        if task == "classification":
            truth = truth.astype(np.int64)
            self._cells = truth * classes + scores.argmax(axis=1)  # each row's cell of the confusion matrix
            # ROC AUC: of the positive class when there are two, else of each class against the rest (macro).
            self._ranked = []
            for column in [1] if classes == 2 else range(classes):
                distinct, group = np.unique(scores[:, column], return_inverse=True)  # groups in score order
                self._ranked.append((group, len(distinct), truth == column))
        else:
            self._truth = truth.astype(np.float64)
            self._errors = scores.astype(np.float64) - self._truth

    def __call__(self, counts: np.ndarray) -> dict[str, float] | None:
        """The metrics of the resample that drew row i ``counts[i]`` times; None where one is undefined
        (a class without positives or without negatives in it has no ROC AUC), as scikit-learn raises."""
        counts = counts.astype(np.float64)
        if self.task == "classification":
            return self._classification(counts)
        return self._regression(counts)

    def _classification(self, counts: np.ndarray) -> dict[str, float] | None:
        k = self.classes
        confusion = np.bincount(self._cells, weights=counts, minlength=k * k).reshape(k, k)  # truth x predicted
        hits, predicted, actual = np.diag(confusion), confusion.sum(axis=0), confusion.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):  # zero_division=0, as evaluate asks
            precision = np.where(predicted > 0, hits / predicted, 0.0)
            recall = np.where(actual > 0, hits / actual, 0.0)
            f1 = np.where(predicted + actual > 0, 2 * hits / (predicted + actual), 0.0)
        if k == 2:  # the positive class's
            scores = {"precision": precision[1], "recall": recall[1], "f1": f1[1]}
        else:  # macro: over the classes present in the truth or the predictions, as scikit-learn averages
            present = predicted + actual > 0
            scores = {
                name: values[present].mean()
                for name, values in (("precision", precision), ("recall", recall), ("f1", f1))
            }
        areas = []
        for group, size, positive in self._ranked:
            positives = np.bincount(group, weights=counts * positive, minlength=size)
            negatives = np.bincount(group, weights=counts * ~positive, minlength=size)
            pairs = positives.sum() * negatives.sum()
            if pairs == 0:
                return None
            below = np.cumsum(negatives) - negatives  # negatives scored lower than each group
            areas.append(float(positives @ (below + negatives / 2)) / pairs)
        return {
            "accuracy": float(hits.sum() / counts.sum()),
            **{name: float(value) for name, value in scores.items()},
            "roc_auc": float(np.mean(areas)),
        }

    def _regression(self, counts: np.ndarray) -> dict[str, float]:
        total = float(counts.sum())
        squared = float(counts @ self._errors**2)
        mean = float(counts @ self._truth) / total
        spread = float(counts @ (self._truth - mean) ** 2)
        # scikit-learn's r2_score of a constant truth: 1 when the predictions are exact, else 0.
        r2 = 1 - squared / spread if spread > 0 else float(squared == 0)
        return {
            "rmse": math.sqrt(squared / total),
            "mae": float(counts @ np.abs(self._errors)) / total,
            "r2": r2,
        }
