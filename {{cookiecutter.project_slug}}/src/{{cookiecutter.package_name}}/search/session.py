"""One run of the ``search`` command: check everything, then score and record this shard's trials."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..core import paths
from ..core.metric_goals import METRIC_GOALS
from ..core.params import Params
from . import space as spaces
from . import trials
from .experiments import Record, Recorder, check_name, check_workspace


@dataclass(frozen=True)
class Outcome:
    search: str
    records: list[Record]
    where: str  # where the fits ran
    planned: int  # this shard's share of the budget: more than len(records) when the time budget ended it

    def best(self) -> Record | None:
        complete = [record for record in self.records if record.state == "complete"]
        if not complete:
            return None
        sign = -1 if complete[0].direction == "higher" else 1
        return min(complete, key=lambda record: sign * record.cv[record.metric]["mean"])


def record_of(result: trials.TrialResult, name: str, shard: trials.Shard, params: Params, started: str) -> Record:
    settings = trials.searched(params)
    return Record(
        search=name,
        trial=result.number,
        shard=f"{shard.index}/{shard.count}",
        seed=shard.seed(params.seed),
        metric=settings.metric,
        direction=METRIC_GOALS[settings.metric],
        state=result.state,
        model={"type": result.model_type, "hyperparameters": result.hyperparameters},
        cv={
            metric: {"mean": round(result.mean(metric), 6), "std": round(result.std(metric), 6), "folds": folds}
            for metric, folds in result.folds.items()
            if folds
        },
        error=result.error,
        seconds=result.seconds,
        started=started,
    )


def run(
    params: Params,
    name: str,
    budget: int | None = None,
    workers: int | None = None,
    shard: trials.Shard = trials.Shard(),  # noqa: B008 (frozen: one shared default is safe)
    root: Path = Path(),
    show: Callable[[Record], None] = lambda record: None,
) -> Outcome:
    """Score this shard's share of the budget; each trial becomes experiment ``<name>-tNNN``."""
    settings = trials.searched(params)
    check_name(name)
    check_workspace(root)  # first: a bad value found later must not send the user to a dirty params.yaml
    space = spaces.from_params(params, trials.estimators(params))
    frame, schema = trials.load_training(params, root / paths.PROCESSED_DIR)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    planned = shard.trials(budget or settings.trials)
    records: list[Record] = []
    # Recording takes about a second a trial (DVC parses dvc.yaml and dvc.lock, writes Git objects): one
    # thread records the finished trials in order while the next ones are fitted in joblib's processes.
    with Recorder(root) as recorder, ThreadPoolExecutor(max_workers=1) as recording:
        pending: list[Future[None]] = []

        def save(record: Record) -> None:
            recorder.record(record)
            records.append(record)
            show(record)

        def finished(result: trials.TrialResult) -> None:
            pending.append(recording.submit(save, record_of(result, name, shard, params, started)))

        try:
            where = trials.run(
                params,
                space,
                planned,
                settings.workers if workers is None else workers,
                shard,
                finished,
                frame,
                schema,
            )
        finally:
            for future in pending:
                future.result()  # a trial that could not be recorded fails the search, after the others
    return Outcome(name, records, where, planned)
