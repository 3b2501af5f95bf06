"""The search's trials: Optuna proposes configurations, cross-validation on the training split scores them.

A trial's configuration is a ``model:`` section of params.yaml, and its pipeline is the one
``train`` would fit for it (``pipeline.train.build_pipeline``: the same preparation, estimator
and seed), scored with the metrics ``evaluate`` reports. Only ``data/processed/train.parquet``
is read: the test split stays untouched for the pull request's comparison.

Parallel and reproducible: Optuna is asked for ``workers`` trials at once (the current model
section is the very first), and their folds are fitted together through joblib, one fold of
every running trial per round. After each round the pruner (Optuna's median rule on the
running mean of the folds) stops the trials that cannot catch up. The sampler and the pruner
see only finished rounds, so the same seed gives the same trials and scores whatever the
timing, the number of cores or where joblib runs the fits: on this machine's processes, or on
a Dask cluster when ``DASK_SCHEDULER_ADDRESS`` names its scheduler.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core import paths
from ..core.errors import ConfigError, MissingOutputError, ProjectError
from ..core.metric_goals import METRIC_GOALS, TASK_METRICS
from ..core.params import Params, SearchParams
from ..pipeline import data, train
from . import space as spaces

if TYPE_CHECKING:
    import optuna

    from ..pipeline.data import Schema

DASK_VARIABLE = "DASK_SCHEDULER_ADDRESS"


@dataclass
class TrialResult:
    """A finished trial: its configuration and the scores of each fold it ran."""

    number: int  # in this run (the shard's own count), from 0; 0 on shard 1 is the current model
    model_type: str
    hyperparameters: dict[str, Any]  # model.hyperparameters as params.yaml would hold them
    state: str  # complete | pruned | failed
    folds: dict[str, list[float]] = field(default_factory=dict)  # metric -> score of each fold run
    error: str = ""
    seconds: float = 0.0

    def mean(self, metric: str) -> float:
        return float(np.mean(self.folds[metric])) if self.folds.get(metric) else float("nan")

    def std(self, metric: str) -> float:
        return float(np.std(self.folds[metric])) if self.folds.get(metric) else float("nan")


@dataclass(frozen=True)
class Shard:
    """This runner's share of a search spread over several (``--shard I/N``)."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            index = count = 0
        if not 1 <= index <= count:
            raise ProjectError(f"--shard {text!r}: write I/N with 1 <= I <= N, e.g. 2/4")
        return cls(index, count)

    def trials(self, budget: int) -> int:
        """This shard's part of the budget: equal parts, the first shards take the remainder."""
        return budget // self.count + (1 if self.index <= budget % self.count else 0)

    def seed(self, seed: int) -> int:
        """The sampler's seed: the project's seed alone for one shard, a distinct one for each of several."""
        if self.count == 1:
            return seed
        return int(np.random.SeedSequence([seed, self.index]).generate_state(1)[0])


def estimators(params: Params) -> dict[str, spaces.Estimator]:
    """The task's model types, with their hyperparameters' names and defaults (custom: not known)."""
    known = {
        name: spaces.Estimator(
            frozenset(inspect.signature(kind).parameters),
            {key: value.default for key, value in inspect.signature(kind).parameters.items()},
        )
        for name, kind in train.ESTIMATORS[params.task].items()
    }
    if params.model.custom is not None:
        known["custom"] = spaces.Estimator(None, {})
    return known


def configured(params: Params, model_type: str, values: dict[str, Any]) -> Params:
    """Params with the trial's model: the current hyperparameters of that type (none for another type),
    the trial's values over them."""
    base = dict(params.model.hyperparameters) if model_type == params.model.type else {}
    raw = params.as_dict()
    raw["model"]["type"] = model_type
    raw["model"]["hyperparameters"] = {**base, **values}
    if model_type != "custom":
        raw["model"].pop("custom", None)
    return Params.model_validate(raw)


