"""Command ``monitor``: has production moved away from what the model learned, and has its quality held?

``monitor BATCH`` compares a table of recent production rows (CSV or Parquet with the
model's feature columns, and the target column where outcomes are known; or the service's
sampled log of scored rows, a ``.jsonl`` file or a folder of them, see :mod:`..serving.row_log`) with the data of
the model in this workspace (the Model health workflow checks out the released commit
first): its features with the training split (``data/processed/train.parquet``), its
predictions with the model's predictions on the held-out test split (on its own training
rows a model is surer than anywhere else). It reports:

- **drift of each feature and of the predictions.** A column has drifted when the shift is
  both large and unlikely to be chance: its effect size is above ``monitoring.drift`` and
  its two-sample test's p-value below ``monitoring.significance`` divided by the number of
  columns tested (Bonferroni). Effect size alone flags small batches by noise; a p-value
  alone flags trivial shifts in large ones. Numbers: Wasserstein distance in units of the
  training column's standard deviation, with Kolmogorov-Smirnov. Categories and booleans
  (an empty cell is a category): Jensen-Shannon distance (base 2), with chi-square. These
  are the measures Evidently uses on large samples; they are computed here with SciPy
  because Evidently 0.7 and NannyML 0.13 do not import with pandas 3.
- **the data contract** (``data-contract.yaml``): categories it does not know, above
  ``monitoring.new_categories`` of a column's cells; empty cells beyond the share it allows
  by ``monitoring.empty_margin`` (and significantly so); cells of the wrong type.
- **quality**, when the batch holds outcomes: each metric on the batch against the same
  metric at release, on the held-out test split the release was scored on (the metrics of
  ``models/metadata.json``). Both are estimates from a sample, so the change between them
  gets an interval from both samples' bootstrap spreads (``monitoring.confidence``, shared
  by the metrics: Bonferroni); the model has decayed when the whole interval lies beyond the
  metric's ``quality.tolerance`` in the worse direction. A small batch, or a release scored
  on a small test split, widens the interval instead of raising a false alarm; a huge batch
  does not flag a change smaller than the tolerance the pull-request gate already accepts.

The tests run on a seeded sample of at most ``monitoring.max_rows`` rows of each side; the
contract's counts cover every row. Writes ``summary.md`` (for a job summary or an issue),
``monitor.json`` and ``monitor.html`` (charts) to ``reports/monitor/``. Exit status 1 when
anything crossed a threshold, as ``gate`` does, so a workflow can branch on it.
"""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from ..core import contract as contracts
from ..core import paths
from ..core.errors import DataError, MissingOutputError
from ..core.metric_goals import METRIC_GOALS
from ..core.params import MonitoringParams, Params
from ..core.records import ModelRecord
from ..pipeline.data import model_input, read_table
from ..serving import row_log, runtime
from .resampled import ResampledMetrics

EMPTY = "(empty)"  # how an empty cell counts among a column's categories
MIN_OUTCOMES = 30  # fewer labelled rows than this say nothing about quality
QUALITY_ROWS = 20_000  # labelled rows behind the quality interval: tight enough, and seconds, not minutes
CHARTS = 6  # columns drawn in the HTML report: the drifted ones first, then the largest effects


@dataclass(frozen=True)
class Drift:
    """One column's shift between the training data and the batch."""

    column: str
    kind: str  # numeric | categorical
    measure: str  # wasserstein | jensen-shannon
    effect: float
    p_value: float
    drifted: bool
    reference_rows: int
    batch_rows: int


@dataclass(frozen=True)
class Outcomes:
    """True outcomes and the model's scores for the same rows (class probabilities, or predictions)."""

    truth: pd.Series
    scores: np.ndarray


@dataclass(frozen=True)
class MetricCheck:
    """A metric on the batch's outcomes against the same metric at release, and the interval of the change."""

    metric: str
    release: float  # on the held-out test split, as served
    batch: float
    low: float  # the interval of batch - release
    high: float
    tolerance: float  # quality.tolerance: a change this small is not decay
    goal: str  # higher | lower
    decayed: bool


