"""The pull-request report: one Markdown page comparing the head model with main's.

Built from two folders of pipeline outputs (see :mod:`.gate`), so it can be produced and
tested locally; CI only posts it. Charts are Mermaid, which GitHub renders itself: no image
host is needed for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import TypeAdapter

from ..core import paths
from ..core.metric_goals import UNIT_METRICS
from ..search import leaderboard
from ..search.experiments import Configuration, Record, Standing
from ..serving import runtime
from .gate import Side, Verdict, changed_params, judge, predict_latency_ms, roc_on_grid

TITLE = "Model report"
RUNTIME_NAMES = {"onnx": "ONNX Runtime", "sklearn": "scikit-learn"}
GRID = np.round(np.linspace(0.0, 1.0, 11), 2)


def build(base: Side, head: Side, verdict: Verdict | None = None, latency: bool = True) -> str:
    """The whole report as Markdown; the verdict comes first."""
    verdict = verdict or judge(base, head)
    mark = "✅" if verdict.passed else "❌"
    sections = [
        f"## {TITLE}: {mark} {verdict.summary()}",
        f"Base: `main` ({_commit(base)}) · head: this pull request ({_commit(head)}); "
        "both reproduced the same way, on the same machine.",
        _metrics_table(verdict),
        _params_section(base, head),
        _search_section(base, head),
        _data_section(base, head),
        _charts(base, head),
        _model_section(base, head, latency),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _commit(side: Side) -> str:
    commit = side.metadata.git_commit
    return f"`{commit[:12]}`" if commit else "uncommitted"


def _number(value: Any) -> str:
    return "—" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _metrics_table(verdict: Verdict) -> str:
    rows = ["| metric | base | head | change | | tolerance |", "| --- | ---: | ---: | ---: | --- | ---: |"]
    arrows = {"better": "better", "worse": "**worse**", "same": "same", "new": "new", "removed": "removed"}
    for change in verdict.changes:
        delta = "—" if change.delta is None else f"{change.delta:+.4f}"
        tolerance = "—" if change.tolerance is None else str(change.tolerance)
        rows.append(
            f"| {change.name} | {_number(change.base)} | {_number(change.head)} | {delta} "
            f"| {arrows.get(change.direction, '')} | {tolerance} |"
        )
    return "### Metrics (test split)\n\n" + "\n".join(rows)


def _params_section(base: Side, head: Side) -> str:
    changes = changed_params(base.params, head.params)
    if not changes:
        return "### Params\n\nNo setting in `params.yaml` changed."
    rows = ["| param | base | head |", "| --- | --- | --- |"]
    rows += [f"| `{key}` | `{json.dumps(old)}` | `{json.dumps(new)}` |" for key, old, new in changes]
    return "### Params changed\n\n" + "\n".join(rows)


RUN_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/actions/runs/[0-9]+$")


def _search_section(base: Side, head: Side) -> str:
    """Where the pull request's model section came from, when a search proposed it: the search's
    run and its top trials, main's model among them. Nothing when the pull request brings no new
    search record (main's own, from an earlier search, says nothing of this change)."""
    record_path = head.root / paths.SEARCH_RECORD_PATH
    if not record_path.is_file():
        return ""
    text = record_path.read_text(encoding="utf-8")
    base_record = base.root / paths.SEARCH_RECORD_PATH
    if base_record.is_file() and base_record.read_text(encoding="utf-8") == text:
        return ""
    try:  # every type checked: the pull request wrote this file
        proposal = TypeAdapter(Record).validate_json(text)
        Configuration.model_validate(proposal.model)
        rows = [Standing.model_validate(row) for row in proposal.top]
    except ValueError as error:
        reason = _cell(str(error).splitlines()[0])
        return f"### Search\n\n`{paths.SEARCH_RECORD_PATH}` changed but is not a search's record ({reason})."
    model = head.params.model
    if not proposal.configures(model.type, model.hyperparameters):
        return (
            f"### Search\n\n`{paths.SEARCH_RECORD_PATH}` names trial `{_cell(proposal.experiment)}` of search "
            f"`{_cell(proposal.search)}`, but `params.yaml`'s model section is no longer that trial's: "
            "it changed after the search proposed it."
        )
    cv = proposal.cv.get(proposal.metric, {})
    folds = len(cv["folds"]) if isinstance(cv.get("folds"), list) else 0
    if not rows:  # one trial's own record (`dvc exp apply` of it, committed): no leaderboard in it
        mean, std = cv.get("mean"), cv.get("std")
        numbers = all(isinstance(value, (int, float)) for value in (mean, std))
        shown = f"{mean:.4f} ± {std:.4f}" if numbers else "not scored"
        return (
            "### Search: where this model section comes from\n\n"
            f"It is trial `{_cell(proposal.experiment)}` of search `{_cell(proposal.search)}`: "
            f"{_cell(proposal.metric)} {shown} in {folds}-fold cross-validation on the training split (the "
            "metrics above are the test split's). Its record holds no leaderboard: `leaderboard --search "
            f"{_cell(proposal.search)}` ranks the search's trials where they are (`dvc exp pull origin` first)."
        )
    run = f"[its run]({proposal.run})" if RUN_URL.match(proposal.run) else "run locally"
    lines = [
        "### Search: where this model section comes from",
        "",
        f"Search `{_cell(proposal.search)}` ({run}, {proposal.total} trials on `{proposal.base[:12]}`) proposes "
        f"its best trial, `{_cell(proposal.experiment)}`, by {_cell(proposal.metric)} ({_cell(proposal.direction)} is "
        f"better) in {folds}-fold cross-validation on the training split; the metrics above are the test "
        "split's. Every trial is a DVC experiment: `dvc exp pull origin`, then `dvc exp show`.",
        "",
        f"| # | experiment | model | hyperparameters | {_cell(proposal.metric)} (CV) | |",
        "| ---: | --- | --- | --- | ---: | --- |",
    ]
    for row in rows:
        scores = "-" if row.mean is None else f"{row.mean:.4f} ± {row.std or 0:.4f}"
        shown_settings = leaderboard.settings(row.model.hyperparameters) or "(defaults)"
        notes = [
            note
            for note, applies in (
                ("this pull request", row.experiment == proposal.experiment),
                ("main's model at the search", row.current),
            )
            if applies
        ]
        lines.append(
            f"| {row.rank} | `{_cell(row.experiment)}` | {_cell(row.model.type)} | {_cell(shown_settings)} "
            f"| {scores} | {_cell(', '.join(notes) or row.state)} |"
        )
    return "\n".join(lines)


def _cell(value: object) -> str:
    """Text from a file the pull request wrote, safe in a table cell or a code span."""
    return re.sub(r"[`|\r\n<>]", " ", str(value))[:200]


def _data_section(base: Side, head: Side) -> str:
    same = base.schema.data_hash == head.schema.data_hash
    status = "unchanged" if same else "**changed**"
    rows = [
        "| | base | head |",
        "| --- | --- | --- |",
        f"| source | {base.schema.data_source} | {head.schema.data_source} |",
        f"| SHA-256 | `{base.schema.data_hash[:12]}` | `{head.schema.data_hash[:12]}` |",
        f"| rows (train / test) | {base.schema.train_rows} / {base.schema.test_rows} "
        f"| {head.schema.train_rows} / {head.schema.test_rows} |",
    ]
    return f"### Data: {status}\n\n" + "\n".join(rows)


def _mermaid(title: str, x_axis: str, y_axis: str, series: list[tuple[str, list[float]]]) -> str:
    lines = ["```mermaid", "xychart-beta", f'    title "{title}"', f"    x-axis {x_axis}", f"    y-axis {y_axis}"]
    for kind, values in series:
        lines.append(f"    {kind} [{', '.join(f'{v:.4f}' for v in values)}]")
    lines.append("```")
    return "\n".join(lines)


def _charts(base: Side, head: Side) -> str:
    names = [n for n in base.metrics if n in head.metrics]
    parts = ["### Charts (first series: base, second: head)"]
    bounded = [n for n in names if n in UNIT_METRICS]  # the chart's axis runs from 0 to 1
    if bounded:
        parts.append(
            _mermaid(
                "Metrics",
                "[" + ", ".join(f'"{n}"' for n in bounded) + "]",
                '"score" 0 --> 1',
                [("bar", [base.metrics[n] for n in bounded]), ("bar", [head.metrics[n] for n in bounded])],
            )
        )
    curves = {
        "classification": ("roc.csv", "fpr", "tpr", "ROC curve", "true positive rate"),
        "regression": ("predicted_vs_actual.csv", "actual", "predicted", "Predicted vs actual", "predicted"),
    }
    file, x, y, title, y_label = curves[head.schema.task]
    tables = [side.root / paths.PLOTS_DIR / file for side in (base, head)]
    if all(path.is_file() for path in tables):
        base_table, head_table = (pd.read_csv(path) for path in tables)
        if head.schema.task == "classification":
            grid, x_axis = GRID, "[" + ", ".join(f'"{g:.1f}"' for g in GRID) + "]"
            y_range = f'"{y_label}" 0 --> 1'
            series = [roc_on_grid(t, grid) for t in (base_table, head_table)]
        else:  # mean prediction per decile of the actual value
            series, x_axis = _by_decile(base_table, head_table, x, y)
            y_range = f'"{y_label}"'
        parts.append(_mermaid(title, x_axis, y_range, [("line", list(s)) for s in series]))
    parts.append("PNG renderings of every plot are in the workflow run's artifacts (`reports/figures/`).")
    return "\n\n".join(parts)


def _by_decile(base: pd.DataFrame, head: pd.DataFrame, x: str, y: str) -> tuple[list[np.ndarray], str]:
    edges = np.quantile(pd.concat([base[x], head[x]]), np.linspace(0, 1, 11))
    centres = (edges[:-1] + edges[1:]) / 2
    series = []
    for table in (base, head):
        bins = np.clip(np.searchsorted(edges, table[x], side="right") - 1, 0, 9)
        means = table.groupby(bins)[y].mean().reindex(range(10))
        series.append(means.interpolate(limit_direction="both").to_numpy())
    return series, "[" + ", ".join(f'"{c:.0f}"' for c in centres) + "]"


def _model_section(base: Side, head: Side, latency: bool) -> str:
    sizes = [side.model_path.stat().st_size / 1024 for side in (base, head)]
    rows = ["| | base | head |", "| --- | ---: | ---: |", f"| file size | {sizes[0]:,.0f} KiB | {sizes[1]:,.0f} KiB |"]
    if latency:
        rows += _latency_rows(base, head)
    digest = head.metadata.model_sha256
    return (
        "### Model\n\n"
        + "\n".join(rows)
        + f"\n\nHead model SHA-256: `{digest}`; the merge must ship exactly this file."
        + f"\n\n<!-- head-model-sha256: {digest} -->"
    )


def _latency_rows(base: Side, head: Side, repeats: int = 50) -> list[str]:
    """Single-row predict time, in process, of the runtime each side serves with (what a request to the
    service waits for, less HTTP); where ONNX serves, scikit-learn's too, labelled: the two differ by
    orders of magnitude, and only the first is what production answers with."""
    sides = (base, head)
    served = [side.load_predictor() for side in sides]
    requests = [side.first_request() for side in sides]
    timings = predict_latency_ms([partial(p.predict, r) for p, r in zip(served, requests, strict=True)], repeats)
    cells = [f"{_ms(ms)} ({RUNTIME_NAMES[predictor.runtime]})" for ms, predictor in zip(timings, served, strict=True)]
    rows = [f"| single-row predict as served (median of {repeats}) | {cells[0]} | {cells[1]} |"]
    in_sklearn = [
        None
        if predictor.runtime == "sklearn"
        else runtime.SklearnPredictor(side.load_model(), predictor.features, predictor.task, predictor.classes.tolist())
        for side, predictor in zip(sides, served, strict=True)
    ]
    if any(in_sklearn):
        cells = ["served so (above)" if ms is None else _ms(ms) for ms in _single_row_ms(in_sklearn, requests, repeats)]
        rows.append(
            f"| single-row predict in scikit-learn, not served (median of {repeats}) | {cells[0]} | {cells[1]} |"
        )
    return rows


def _single_row_ms(
    predictors: Sequence[runtime.Predictor | None], requests: list[dict[str, list]], repeats: int
) -> list[float | None]:
    """The median time of each predictor on its side's request, all measured interleaved; None where there is none."""
    present = [(index, predictor) for index, predictor in enumerate(predictors) if predictor is not None]
    timings = predict_latency_ms([partial(predictor.predict, requests[i]) for i, predictor in present], repeats)
    measured = dict(zip((index for index, _ in present), timings, strict=True))
    return [measured.get(index) for index in range(len(predictors))]


def _ms(milliseconds: float) -> str:
    return f"{milliseconds:.3g} ms"


def write(base_dir: Path, head_dir: Path, output: Path, latency: bool = True) -> Verdict:
    """Build the report for two project folders and write it; return the verdict."""
    base, head = Side.load(base_dir), Side.load(head_dir)
    verdict = judge(base, head)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(build(base, head, verdict, latency), encoding="utf-8")
    return verdict