def load_training(params: Params, directory: Path = paths.PROCESSED_DIR) -> tuple[pd.DataFrame, Schema]:
    """The training split with the columns the folds need; a clear error when it is missing or stale."""
    try:
        frame, schema = data.load_part("train", directory)
    except MissingOutputError:
        raise MissingOutputError(
            f"{directory}/{paths.TRAIN_FILE} not found: the search scores on the training split; run `dvc repro data`"
        ) from None
    changed = data.stale_inputs(schema.inputs, params)
    if changed:
        raise MissingOutputError(
            f"{directory} is stale ({', '.join(changed)} changed since the data stage ran); run `dvc repro data`"
        )
    if params.data.split_column and params.data.split in ("group", "time"):
        column = pd.read_parquet(directory / paths.TRAIN_FILE, columns=[params.data.split_column])
        frame[params.data.split_column] = column[params.data.split_column].to_numpy()
    return frame, schema


def folds(frame: pd.DataFrame, schema: Schema, params: Params, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row positions of each fold (fit, score), split as the data stage splits: by class, group or time."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, TimeSeriesSplit

    target = frame[schema.target]
    column = params.data.split_column
    try:
        if params.data.split == "group" and column:
            return list(GroupKFold(n_splits=count).split(frame, target, groups=frame[column]))
        if params.data.split == "time" and column:
            order = np.argsort(frame[column].to_numpy(), kind="stable")  # later rows score the earlier ones' fit
            return [(order[fit], order[score]) for fit, score in TimeSeriesSplit(n_splits=count).split(order)]
        if schema.task == "classification":
            splitter = StratifiedKFold(n_splits=count, shuffle=True, random_state=params.seed)
            return list(splitter.split(frame, target))
        return list(KFold(n_splits=count, shuffle=True, random_state=params.seed).split(frame))
    except ValueError as exc:
        raise ConfigError(f"params.yaml: search.cv_folds: {count} folds of {len(frame)} rows: {exc}") from None


def score_fold(
    params: Params, schema: Schema, features: pd.DataFrame, target: pd.Series, fit_rows: np.ndarray, rows: np.ndarray
) -> dict[str, float] | str:
    """Fit the configuration's pipeline on one fold's fitting rows, score it on the rest: the metrics
    ``evaluate`` reports, or the error that stopped it (a trial fails; the search goes on)."""
    import warnings

    from ..pipeline.evaluate import classification_metrics, regression_metrics

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a linear model not converged at a trial's settings: a worse score
            pipeline = train.build_pipeline(params, schema, features.iloc[fit_rows])
            train.fit(pipeline, features.iloc[fit_rows], target.iloc[fit_rows])
            if schema.task == "classification":
                proba = pipeline.predict_proba(features.iloc[rows])
                scores = classification_metrics(target.iloc[rows], proba, pipeline.classes_)
            else:
                scores = regression_metrics(target.iloc[rows], pipeline.predict(features.iloc[rows]))
    except (ProjectError, ValueError, TypeError, ArithmeticError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return {name: float(value) for name, value in scores.items()}


@contextlib.contextmanager
def joblib_backend() -> Iterator[str]:
    """Where the fits run: this machine's processes, or the Dask cluster ``DASK_SCHEDULER_ADDRESS`` names."""
    import joblib

    address = os.environ.get(DASK_VARIABLE, "").strip()
    if not address:
        yield "local processes"
        return
    try:
        from distributed import Client  # type: ignore[import-not-found,unused-ignore]  # the cluster group
    except ImportError:
        raise ProjectError(
            f"${DASK_VARIABLE} is set, but Dask's `distributed` is not installed: `uv sync --group cluster`"
        ) from None
    with Client(address) as client, joblib.parallel_config(backend="dask"):
        yield f"Dask cluster at {client.scheduler.address}"


def searched(params: Params) -> SearchParams:
    """params.yaml's search section; an error naming the fix when there is none."""
    if params.search is None:
        raise ConfigError("params.yaml has no search section; add one (README: Search many configurations)")
    return params.search


def worker_count(requested: int) -> int:
    return requested if requested > 0 else os.cpu_count() or 1


def run(
    params: Params,
    space: spaces.Space,
    budget: int,
    workers: int,
    shard: Shard,
    on_trial: Callable[[TrialResult], None],
    frame: pd.DataFrame,
    schema: Schema,
) -> str:
    """Run this shard's trials; call ``on_trial`` with each as it finishes; return where the fits ran."""
    import joblib
    import optuna

    settings = searched(params)
    metric = settings.metric
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if METRIC_GOALS[metric] == "higher" else "minimize",
        sampler=optuna.samplers.TPESampler(seed=shard.seed(params.seed)),
        # A trial whose running mean after a fold is worse than the median of the finished trials' at that
        # fold stops there; never before two folds, nor before five trials finished.
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    )
    if shard.index == 1:  # the current model section: the first trial, so the best is never worse
        known = estimators(params).get(params.model.type, spaces.Estimator(None, {}))
        values = {**known.defaults, **params.model.hyperparameters}
        current = {name: values[name] for name in space.types[params.model.type]}
        study.enqueue_trial(space.fixed(params.model.type, current))
    features, target = data.model_input(frame, schema), frame[schema.target]
    splits = folds(frame, schema, params, settings.cv_folds)
    deadline = time.monotonic() + settings.timeout_minutes * 60
    asked = 0
    # Whole trials side by side, not one trial's folds: pruning needs each round's scores, and a batch's
    # trials are what the seed fixes. joblib's process workers cap each one's OpenMP and BLAS threads
    # at cores / workers, so HistGradientBoosting does not oversubscribe. Measured on 2 cores
    # (tests/benchmarks/search.py, 12 trials of 5 folds): 13 to 14 trials a minute one at a time (its
    # OpenMP threads on both cores), 21 to 24 with two workers.
    with joblib_backend() as where, joblib.Parallel(n_jobs=worker_count(workers)) as parallel:
        # The first batch always runs (it holds the current model section), as Optuna's own timeout lets
        # the first trial finish: starting the workers alone may take longer than a tiny budget.
        while asked < budget and (asked == 0 or time.monotonic() < deadline):
            batch = [study.ask() for _ in range(min(worker_count(workers), budget - asked))]
            asked += len(batch)
            for result in _run_batch(study, batch, space, params, schema, features, target, splits, parallel):
                on_trial(result)
    return where


def _run_batch(
    study: optuna.Study,
    batch: list[optuna.Trial],
    space: spaces.Space,
    params: Params,
    schema: Schema,
    features: pd.DataFrame,
    target: pd.Series,
    splits: list[tuple[np.ndarray, np.ndarray]],
    parallel: Any,
) -> list[TrialResult]:
    import joblib
    import optuna

    metric = searched(params).metric
    started = time.monotonic()
    results, configs = [], []
    for trial in batch:
        model_type, values = space.suggest(trial)
        configs.append(configured(params, model_type, values))
        results.append(
            TrialResult(
                trial.number,
                model_type,
                dict(configs[-1].model.hyperparameters),
                "running",
                {name: [] for name in TASK_METRICS[params.task]},
            )
        )
    running = list(range(len(batch)))
    for step, (fit_rows, rows) in enumerate(splits):
        scored = parallel(
            joblib.delayed(score_fold)(configs[i], schema, features, target, fit_rows, rows) for i in running
        )
        still = []
        for i, scores in zip(running, scored, strict=True):
            if isinstance(scores, str):
                results[i].state, results[i].error = "failed", scores
                study.tell(batch[i], state=optuna.trial.TrialState.FAIL)
                continue
            for name, value in scores.items():
                results[i].folds[name].append(value)
            batch[i].report(results[i].mean(metric), step)
            if step < len(splits) - 1 and batch[i].should_prune():
                results[i].state = "pruned"
                study.tell(batch[i], state=optuna.trial.TrialState.PRUNED)
            else:
                still.append(i)
        running = still
    for i in running:
        results[i].state = "complete"
        study.tell(batch[i], results[i].mean(metric))
    elapsed = time.monotonic() - started
    for result in results:
        result.seconds = round(elapsed / len(results), 3)  # the batch ran together: its time, shared
    return results