@dataclass
class Result:
    batch: str
    rows: int
    sampled_rows: int
    reference_rows: int
    model_sha256: str | None
    features: list[Drift] = field(default_factory=list)
    predictions: list[Drift] = field(default_factory=list)
    quality: list[MetricCheck] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # every crossed threshold, one sentence each
    notes: list[str] = field(default_factory=list)  # what could not be judged, and why
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def alert(self) -> bool:
        return bool(self.findings)

    def as_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["alert"] = self.alert
        return record


def numeric_drift(reference: np.ndarray, batch: np.ndarray) -> tuple[float, float]:
    """(Wasserstein distance / the reference's standard deviation, Kolmogorov-Smirnov p-value); empty cells left out."""
    reference, batch = reference[~np.isnan(reference)], batch[~np.isnan(batch)]
    if len(reference) < 2 or len(batch) < 2:
        return 0.0, 1.0
    spread = float(reference.std()) or 1.0  # a constant column: distances in its own units
    effect = float(stats.wasserstein_distance(reference, batch)) / spread
    return effect, float(stats.ks_2samp(reference, batch, method="asymp").pvalue)


def categorical_drift(reference: pd.Series, batch: pd.Series) -> tuple[float, float]:
    """(Jensen-Shannon distance of the category shares, chi-square p-value); an empty cell is a category."""
    before = reference.astype(object).where(reference.notna(), EMPTY).astype(str).value_counts()
    after = batch.astype(object).where(batch.notna(), EMPTY).astype(str).value_counts()
    names = before.index.union(after.index)
    counts = np.vstack([before.reindex(names, fill_value=0), after.reindex(names, fill_value=0)]).astype(float)
    if counts[0].sum() == 0 or counts[1].sum() == 0 or len(names) < 2:
        return 0.0, 1.0
    effect = float(jensenshannon(counts[0] / counts[0].sum(), counts[1] / counts[1].sum(), base=2))
    return effect, float(stats.chi2_contingency(counts).pvalue)


def column_drift(
    name: str, kind: str, reference: pd.Series, batch: pd.Series, settings: MonitoringParams, tests: int
) -> Drift:
    """The drift of one column, judged against the thresholds (``tests``: how many columns share the p-value)."""
    if kind == "numeric":
        measure = "wasserstein"
        effect, p_value = numeric_drift(reference.to_numpy(dtype=np.float64), batch.to_numpy(dtype=np.float64))
    else:
        measure = "jensen-shannon"
        effect, p_value = categorical_drift(reference, batch)
    drifted = effect > settings.drift and p_value < settings.significance / max(tests, 1)
    return Drift(name, kind, measure, round(effect, 6), p_value, drifted, len(reference), len(batch))


def _kind(feature_type: str) -> str:
    return "numeric" if feature_type == "numeric" else "categorical"


def sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most ``rows`` rows, drawn with the project's seed (all of them when there are fewer)."""
    return frame if len(frame) <= rows else frame.sample(n=rows, random_state=seed)


def percent(share: float, decimals: int = 1) -> str:
    """A share as a percentage ("12.5%"); a helper, as a format spec ending in `%` would close a Jinja tag."""
    return f"{share * 100:.{decimals}f}%"


def contract_findings(
    batch: pd.DataFrame,
    prepared: pd.DataFrame,
    features: runtime.Features,
    contract: contracts.Contract,
    settings: MonitoringParams,
) -> list[str]:
    """What the whole batch breaks of the data contract: unknown categories, empty and mistyped cells."""
    findings = []
    rows = len(batch)
    tests = max(len(features.names), 1)
    for name in features.names:
        column = contract.columns.get(name)
        raw, cells = batch[name], prepared[name]
        present = raw.notna() & ~raw.astype(str).str.strip().eq("")
        empty = int((~present).sum())
        if features.types[name] == "numeric":
            wrong = int((cells.isna() & present).sum())
            if wrong:
                findings.append(f"`{name}`: {wrong} of {rows} cells are not numbers (the contract says numeric)")
        if column is None:
            continue
        allowed = float(column.empty)
        if empty / rows > allowed + settings.empty_margin:
            p_value = stats.binomtest(empty, rows, allowed, alternative="greater").pvalue if allowed < 1 else 1.0
            if p_value < settings.significance / tests:
                findings.append(
                    f"`{name}`: {percent(empty / rows)} of cells are empty; the contract allows {percent(allowed)} "
                    f"(monitoring.empty_margin {settings.empty_margin:g})"
                )
        if column.type == "categorical" and column.categories:
            known = set(column.categories)
            values = cells[cells.notna()].astype(str)
            unknown = values[~values.isin(known)]
            if len(values) and len(unknown) / len(values) > settings.new_categories:
                examples = ", ".join(repr(value) for value in unknown.value_counts().index[:5])
                findings.append(
                    f"`{name}`: {percent(len(unknown) / len(values))} of cells hold categories the contract does not "
                    f"know ({examples}; monitoring.new_categories {settings.new_categories:g})"
                )
    return findings


