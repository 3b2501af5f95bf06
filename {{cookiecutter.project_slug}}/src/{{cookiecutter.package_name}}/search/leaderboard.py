"""The leaderboard of a search, read back from its experiments, and the winner written into params.yaml.

It reads the trials' records from their Git refs (experiments.recorded), so it sees every
trial of every shard once they are fetched (``dvc exp pull``), and needs no process of the
search: a later job, on another machine, builds it. The ranking follows the metric's
direction (core/metric_goals.py), pruned and failed trials after the complete ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..core import paths
from ..core.errors import ProjectError
from ..core.params import with_model
from .experiments import Record, git, recorded

STATES = {"complete": 0, "pruned": 1, "failed": 2}  # the order of the table


@dataclass(frozen=True)
class Leaderboard:
    search: str
    records: list[Record]  # best first

    @property
    def best(self) -> Record:
        return self.records[0]

    @property
    def metric(self) -> str:
        return self.best.metric


def _key(record: Record) -> tuple[int, float]:
    mean = record.cv.get(record.metric, {}).get("mean", math.nan)
    if math.isnan(mean):
        return STATES.get(record.state, 2), math.inf
    return STATES.get(record.state, 2), -mean if record.direction == "higher" else mean


def load(search: str | None = None, root: Path = Path()) -> Leaderboard:
    """The trials of ``search`` (default: the newest search on the current commit), best first."""
    records = recorded(root)
    if not records:
        raise ProjectError("no search experiments on the current commit; run `search` (or `dvc exp pull` them) first")
    if search is None:
        search = max(records, key=lambda record: (record.started, record.search)).search
    mine = [record for record in records if record.search == search]
    if not mine:
        names = sorted({record.search for record in records})
        raise ProjectError(f"no experiments of search {search!r} on the current commit; there are {names}")
    mine.sort(key=lambda record: (*_key(record), record.shard, record.trial))
    return Leaderboard(search, mine)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "null" if value is None else str(value)


def settings(hyperparameters: dict[str, Any]) -> str:
    """A trial's hyperparameters as one table cell: ``max_iter=200, learning_rate=0.05``."""
    return ", ".join(f"{name}={_value(value)}" for name, value in sorted(hyperparameters.items()))


def markdown(board: Leaderboard, top: int = 10) -> str:
    """The table: rank, experiment, model type, hyperparameters, the metric's CV mean and spread."""
    counts = {state: sum(record.state == state for record in board.records) for state in STATES}
    metric, best = board.metric, board.best
    lines = [
        f"## Search `{board.search}`: {len(board.records)} trials",
        "",
        f"{counts['complete']} complete, {counts['pruned']} pruned, {counts['failed']} failed; "
        f"{metric} ({best.direction} is better) by {_folds(best)}-fold cross-validation on the training split. "
        f"Best: `{best.experiment}`.",
        "",
        f"| # | experiment | model | hyperparameters | {metric} (CV) | state |",
        "| ---: | --- | --- | --- | ---: | --- |",
    ]
    for rank, record in enumerate(board.records[:top], start=1):
        scores = record.cv.get(metric)
        shown = f"{scores['mean']:.4f} ± {scores['std']:.4f}" if scores else "-"
        shown_settings = settings(record.model["hyperparameters"]) or "(defaults)"
        lines.append(
            f"| {rank} | `{record.experiment}` | {record.model['type']} | {shown_settings} | {shown} | {record.state} |"
        )
    if len(board.records) > top:
        lines.append(f"\n{len(board.records) - top} more: `dvc exp show` lists every trial.")
    return "\n".join(lines) + "\n"


def _folds(record: Record) -> int:
    return len(record.cv.get(record.metric, {}).get("folds", []))


def chart(board: Leaderboard, path: Path) -> Path | None:
    """The metric against each numeric hyperparameter that varied, one panel per model type and
    hyperparameter (at most six); None when nothing varied."""
    import matplotlib

    matplotlib.use("Agg")  # files only (before pyplot is imported)
    import matplotlib.pyplot as plt

    scored = [record for record in board.records if record.state != "failed" and board.metric in record.cv]
    panels: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    for record in scored:
        for name, value in record.model["hyperparameters"].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                point = (float(value), record.cv[board.metric]["mean"], record.state)
                panels.setdefault((record.model["type"], name), []).append(point)
    panels = {key: points for key, points in panels.items() if len({x for x, _, _ in points}) > 1}
    if not panels:
        return None
    chosen = sorted(panels, key=lambda key: -len(panels[key]))[:6]
    columns = min(3, len(chosen))
    rows = math.ceil(len(chosen) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows), dpi=100, squeeze=False)
    for ax, key in zip(axes.flat, chosen, strict=False):
        for state, marker in (("complete", "o"), ("pruned", "x")):
            points = [(x, y) for x, y, s in panels[key] if s == state]
            if points:
                ax.scatter(*zip(*points, strict=True), marker=marker, label=state)
        xs = [x for x, _, _ in panels[key]]
        if min(xs) > 0 and max(xs) / min(xs) >= 50:
            ax.set_xscale("log")
        ax.set_title(f"{key[0]}", fontsize=9)
        ax.set_xlabel(key[1])
        ax.set_ylabel(f"{board.metric} (CV mean)")
    for ax in list(axes.flat)[len(chosen) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    figure.suptitle(f"Search {board.search}: {board.metric} by hyperparameter")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, metadata={"Software": None})  # no timestamp: the same trials give the same bytes
    plt.close(figure)
    return path


def write(board: Leaderboard, directory: Path = paths.LEADERBOARD_DIR, top: int = 10) -> list[Path]:
    """leaderboard.md and, when a hyperparameter varied, leaderboard.png, in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    table = directory / "leaderboard.md"
    picture = chart(board, directory / "leaderboard.png")
    text = markdown(board, top)
    if picture is not None:
        text += f"\n![{board.metric} by hyperparameter]({picture.name})\n"
    table.write_text(text, encoding="utf-8")
    return [table] if picture is None else [table, picture]


def apply(board: Leaderboard, root: Path = Path(), run: str = "", top: int = 5) -> Record:
    """Write the best trial's model type and hyperparameters into params.yaml (comments kept), and its
    record into reports/search.json: which search and trial the change came from, the ``run`` that made
    it, and the ``top`` rows of the leaderboard with the current model's, for the Model report."""
    best = board.best
    if best.state != "complete":
        raise ProjectError(f"search {board.search!r} has no complete trial to apply")
    ranked = list(enumerate(board.records, start=1))
    shown = [record.standing(rank) for rank, record in ranked[:top]]
    shown += [record.standing(rank) for rank, record in ranked[top:] if record.was_current]
    proposal = replace(
        best,
        run=run,
        base=git("rev-parse", "HEAD", root=root).strip(),
        total=len(board.records),
        top=shown,
    )
    params = root / paths.PARAMS_PATH
    params.write_text(
        with_model(params.read_text(encoding="utf-8"), best.model["type"], best.model["hyperparameters"]),
        encoding="utf-8",
    )
    (root / paths.SEARCH_RECORD_PATH).write_text(proposal.to_json(), encoding="utf-8")
    return proposal
