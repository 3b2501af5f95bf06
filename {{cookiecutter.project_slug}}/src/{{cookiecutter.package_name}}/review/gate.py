"""The gate (command ``gate``): compare a proposed model (head) with the one on main (base), and judge it.

The pull-request report (:mod:`.report`) is built from the same comparison.

Both sides are project folders holding the pipeline's outputs, reproduced the same way (in
CI: on the same runner, base in a separate worktree). The gate applies the quality bar of
the *base* side's params.yaml, so a pull request cannot pass by loosening its own bar; a
change to the bar shows up in the report's params table for reviewers.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import artifact, paths
from ..core.errors import MissingOutputError
from ..core.metric_goals import METRIC_GOALS
from ..core.params import Params, load_params
from ..core.records import ModelRecord
from ..pipeline import export
from ..pipeline.data import Schema
from ..serving import runtime


@dataclass(frozen=True)
class Side:
    """One side of the comparison: a project folder with its pipeline outputs, loaded."""

    root: Path
    params: Params
    metrics: dict[str, float]
    schema: Schema
    metadata: ModelRecord

    @classmethod
    def load(cls, root: Path) -> Side:
        metrics_path = root / paths.METRICS_PATH
        if not metrics_path.is_file():
            raise MissingOutputError(f"{metrics_path} not found; run `dvc repro` in {root} first")
        schema_path = root / paths.PROCESSED_DIR / paths.SCHEMA_FILE
        if not schema_path.is_file():
            raise MissingOutputError(f"{schema_path} not found; run `dvc repro` in {root} first")
        return cls(
            root=root,
            params=load_params(root / "params.yaml"),
            metrics=json.loads(metrics_path.read_text(encoding="utf-8")),
            schema=Schema.read(schema_path),
            metadata=ModelRecord.read(root / paths.METADATA_PATH),
        )

    @property
    def model_path(self) -> Path:
        return self.root / paths.MODEL_PATH

    def load_model(self) -> Any:
        """The model, only if its SHA-256 matches this side's metadata."""
        model, _ = artifact.load_verified(self.model_path, self.root / paths.METADATA_PATH)
        return model

    def load_predictor(self) -> runtime.Predictor:
        """The model as this side serves it (the runtime its serving record names), each file verified."""
        return runtime.load(
            self.root / paths.METADATA_PATH,
            self.root / paths.SERVING_PATH,
            self.model_path,
            self.root / paths.ONNX_PATH,
        )

    def first_request(self) -> dict[str, list]:
        """This side's first test row as the service receives it (JSON values), column by column."""
        import pyarrow.parquet as pq

        with pq.ParquetFile(
            self.root / paths.PROCESSED_DIR / paths.TEST_FILE
        ) as table:  # one row read, not the whole split
            first = next(table.iter_batches(batch_size=1, columns=self.schema.features)).to_pandas()
        (row,) = export.request_rows(first, self.schema.feature_types)
        return {name: [value] for name, value in row.items()}


@dataclass(frozen=True)
class MetricChange:
    name: str
    base: float | None
    head: float | None
    tolerance: float | None

    @property
    def delta(self) -> float | None:
        return None if self.base is None or self.head is None else self.head - self.base

    @property
    def worse_by(self) -> float | None:
        """How much worse head is than base (negative when better), in the metric's units."""
        if self.delta is None or self.name not in METRIC_GOALS:
            return None
        return -self.delta if METRIC_GOALS[self.name] == "higher" else self.delta

    @property
    def direction(self) -> str:
        worse = self.worse_by
        if worse is None:
            return "new" if self.base is None else "removed" if self.head is None else ""
        return "same" if abs(worse) < 1e-12 else "worse" if worse > 0 else "better"


@dataclass(frozen=True)
class Verdict:
    changes: list[MetricChange]
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if self.passed:
            return "pass: no metric is worse than main by more than its tolerance, and every bound holds"
        return "fail: " + "; ".join(self.failures)


def judge(base: Side, head: Side) -> Verdict:
    """Metric by metric: tolerances against base, then head's absolute bounds; base's bar applies."""
    quality = base.params.quality
    names = list(dict.fromkeys([*base.metrics, *head.metrics]))
    changes = [MetricChange(n, base.metrics.get(n), head.metrics.get(n), quality.tolerance.get(n)) for n in names]
    failures = []
    for change in changes:
        if change.name in quality.tolerance and change.head is None:
            failures.append(f"{change.name} is missing from the head model's metrics")
        elif change.tolerance is not None and change.worse_by is not None and change.worse_by > change.tolerance:
            failures.append(
                f"{change.name} is worse than main by {change.worse_by:.4f} "
                f"({change.base:.4f} -> {change.head:.4f}), more than its tolerance {change.tolerance}"
            )
    for name, floor in quality.minimum.items():
        value = head.metrics.get(name)
        if value is None or value < floor:
            failures.append(f"{name} = {value} is below its floor {floor}")
    for name, ceiling in quality.maximum.items():
        value = head.metrics.get(name)
        if value is None or value > ceiling:
            failures.append(f"{name} = {value} is above its ceiling {ceiling}")
    return Verdict(changes, failures)


def changed_params(base: Params, head: Params) -> list[tuple[str, Any, Any]]:
    """(dotted key, base value, head value) for every setting that differs."""
    flat_base, flat_head = _flatten(base.as_dict()), _flatten(head.as_dict())
    keys = list(dict.fromkeys([*flat_base, *flat_head]))
    return [(k, flat_base.get(k), flat_head.get(k)) for k in keys if flat_base.get(k) != flat_head.get(k)]


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def predict_latency_ms(calls: list[Callable[[], Any]], repeats: int = 50) -> list[float]:
    """Median time of each call (a single-row predict), measured interleaved in one process.

    Interleaving keeps machine noise from favouring one side: both see the same conditions.
    """
    timings: list[list[float]] = [[] for _ in calls]
    for call in calls:  # warm up caches and lazy initialisation
        call()
    for _ in range(repeats):
        for index, call in enumerate(calls):
            start = time.perf_counter()
            call()
            timings[index].append((time.perf_counter() - start) * 1000)
    return [statistics.median(t) for t in timings]


def roc_on_grid(table: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """The ROC curve's true-positive rate at each false-positive rate of a fixed grid.

    A ROC curve is a step function: at each grid point take the best rate reached at or
    before it, so base and head share one x-axis in a chart.
    """
    ordered = table.sort_values(["fpr", "tpr"])
    best = np.maximum.accumulate(ordered["tpr"].to_numpy())
    index = np.searchsorted(ordered["fpr"].to_numpy(), grid, side="right") - 1
    return np.where(index >= 0, best[np.clip(index, 0, None)], 0.0)