def prediction_columns(predictor: runtime.Predictor, scores: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
    """The model's answers as columns to compare: the predicted class and its probability, or the prediction."""
    if predictor.task == "classification":
        classes = np.array(predictor.classes, dtype=object)
        return {
            "predicted class": ("categorical", classes[scores.argmax(axis=1)]),
            "top-class probability": ("numeric", scores.max(axis=1)),
        }
    return {"prediction": ("numeric", np.asarray(scores, dtype=np.float64).reshape(-1))}


def _scorable(
    outcomes: Outcomes, classes: Collection[Any], task: str, seed: int, notes: list[str]
) -> tuple[pd.Series, np.ndarray]:
    """The labelled rows that can be scored (known classes, numbers), at most QUALITY_ROWS of them (seeded)."""
    truth = outcomes.truth.reset_index(drop=True)
    labelled = truth.notna().to_numpy().copy()  # pandas hands out read-only arrays (copy-on-write)
    if task == "classification":
        known = {str(label) for label in classes}
        text = truth.astype(object).where(truth.notna()).map(lambda value: None if value is None else str(value))
        strangers = sorted(set(text[labelled & ~text.isin(known).to_numpy()].dropna()))
        if strangers:
            notes.append(f"outcomes hold classes the model does not know, left out of the metrics: {strangers[:5]}")
        labelled &= text.isin(known).to_numpy()
        # Each class as its position in the model's classes: scikit-learn's metrics sort the labels of
        # every call, and sorting integers instead of text makes the bootstrap several times faster.
        truth = text.map({str(label): position for position, label in enumerate(classes)})
    else:
        truth = pd.to_numeric(truth, errors="coerce")
        labelled &= truth.notna().to_numpy()
    if labelled.sum() > QUALITY_ROWS:  # a seeded subset: the interval is then that of QUALITY_ROWS outcomes
        kept = np.random.default_rng(seed).choice(np.flatnonzero(labelled), QUALITY_ROWS, replace=False)
        labelled = np.isin(np.arange(len(labelled)), kept)
        notes.append(f"quality judged on {QUALITY_ROWS:,} labelled rows, drawn with the project's seed")
    kept = truth[labelled].reset_index(drop=True)
    return kept.astype(np.int64 if task == "classification" else np.float64), outcomes.scores[labelled]


def _metrics_and_spread(
    truth: pd.Series, scores: np.ndarray, classes: Collection[Any], task: str, rounds: int, seed: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Each metric on these outcomes, and its bootstrap standard deviation (ValueError: cannot be scored)."""
    from ..pipeline import evaluate  # scikit-learn's metrics: loaded only when the batch holds outcomes

    positions, values = np.arange(len(classes)), truth.to_numpy()  # classes as positions (see _scorable)
    # The observed metrics are scikit-learn's, with its checks; the resamples', the same metrics weighted.
    if task == "classification":
        observed = evaluate.classification_metrics(values, scores, positions)
    else:
        observed = evaluate.regression_metrics(values, scores)
    observed = {name: float(value) for name, value in observed.items()}
    metrics_of = ResampledMetrics(values, scores, task, len(classes))
    count = len(truth)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in observed}
    for _ in range(rounds):
        resampled = metrics_of(np.bincount(rng.integers(0, count, count), minlength=count))
        if resampled is None:  # a resample that lacks a class: skip it, the others still measure the spread
            continue
        for name, value in resampled.items():
            draws[name].append(value)
    spread = {name: float(np.std(values, ddof=1)) for name, values in draws.items() if len(values) >= rounds // 2}
    return observed, spread


def quality_checks(
    batch: Outcomes,
    release: Outcomes,
    classes: Collection[Any],
    task: str,
    settings: MonitoringParams,
    seed: int,
    tolerance: dict[str, float] | None = None,
) -> tuple[list[MetricCheck], list[str]]:
    """Each metric on the batch against the release's on the held-out split; notes for what cannot be judged.

    The change's interval is normal, from both sides' bootstrap spreads: the Bonferroni tails of
    a few metrics lie beyond what a few hundred resamples can place directly.
    """
    notes: list[str] = []
    y_batch, s_batch = _scorable(batch, classes, task, seed, notes)
    if len(y_batch) < MIN_OUTCOMES:
        notes.append(f"{len(y_batch)} labelled rows: too few to judge quality (at least {MIN_OUTCOMES})")
        return [], notes
    y_release, s_release = _scorable(release, classes, task, seed, [])
    try:
        observed, batch_spread = _metrics_and_spread(y_batch, s_batch, classes, task, settings.bootstrap, seed)
    except ValueError as exc:  # e.g. one class only: ROC AUC is undefined
        notes.append(f"the batch's outcomes cannot be scored: {exc}")
        return [], notes
    reference, release_spread = _metrics_and_spread(y_release, s_release, classes, task, settings.bootstrap, seed + 1)
    goals, tolerance = METRIC_GOALS, tolerance or {}
    names = [name for name in observed if name in goals and name in reference and name in batch_spread]
    names = [name for name in names if name in release_spread]
    if not names:
        return [], notes
    z = float(stats.norm.ppf(1 - (1 - settings.confidence) / 2 / len(names)))
    checks = []
    for name in names:
        change = observed[name] - reference[name]
        margin = z * math.hypot(batch_spread[name], release_spread[name])
        low, high, allowed = change - margin, change + margin, float(tolerance.get(name, 0.0))
        decayed = high < -allowed if goals[name] == "higher" else low > allowed
        checks.append(
            MetricCheck(
                name,
                round(reference[name], 6),
                round(observed[name], 6),
                round(low, 6),
                round(high, 6),
                allowed,
                goals[name],
                bool(decayed),
            )
        )
    return checks, notes


def run(
    batch_path: Path,
    params: Params,
    reference_path: Path = paths.PROCESSED_DIR / paths.TRAIN_FILE,
    held_out_path: Path = paths.PROCESSED_DIR / paths.TEST_FILE,
    contract_path: Path = paths.CONTRACT_PATH,
    metadata_path: Path = paths.METADATA_PATH,
    output_dir: Path = paths.MONITOR_DIR,
    predictor: runtime.Predictor | None = None,
) -> Result:
    """Compare the batch with the training data, write the three reports, return the result."""
    settings = params.monitoring
    for path in (reference_path, held_out_path):
        if not path.is_file():
            raise MissingOutputError(f"{path} not found; run `dvc pull` (or `dvc repro`) first")
    predictor = predictor or runtime.load(metadata_path=metadata_path)
    features = predictor.features
    contract = contracts.load(contract_path)
    if row_log.is_log(batch_path):  # the service's sampled log of scored rows: their inputs
        batch = row_log.read(batch_path)
    else:
        batch = read_table(batch_path, [name for name in contracts.text_columns(contract) if name in features.names])
    missing = [name for name in features.names if name not in batch.columns]
    if missing:
        raise DataError(f"{batch_path}: missing feature columns {missing}; the model needs {features.names}")
    prepared = model_input(batch, features.types)
    result = Result(
        batch=str(batch_path),
        rows=len(batch),
        sampled_rows=0,
        reference_rows=0,
        model_sha256=ModelRecord.read(metadata_path).model_sha256,
        settings=settings.model_dump(),
    )
    result.findings.extend(contract_findings(batch, prepared, features, contract, settings))

    reference = model_input(sample(pd.read_parquet(reference_path), settings.max_rows, params.seed), features.types)
    chosen = sample(prepared, settings.max_rows, params.seed)
    result.sampled_rows, result.reference_rows = len(chosen), len(reference)
    # The predictions' reference is the held-out split: on its own training rows a model is more sure than anywhere.
    held_out_rows = sample(pd.read_parquet(held_out_path), settings.max_rows, params.seed)
    held_out = model_input(held_out_rows, features.types)
    reference_scores, batch_scores = predictor.predict_frame(held_out), predictor.predict_frame(chosen)
    answers_before = prediction_columns(predictor, reference_scores)
    answers_after = prediction_columns(predictor, batch_scores)
    tests = len(features.names) + len(answers_before)
    for name in features.names:
        kind = _kind(features.types[name])
        result.features.append(column_drift(name, kind, reference[name], chosen[name], settings, tests))
    for name, (kind, before) in answers_before.items():
        after = answers_after[name][1]
        result.predictions.append(column_drift(name, kind, pd.Series(before), pd.Series(after), settings, tests))
    for drift in [*result.features, *result.predictions]:
        if drift.drifted:
            result.findings.append(
                f"`{drift.column}` drifted: {drift.measure} {drift.effect:.3f} > monitoring.drift {settings.drift:g} "
                f"(p = {drift.p_value:.2g})"
            )

    target = params.data.target
    if target in batch.columns:
        result.quality, notes = quality_checks(
            Outcomes(batch.loc[chosen.index, target], batch_scores),
            Outcomes(held_out_rows[target], reference_scores),
            predictor.classes,
            predictor.task,
            settings,
            params.seed,
            params.quality.tolerance,
        )
        result.notes.extend(notes)
        for check in result.quality:
            if check.decayed:
                result.findings.append(
                    f"{check.metric} fell: {check.batch:.4f} on the batch against {check.release:.4f} at release "
                    f"(change {check.low:+.4f} to {check.high:+.4f} at {percent(settings.confidence, 0)}, beyond "
                    f"the tolerance of {check.tolerance:g})"
                )
    else:
        result.notes.append(f"no `{target}` column: quality not judged (only inputs and predictions)")
    write(result, output_dir, reference, chosen, answers_before, answers_after)
    return result


# --- the three reports ------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (column names come from the user's data)."""
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(result: Result) -> str:
    verdict = "**Attention needed**" if result.alert else "**Nothing crossed a threshold**"
    lines = [
        "## Model health",
        "",
        f"{verdict}: {result.rows:,} rows of `{_cell(result.batch)}` against {result.reference_rows:,} training "
        f"rows (tests on {result.sampled_rows:,} sampled rows); model `{(result.model_sha256 or '?')[:12]}`.",
        "",
    ]
    if result.findings:
        lines += ["### Findings", "", *[f"- {_cell(finding)}" for finding in result.findings], ""]
    if result.notes:
        lines += ["### Notes", "", *[f"- {_cell(note)}" for note in result.notes], ""]
    if result.quality:
        lines += [
            "### Quality",
            "",
            "| metric | at release | batch | change (interval) | tolerance | |",
            "|---|---|---|---|---|---|",
        ]
        for check in result.quality:
            mark = "decayed" if check.decayed else "ok"
            lines.append(
                f"| {check.metric} | {check.release:.4f} | {check.batch:.4f} | {check.low:+.4f} to {check.high:+.4f} "
                f"| {check.tolerance:g} | {mark} |"
            )
        lines.append("")
    drifts = sorted([*result.predictions, *result.features], key=lambda drift: -drift.effect)
    lines += ["### Drift (largest first)", "", "| column | measure | effect | p-value | |", "|---|---|---|---|---|"]
    for drift in drifts[:15]:
        mark = "drifted" if drift.drifted else ""
        lines.append(f"| {_cell(drift.column)} | {drift.measure} | {drift.effect:.3f} | {drift.p_value:.2g} | {mark} |")
    if len(drifts) > 15:
        lines.append(f"\n{len(drifts) - 15} more columns in monitor.json.")
    return "\n".join(lines) + "\n"


def _chart(name: str, kind: str, before: pd.Series, after: pd.Series) -> str:
    """A training-vs-batch chart of one column, as inline SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 3.0))
    if kind == "numeric":
        values = np.concatenate([before.dropna().to_numpy(float), after.dropna().to_numpy(float)])
        bins = np.histogram_bin_edges(values, bins=30).tolist() if len(values) else 10
        axes.hist(before.dropna(), bins=bins, density=True, alpha=0.55, label="training")
        axes.hist(after.dropna(), bins=bins, density=True, alpha=0.55, label="batch")
    else:
        shares = pd.DataFrame(
            {
                "training": before.astype(object).where(before.notna(), EMPTY).astype(str).value_counts(normalize=True),
                "batch": after.astype(object).where(after.notna(), EMPTY).astype(str).value_counts(normalize=True),
            }
        ).fillna(0.0)
        shares = shares.loc[shares.max(axis=1).sort_values(ascending=False).index[:12]]
        shares.plot.bar(ax=axes, rot=30)
    axes.set_title(name)
    axes.legend(loc="upper right")  # "best" searches the data and warns (an error in the tests) when slow
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def html_page(result: Result, charts: list[str]) -> str:
    escape = html.escape
    items = "".join(f"<li>{escape(finding)}</li>" for finding in result.findings) or "<li>none</li>"
    notes = "".join(f"<li>{escape(note)}</li>" for note in result.notes)
    rows = "".join(
        f"<tr><td>{escape(d.column)}</td><td>{d.measure}</td><td>{d.effect:.3f}</td><td>{d.p_value:.2g}</td>"
        f"<td>{'drifted' if d.drifted else ''}</td></tr>"
        for d in sorted([*result.predictions, *result.features], key=lambda drift: -drift.effect)
    )
    quality = "".join(
        f"<tr><td>{c.metric}</td><td>{c.release:.4f}</td><td>{c.batch:.4f}</td><td>{c.low:+.4f} to {c.high:+.4f}</td>"
        f"<td>{c.tolerance:g}</td><td>{'decayed' if c.decayed else 'ok'}</td></tr>"
        for c in result.quality
    )
    verdict = "Attention needed" if result.alert else "Nothing crossed a threshold"
    style = (
        "body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
        ".charts{display:flex;flex-wrap:wrap;gap:1rem}"
    )
    quality_table = (
        "<h2>Quality</h2><table><tr><th>metric</th><th>at release</th><th>batch</th><th>change (interval)</th>"
        "<th>tolerance</th><th></th></tr>"
        f"{quality}</table>"
        if quality
        else ""
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Model health</title><style>{style}</style></head>"
        f"<body><h1>Model health: {verdict}</h1>"
        f"<p>{result.rows:,} rows of {escape(result.batch)} against {result.reference_rows:,} training rows "
        f"(tests on {result.sampled_rows:,} sampled rows).</p>"
        f"<h2>Findings</h2><ul>{items}</ul>{f'<h2>Notes</h2><ul>{notes}</ul>' if notes else ''}{quality_table}"
        f"<h2>Training and batch</h2><div class='charts'>{''.join(charts)}</div>"
        "<h2>Drift</h2><table><tr><th>column</th><th>measure</th><th>effect</th><th>p-value</th><th></th></tr>"
        f"{rows}</table></body></html>\n"
    )


def write(
    result: Result,
    output_dir: Path,
    reference: pd.DataFrame,
    batch: pd.DataFrame,
    answers_before: dict[str, tuple[str, np.ndarray]],
    answers_after: dict[str, tuple[str, np.ndarray]],
) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "summary.md").write_text(markdown(result), encoding="utf-8")
    (output_dir / "monitor.json").write_text(
        json.dumps(result.as_json(), indent=2, default=_plain) + "\n", encoding="utf-8"
    )
    ranked = sorted([*result.predictions, *result.features], key=lambda drift: (not drift.drifted, -drift.effect))
    charts = []
    for drift in ranked[:CHARTS]:
        if drift.column in answers_before:
            before, after = pd.Series(answers_before[drift.column][1]), pd.Series(answers_after[drift.column][1])
        else:
            before, after = reference[drift.column], batch[drift.column]
        charts.append(_chart(drift.column, drift.kind, before, after))
    (output_dir / "monitor.html").write_text(html_page(result, charts), encoding="utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)
