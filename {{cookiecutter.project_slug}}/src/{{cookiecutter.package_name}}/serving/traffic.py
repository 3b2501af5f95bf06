"""What the model is asked and what it answers, as Prometheus metrics: the service's ``/metrics``.

The server's own metrics (requests and latency by route and status) say whether the service
answers; these say what it answers, so that ``monitoring/alerts.yml`` can notice a model whose
inputs or outputs moved:

- ``model_rows_total``: rows scored.
- classification: ``model_predictions_total{label}`` (rows by predicted class) and the
  ``model_top_class_probability`` histogram (how sure the model is);
- regression: the ``model_prediction`` histogram, whose buckets are the deciles of the test
  split's predictions (``models/serving.json``, recorded by the ``export`` stage), so each
  bucket holds a tenth of the answers while production looks like the test split;
- ``model_empty_cells_total{feature}``: empty cells (null, or blank text) the model imputed;
- ``model_unknown_categories_total{feature}``: text no category of the data contract;
- ``model_invalid_cells_total{feature}``: problems of refused (422) requests, by the feature
  they name; a field that is no feature (an extra key, the body's form) counts under
  :data:`OTHER_FIELD`.

Every label value comes from the model's record: its features and classes, all present from the
start (at 0). A value sent by a client never becomes a label, so the number of series is bounded
by the model, whatever the traffic.

The counts are plain integers, added a batch at a time (a call per column, none per cell; numpy
for the answers of large batches), and exposed through a collector of prometheus_client's public
API, so no labelled child is looked up per request; the service calls
:meth:`ModelTraffic.observe_inputs` and :meth:`ModelTraffic.observe_scores` on the event loop,
the only thread that touches them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate, filterfalse
from typing import Any

import numpy as np
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from .runtime import Features

OTHER_FIELD = "(other)"  # model_invalid_cells_total's label for a field that is no feature
# How sure a classifier is: its top class's probability is at least 1/classes, so the lower buckets
# matter only with many classes.
PROBABILITY_BUCKETS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
# Batches up to this many rows are counted in a Python loop: numpy's overhead per call is larger (for one
# row, 0.4 us in Python against 6 us in numpy on 2 cores; even at about 15 rows).
SMALL_BATCH = 16


class _Histogram:
    """Bucket counts and sum of observed values; ``le`` buckets as Prometheus reads them."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = sorted({float(bound) for bound in bounds})
        self._edges = np.array(self.bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last: above every bound (+Inf)
        self.total = 0.0

    def observe(self, values: np.ndarray) -> None:
        if len(values) <= SMALL_BATCH:
            for value in values.tolist():
                self.observe_one(value)
            return
        # searchsorted(side="left"), as bisect_left: the first bound >= the value, the bucket `le` that bound.
        added = np.bincount(np.searchsorted(self._edges, values), minlength=len(self.counts)).tolist()
        self.counts = [count + more for count, more in zip(self.counts, added, strict=True)]
        self.total += float(values.sum())

    def observe_one(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        cumulative = list(accumulate(self.counts))
        buckets = [(repr(bound), count) for bound, count in zip(self.bounds, cumulative, strict=False)]
        return HistogramMetricFamily(
            name, documentation, buckets=[*buckets, ("+Inf", cumulative[-1])], sum_value=self.total
        )


def _counter(name: str, documentation: str, label: str, values: Iterable[str], counts: list[int]) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in zip(values, counts, strict=True):
        family.add_metric([value], count)
    return family


class ModelTraffic(Collector):
    """The model's traffic metrics for one served model (see the module's docstring)."""

    def __init__(self, features: Features, task: str, classes: Sequence[Any], prediction_buckets: Sequence[float]):
        self.features, self.task = features, task
        self.labels = [str(label) for label in classes]
        # Only a feature the data contract allows empty can hold an empty cell: the others are refused (422).
        self._nullable = [
            (index, name)
            for index, name in enumerate(features.names)
            if features.nullable[name] and features.types[name] != "categorical"
        ]
        self._categorical = [
            (index, name, frozenset(features.categories.get(name, [])))
            for index, name in enumerate(features.names)
            if features.types[name] == "categorical"
        ]
        self._feature_index = {name: index for index, name in enumerate(features.names)}
        self.rows = 0
        self.empty = [0] * len(features.names)
        self.unknown = [0] * len(self._categorical)
        self.invalid = [0] * (len(features.names) + 1)  # the last: OTHER_FIELD
        self.predicted = [0] * len(self.labels)
        if task == "classification":
            self.answers = _Histogram(PROBABILITY_BUCKETS)
        else:
            if not prediction_buckets:
                raise ValueError("a regression model's traffic needs the buckets of its predictions")
            self.answers = _Histogram(prediction_buckets)

    def observe_inputs(self, columns: dict[str, Sequence]) -> int:
        """Count a valid batch's rows, empty cells and unknown categories; return the number of rows."""
        count = len(next(iter(columns.values())))
        self.rows += count
        # A pass in C per column that may hold an empty cell or an unknown category: list.count, and
        # filterfalse over a frozenset's membership test (most cells are known categories: nothing is left).
        for index, name in self._nullable:
            if empty := columns[name].count(None):
                self.empty[index] += empty
        for slot, (index, name, known) in enumerate(self._categorical):
            if others := list(filterfalse(known.__contains__, columns[name])):
                empty = sum(1 for value in others if value is None or not value.strip())
                self.empty[index] += empty
                self.unknown[slot] += len(others) - empty
        return count

    def observe_scores(self, scores: np.ndarray) -> None:
        """Count the answers of a scored batch (finite): class probabilities, or predictions."""
        if self.task != "classification":
            self.answers.observe(scores.reshape(-1))
            return
        if len(scores) <= SMALL_BATCH:
            for row in scores.tolist():
                top = max(row)
                self.predicted[row.index(top)] += 1  # the first of equal ones, as numpy's argmax
                self.answers.observe_one(top)
            return
        added = np.bincount(scores.argmax(axis=1), minlength=len(self.labels)).tolist()
        self.predicted = [count + more for count, more in zip(self.predicted, added, strict=True)]
        self.answers.observe(scores.max(axis=1))

    def observe_refusal(self, locations: Iterable[Sequence]) -> None:
        """Count the problems of a refused request by the feature each names (its location as pydantic gives
        it: ``("body", "rows", 3, feature, ...)`` or ``("body", "columns", feature, ...)``)."""
        other = len(self.invalid) - 1
        for location in locations:
            parts = list(location[1:] if location and location[0] == "body" else location)
            name = None
            if parts[:1] == ["rows"] and len(parts) >= 3 and isinstance(parts[1], int):
                name = parts[2]
            elif parts[:1] == ["columns"] and len(parts) >= 2:
                name = parts[1]
            self.invalid[self._feature_index.get(name, other) if isinstance(name, str) else other] += 1

    def collect(self) -> Iterator[Metric]:
        rows = CounterMetricFamily("model_rows", "Rows scored by the model")
        rows.add_metric([], self.rows)
        yield rows
        if self.task == "classification":
            yield _counter("model_predictions", "Rows by predicted class", "label", self.labels, self.predicted)
            yield self.answers.family("model_top_class_probability", "The predicted class's probability")
        else:
            yield self.answers.family(
                "model_prediction", "The predictions; buckets: deciles of the test split's predictions"
            )
        names = self.features.names
        yield _counter("model_empty_cells", "Empty cells (null or blank) by feature", "feature", names, self.empty)
        yield _counter(
            "model_unknown_categories",
            "Text no category of the data contract, by feature",
            "feature",
            [name for _, name, _ in self._categorical],
            self.unknown,
        )
        yield _counter(
            "model_invalid_cells",
            f"Problems of refused (422) requests, by the feature they name ({OTHER_FIELD} for other fields)",
            "feature",
            [*names, OTHER_FIELD],
            self.invalid,
        )
