"""Command ``adopt``: make a table of yours the project's data, in one command.

``adopt PATH --target COLUMN`` takes a CSV or Parquet file (or ``sklearn:NAME``, one of the
sample tables) and sets the project up for it:

- the file goes to ``data/raw/``, unchanged, and is tracked with ``dvc add``;
- ``data-contract.yaml`` describes every column (:func:`.contract.infer`);
- ``params.yaml``'s data section points at the table; ``data.exclude`` lists the columns not
  to learn from, each with its reason (row numbers and identifiers, constant columns, copies
  or one-to-one codes of the target, dates and free text); the split suits the target;
- the quality bounds come from a baseline measured here: a dummy model and the project's
  model on the data stage's own split (at most ``BASELINE_ROWS`` rows). A floor sits twice
  the metric's spread (over bootstrap resamples of the test rows) below the model's score,
  never below the dummy's; a ceiling on an error likewise above; a tolerance is half the spread;
- the sample dataset's direction check and model-card text are cleared.

Everything is read, checked and measured before anything is written, so bad input leaves
the project as it was. ``params.yaml`` keeps its comments and the user's other values
(ruamel.yaml round trip). Running the command again on the same table changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..core import contract as contracts
from ..core import paths
from ..core.errors import ConfigError, DataError, rows
from ..core.metric_goals import BOUNDED, METRIC_GOALS, UNIT_METRICS
from ..core.params import DataParams, Params, load_params, round_trip_yaml
from . import data

PACKAGE = "{{ cookiecutter.package_name }}"
SAMPLE_PREFIX = "sklearn:"
SAMPLE_TASKS = data.SKLEARN_DATASETS  # sample table -> the task it serves
BASELINE_ROWS = 20_000  # rows the baseline trains and tests on at most: a large table adopts in seconds
BOOTSTRAP_ROUNDS = 50  # enough for the first digit of a margin; each round scores every metric
MAX_CLASSES = 100  # more distinct target values than this is not a classification
# The metrics the quality gate bounds, per task (the others are reported, not bounded).

ROW_INDEX_NAME = re.compile(r"unnamed: \d+|index|rownames|row\.names|\.\.\.1", re.IGNORECASE)
FIRST_PAIRS = 10_000  # rows that rule out a copy or a one-to-one code of the target before the whole column
ID_NAME = re.compile(r"(?i:(^|[\s_.-])(id|uuid|guid|key)$|^(id|uuid|guid|key)([\s_.-]|$))|[a-z](Id|ID)$")

DATA_COMMENT_COLUMN = 34  # where params.yaml's data section aligns its comments
QUALITY_COMMENT_COLUMN = 24
DIRECTION_COMMENT = "null: no check yet; set feature: COLUMN, expect: increase | decrease (3+ classes: label: CLASS)"

Say = Callable[[str], None]


# --- reading the table -------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """The table to adopt, as read: every cell of a CSV as text, so codes like ``007`` keep their zeros."""

    frame: pd.DataFrame
    label: str  # how messages name it: the path as given, or sklearn:NAME
    path: Path | None = None  # the file; None for a sample table
    dataset: str | None = None  # the sample table's name


def read(source: str, target: str | None, task: str) -> Table:
    """Read PATH or sklearn:NAME; DataError names the problem and the fix."""
    if source.startswith(SAMPLE_PREFIX):
        name = source[len(SAMPLE_PREFIX) :]
        if name not in SAMPLE_TASKS:
            raise DataError(
                f"{source}: no such sample table; choose one of {[SAMPLE_PREFIX + n for n in SAMPLE_TASKS]}"
            )
        if SAMPLE_TASKS[name] != task:
            fits = [SAMPLE_PREFIX + n for n, kind in SAMPLE_TASKS.items() if kind == task]
            raise DataError(
                f"{source} is a {SAMPLE_TASKS[name]} table and this project does {task}; choose one of {fits}"
            )
        frame = data.sklearn_frame(name, "target")
        if target and target != "target":
            if target in frame.columns:
                raise DataError(
                    f"{source}: --target names the sample's target column, and {target!r} is one of its features; "
                    "leave --target out, or give a name that is not a column"
                )
            frame = frame.rename(columns={"target": target})
        return Table(frame, source, dataset=name)
    path = Path(source).expanduser()
    if not path.is_file():
        where = "is a folder; give a file" if path.is_dir() else "file not found; check the path"
        raise DataError(f"{source}: {where} (a CSV or Parquet file, or sklearn:NAME for a sample table)")
    header: list[str] = []
    unreadable = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError)
    if path.suffix.lower() not in data.PARQUET_SUFFIXES:
        with contextlib.suppress(*unreadable):  # read_table reports it, naming the file
            header = [str(name) for name in pd.read_csv(path, nrows=0, **data.csv_dialect(path)).columns]
    frame = data.read_table(path, header)  # header: every column as text
    if header and data.csv_dialect(path)["decimal"] == ",":
        frame = frame.apply(_decimal_points)  # the data stage reads these columns as numbers: so must the contract
    return Table(frame, source, path=path)


def _decimal_points(column: pd.Series) -> pd.Series:
    """A text column of numbers written with decimal commas (``1,5``), with points instead; others as they are."""
    present = column.dropna()
    if len(present) and present.str.fullmatch(r"\s*-?\d+(,\d+)?\s*").all():
        return column.str.replace(",", ".", regex=False)
    return column


def check_target(frame: pd.DataFrame, target: str | None, task: str, label: str) -> str:
    """Refuse a target the project's task cannot learn, naming the value and the fix; return the target."""
    columns = [str(name) for name in frame.columns]
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        raise DataError(f"{label}: duplicate column names {duplicated}; rename them")
    if not target:
        raise DataError(f"--target COLUMN is missing: the column to predict; columns are {columns}")
    if target not in columns:
        raise DataError(f"{label}: target column {target!r} not found; columns are {columns}")
    text = contracts.as_text(frame[target])
    present = text.dropna()
    if present.empty:
        raise DataError(f"{label}: target column {target!r} is empty in every row; choose another --target")
    numbers = pd.to_numeric(present, errors="coerce")
    if task == "regression":
        words = present[numbers.isna()]
        if len(words):
            raise DataError(
                f"{label}: target column {target!r} holds text in {rows(len(words))} {_examples(words)}, "
                "and this project does regression: fix or empty those cells, choose a numeric column, "
                "or bake a classification project for this target"
            )
        if set(numbers.unique()) <= {0, 1}:
            raise DataError(
                f"{label}: target column {target!r} holds only 0 and 1, which is a classification; "
                "bake a classification project for it, or choose another --target"
            )
        return target
    classes = present.value_counts()
    if len(classes) < 2:
        raise DataError(
            f"{label}: target column {target!r} has a single class {classes.index[0]!r}; a model needs two or more"
        )
    fractional = present[numbers.notna() & (numbers % 1 != 0)]
    if len(fractional) or len(classes) > MAX_CLASSES:
        why = (
            f"holds fractional numbers {_examples(fractional)}"
            if len(fractional)
            else f"has {len(classes)} distinct values"
        )
        raise DataError(
            f"{label}: target column {target!r} {why}, and this project does classification (at most {MAX_CLASSES} "
            "classes): bake a regression project for this target, or choose another --target"
        )
    lonely = classes[classes < 2]
    if len(lonely):
        raise DataError(
            f"{label}: classes {lonely.index.tolist()} of {target!r} have one row each; a split needs two per class: "
            "merge them into other classes or drop those rows"
        )
    return target


def _examples(values: pd.Series, most: int = 3) -> str:
    unique = list(dict.fromkeys(values.tolist()))
    return "[" + ", ".join(repr(value) for value in unique[:most]) + (", ...]" if len(unique) > most else "]")


# --- columns not to learn from -----------------------------------------------------------------


def left_out(
    frame: pd.DataFrame, contract: contracts.Contract, target: str, task: str, skip: set[str]
) -> dict[str, str]:
    """The columns a model should not learn from, each with its reason, in the table's order."""
    cells = {name: _cells(frame[name], contract[name].type) for name in frame.columns if name not in skip}
    reasons = {
        name: "row number: an index written out with the table"
        for name in cells
        if name != target and _row_index(name, cells[name])
    }
    reasons |= {
        name: "identifier: whole numbers that count the rows"
        for name in cells
        if name != target and name not in reasons and _counts_rows(cells[name])
    }
    # Judged on distinct rows: a row copied twice must not hide an identifier (a row number would hide the copy).
    distinct = ~pd.Series(data.row_keys(pd.DataFrame({n: cells[n] for n in cells if n not in reasons}))).duplicated()
    distinct = distinct.to_numpy()
    goal = cells[target][distinct]
    present = goal.notna().to_numpy()
    numbers = pd.to_numeric(goal, errors="coerce")
    goal_of = _Target(goal, numbers if numbers.notna().sum() == present.sum() else None, present)
    for name in cells:
        if name == target or name in reasons:
            continue
        reason = _reason(name, cells[name][distinct], contract[name].type, goal_of, task)
        if reason:
            reasons[name] = reason
    return {name: reasons[name] for name in frame.columns if name in reasons}


class _Target(NamedTuple):
    """The target on the rows the checks judge: as text, as numbers when every value is one, and where it
    holds a value (the same rows either way; found once, not once per column)."""

    text: pd.Series
    numbers: pd.Series | None
    present: np.ndarray


def _cells(values: pd.Series, kind: str) -> pd.Series:
    """A numeric column as numbers, any other as text (empty cells NaN): what the checks below compare."""
    if kind == "numeric":
        return contracts.as_numbers(values)
    return contracts.as_text(values)


def _whole_numbers(cells: pd.Series) -> pd.Series | None:
    if not pd.api.types.is_float_dtype(cells) or cells.isna().any() or (cells % 1 != 0).any():
        return None
    return cells


def _row_index(name: str, cells: pd.Series) -> bool:
    """Whole numbers under a name that tools give a written-out index; nearly unique, since a
    duplicated row keeps its copy of the index."""
    numbers = _whole_numbers(cells) if ROW_INDEX_NAME.fullmatch(name) else None
    return numbers is not None and numbers.nunique() >= 0.9 * len(numbers)


def _counts_rows(cells: pd.Series) -> bool:
    """Whole numbers, one per row, packed in a range about as wide as the table: 1, 2, 3 ... or 1001, 1002, 1005 ...

    (A measure that happens to be unique, such as a price in a table sorted by it, spreads far wider.)
    """
    numbers = _whole_numbers(cells)
    if numbers is None or len(numbers) < 3 or numbers.max() - numbers.min() >= 2 * len(numbers):
        return False
    return bool(numbers.is_unique)


def _reason(name: str, cells: pd.Series, kind: str, target: _Target, task: str) -> str | None:
    present = cells.dropna()
    if present.empty:
        return "constant: empty in every row"
    if len(present) == len(cells) and (present == present.iloc[0]).all():
        return f"constant: {_show(_number(present.iloc[0]) if kind == 'numeric' else present.iloc[0])!r} in every row"
    leak = _leak(cells, target, task)
    if leak:
        return leak
    if kind == "datetime":
        return "date or time: not a feature; use it as data.split_column with data.split: time"
    if _identifier(name, present, len(cells), kind):
        return "identifier: a different value in every row"
    if kind == "text":
        return f"free text ({present.nunique()} distinct values): not a feature"
    return None


def _identifier(name: str, present: pd.Series, rows: int, kind: str) -> bool:
    """A different value in every row: text that is not sentences, or whole numbers under an identifier's name.

    The cheap tests first: whether a million numbers are all different takes a hash table of them,
    and a numeric column needs that only under a name like ``customer_id``.
    """
    if len(present) != rows:
        return False
    if kind == "numeric" and not (ID_NAME.search(name) and _whole_numbers(present) is not None):
        return False
    words = kind == "text" and present.str.contains(r"\s").mean() > 0.5  # sentences, not codes
    return not words and present.is_unique


def _leak(cells: pd.Series, target: _Target, task: str) -> str | None:
    """The target in disguise: a copy of it, a one-to-one code of it, or (regression) a column in step with it.

    Each test is first made on the first rows, which rule out nearly every column: comparing a whole
    column of text takes a Python call per cell, and counting its distinct values a hash table of them.
    A copy is equal in any of its rows, and a one-to-one code has as many distinct values as the target.
    """
    numeric = pd.api.types.is_float_dtype(cells) and target.numbers is not None
    goal = target.numbers if numeric and target.numbers is not None else target.text
    both = cells.notna().to_numpy() & target.present  # the rows where both hold a value
    pairs = pd.DataFrame({"column": cells[both], "target": goal[both]}, copy=False)
    if len(pairs) < 2 or not (pairs["column"] != pairs["column"].iloc[0]).any():
        return None  # fewer than two values: nothing to leak
    first = pairs.iloc[:FIRST_PAIRS]
    # Numbers never equal text: comparing them cell by cell would take a Python call per row.
    comparable = numeric or not pd.api.types.is_float_dtype(cells)
    if comparable and (first["column"] == first["target"]).all() and (pairs["column"] == pairs["target"]).all():
        return "leak: equal to the target"
    first_distinct = first["column"].nunique()
    if first_distinct == first["target"].nunique():
        distinct = pairs["column"].nunique()
        if distinct < len(pairs) and distinct == pairs["target"].nunique():  # the cheap test first
            per_value = pairs.groupby("column")["target"].nunique().max()
            per_target = pairs.groupby("target")["column"].nunique().max()
            if per_value == 1 and per_target == 1:
                each = "class" if task == "classification" else "target value"
                return f"leak: a one-to-one code of the target (each value goes with one {each})"
    in_step = task == "regression" and numeric and len(pairs) >= 10
    if in_step and (first_distinct > 2 or pairs["column"].nunique() > 2):
        correlation = pairs["column"].rank().corr(pairs["target"].rank())
        if abs(correlation) > 0.9999:
            return "leak: moves in step with the target in every row (rank correlation 1)"
    return None


# --- the split -----------------------------------------------------------------------------------


def choose_split(current: DataParams, frame: pd.DataFrame, target: str, task: str) -> tuple[str, str | None]:
    """Keep the user's group or time split while its column exists; else stratified for classes, random otherwise."""
    if current.split in ("group", "time") and current.split_column in frame.columns and current.split_column != target:
        return current.split, current.split_column
    if task == "classification":
        classes = contracts.as_text(frame[target]).value_counts()
        if classes.min() >= 2 and len(frame) * current.test_size >= len(classes):
            return "stratified", None
    return "random", None


# --- the baseline --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    dummy: float
    model: float
    spread: float  # standard deviation of the model's score over bootstrap resamples of the test rows


@dataclass(frozen=True)
class Baseline:
    rows: int  # after dropping rows without a target, and duplicates as data.duplicates says
    train_rows: int
    test_rows: int
    sampled_from: int | None  # the table's rows, when it had more than BASELINE_ROWS and a sample was measured
    scores: dict[str, Score]


def measure(typed: pd.DataFrame, features: list[str], contract: contracts.Contract, params: Params) -> Baseline:
    """A dummy model and the project's model on the split the data stage will make, scored as ``evaluate`` scores."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    from . import evaluate, train

    target, task = params.data.target, params.task
    # A small table is prepared exactly as the data stage will: same rows, same split, same scores.
    sampled = len(typed) > BASELINE_ROWS
    frame = (typed.sample(BASELINE_ROWS, random_state=params.seed).sort_index() if sampled else typed).copy()
    if task == "classification":
        frame[target] = data.labels_of(frame[target])
    frame = frame[frame[target].notna()]
    frame[target] = frame[target].infer_objects()  # whole-number labels as integers, as the split's Parquet holds them
    frame, _ = data.deduplicate(frame, [*features, target], params.data.duplicates)
    train_frame, test_frame = data.split(frame, features, params)
    feature_types: dict[str, str] = {name: contract[name].type for name in features}
    schema = data.Schema(
        task=task,
        target=target,
        features=features,
        feature_types=feature_types,
        categories={name: list(contract[name].categories) for name in features if feature_types[name] == "categorical"},
        labels=sorted(frame[target].unique().tolist(), key=str) if task == "classification" else [],
        data_source="adopt",
        data_hash="",
        rows=len(frame),
        train_rows=len(train_frame),
        test_rows=len(test_frame),
        split=params.data.split,
        split_column=params.data.split_column,
    )
    x_train, x_test = data.model_input(train_frame, schema), data.model_input(test_frame, schema)
    y_train, y_test = train_frame[target], test_frame[target].reset_index(drop=True)
    model = train.build_pipeline(params, schema, x_train)
    dummy = DummyClassifier(strategy="prior") if task == "classification" else DummyRegressor(strategy="mean")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a baseline's warnings (a rare class, a constant feature) are not the user's
        train.fit(model, x_train, y_train)
        dummy.fit(x_train, y_train)
        if task == "classification":
            outputs = model.predict_proba(x_test), dummy.predict_proba(x_test)
            classes = model.classes_

            def metrics(output: np.ndarray, index: np.ndarray) -> dict[str, float]:
                return evaluate.classification_metrics(y_test.iloc[index], output[index], classes)
        else:
            outputs = model.predict(x_test), dummy.predict(x_test)

            def metrics(output: np.ndarray, index: np.ndarray) -> dict[str, float]:
                return evaluate.regression_metrics(y_test.iloc[index], output[index])

        everything = np.arange(len(y_test))
        try:
            model_scores, dummy_scores = metrics(outputs[0], everything), metrics(outputs[1], everything)
        except ValueError as exc:
            raise DataError(
                f"the test split ({rows(len(y_test))}) cannot be scored: {exc}; add rows or raise data.test_size"
            ) from None
        spread = _bootstrap_spread(lambda index: metrics(outputs[0], index), len(y_test), params.seed)
    return Baseline(
        rows=len(frame),
        train_rows=len(train_frame),
        test_rows=len(test_frame),
        sampled_from=len(typed) if sampled else None,
        scores={
            name: Score(float(dummy_scores[name]), float(model_scores[name]), spread.get(name, 0.0))
            for name in BOUNDED[task]
        },
    )


def _bootstrap_spread(metrics: Callable[[np.ndarray], dict[str, float]], size: int, seed: int) -> dict[str, float]:
    """Standard deviation of each metric over resamples of the test rows: how far the score moves by chance."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(BOOTSTRAP_ROUNDS):
        try:
            samples.append(metrics(rng.integers(0, size, size)))
        except ValueError:  # a resample without some class has no ROC AUC
            continue
    if len(samples) < 2:
        return {}
    return {name: float(np.std([sample[name] for sample in samples], ddof=1)) for name in samples[0]}


# --- the bounds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quality:
    minimum: dict[str, float] = field(default_factory=dict)
    maximum: dict[str, float] = field(default_factory=dict)
    tolerance: dict[str, float] = field(default_factory=dict)
    below_dummy: list[str] = field(default_factory=list)  # metrics on which the model does not beat the dummy


def propose(baseline: Baseline) -> Quality:
    """Floors below the model's score and ceilings above its errors, by twice the spread, never past the dummy's."""
    quality = Quality()
    for name, score in baseline.scores.items():
        higher = METRIC_GOALS[name] == "higher"
        scale = 1.0 if name in UNIT_METRICS else (abs(score.model) or abs(score.dummy) or 1.0)
        margin = max(2 * score.spread, 0.01 * scale)
        if higher:
            raw = max(score.model - margin, score.dummy)
            quality.minimum[name] = _rounded(
                raw, margin, low=score.dummy, high=max(score.model, score.dummy), down=True
            )
        else:
            raw = min(score.model + margin, score.dummy)
            quality.maximum[name] = _rounded(
                raw, margin, low=min(score.model, score.dummy), high=score.dummy, down=False
            )
        if (score.model <= score.dummy) if higher else (score.model >= score.dummy):
            quality.below_dummy.append(name)
        quality.tolerance[name] = _nice_up(max(score.spread / 2, 0.005 * scale))
    return quality


def _rounded(value: float, margin: float, low: float, high: float, down: bool) -> float | int:
    """A round number near ``value`` within [low, high] (between the dummy's score and the model's).

    Rounded outwards (down for a floor, up for a ceiling) to a step of at most half the margin;
    when that leaves the interval, the other way, then to finer steps.
    """
    quantum = 10.0 ** math.floor(math.log10(margin / 2))
    for _ in range(3):
        for direction in (down, not down):
            steps = math.floor(value / quantum + 1e-9) if direction else math.ceil(value / quantum - 1e-9)
            candidate = round(steps * quantum, max(0, -math.floor(math.log10(quantum))))
            if low - 1e-12 <= candidate <= high + 1e-12:
                return _number(candidate)
        quantum /= 10
    # The model does not beat the dummy: the dummy's score, to four decimals on the dummy's side.
    return _number((math.ceil if down else math.floor)(value * 1e4 - (1e-9 if down else -1e-9)) / 1e4)


def _number(value: float) -> float | int:
    """47000 rather than 47000.0 in params.yaml and messages; fractions as they are."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)


def _nice_up(value: float) -> float | int:
    """Round up to one significant digit: 0.0095 -> 0.01, 1.6 -> 2."""
    quantum = 10.0 ** math.floor(math.log10(value))
    return _number(round(math.ceil(value / quantum - 1e-9) * quantum, max(0, -math.floor(math.log10(quantum)))))


# --- params.yaml, keeping its comments ---------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What adopt sets in params.yaml."""

    data: dict[str, Any]  # key -> value under data:
    exclude: dict[str, str]  # column -> reason
    quality: Quality


def update_params(text: str, settings: Settings) -> tuple[str, list[str]]:
    """The new params.yaml text, and one line per changed value ("data.source: sklearn -> file")."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml = round_trip_yaml()
    document = yaml.load(text)
    before = _plain(document)
    data_section = _section(document, "data", CommentedMap)
    for key, value in settings.data.items():
        data_section[key] = value
    exclude = CommentedSeq(list(settings.exclude))
    if settings.exclude:
        for index, reason in enumerate(settings.exclude.values()):
            exclude.yaml_add_eol_comment(reason, index, column=DATA_COMMENT_COLUMN)
    else:
        exclude.fa.set_flow_style()
    data_section["exclude"] = exclude
    quality = _section(document, "quality", CommentedMap)
    for key in ("minimum", "maximum", "tolerance"):
        bounds = getattr(settings.quality, key)
        mapping = _section(quality, key, CommentedMap)
        mapping.clear()  # in place: the comment beside the key stays
        mapping.update(bounds)
        if bounds:
            mapping.fa.set_block_style()
        else:
            mapping.fa.set_flow_style()
    quality["direction"] = None
    quality.yaml_add_eol_comment(DIRECTION_COMMENT, "direction", column=QUALITY_COMMENT_COLUMN)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue(), _differences(before, _plain(document))


def _exclude_comments(text: str) -> dict[str, str]:
    """The comment beside each entry of data.exclude in params.yaml: the reason it is left out."""
    document = round_trip_yaml().load(text)
    entries = (document.get("data") or {}).get("exclude") if isinstance(document, dict) else None
    if entries is None or not hasattr(entries, "ca"):
        return {}
    reasons = {}
    for index, name in enumerate(entries):
        token = (entries.ca.items.get(index) or [None])[0]
        if token is not None:
            reasons[str(name)] = token.value.strip().lstrip("#").strip().splitlines()[0]
    return reasons


def _section(parent: Any, key: str, kind: type) -> Any:
    if not isinstance(parent.get(key), dict):
        parent[key] = kind()
    return parent[key]


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    return node


def _differences(before: Any, after: Any, where: str = "") -> list[str]:
    """Changed leaves as "key: old -> new"; a mapping is followed key by key, a list shown whole."""
    if isinstance(before, dict) and isinstance(after, dict) and (before or after):
        lines = []
        for key in dict.fromkeys([*before, *after]):
            path = f"{where}.{key}" if where else key
            lines += _differences(before.get(key, _ABSENT), after.get(key, _ABSENT), path)
        return lines
    if before == after:
        return []
    return [f"{where}: {_show(before)} -> {_show(after)}"]


_ABSENT = object()


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(none)"
    if value is None:
        return "null"
    if isinstance(value, list | dict):
        return repr(value) if value else ("[]" if isinstance(value, list) else "{}")
    return str(value)


# --- MODEL_CARD.md -------------------------------------------------------------------------------

# The owners' sections of the sample projects' MODEL_CARD.md, as the template ships them. adopt
# replaces a section only while it reads exactly like this (or like adopt's own prompt).
SAMPLE_NOTES = {
    "Intended use": (
        "Demonstrates the repository's workflow on the Wisconsin diagnostic breast cancer dataset that ships with "
        "scikit-learn: 569 fine-needle aspirates described by 30 measurements of cell nuclei, labelled malignant (0) "
        "or benign (1). Replace this text when you bring your own data.",
        "Demonstrates the repository's workflow on the diabetes dataset that ships with scikit-learn: 442 patients, "
        "ten baseline variables (age, sex, body mass index, blood pressure and six blood serum measurements, each "
        "mean-centred and scaled), and a quantitative measure of disease progression one year later. Replace this "
        "text when you bring your own data.",
    ),
    "Out of scope": (
        "Clinical diagnosis or any decision about a patient: the data is small, from one clinic in the early 1990s, "
        "and the model has not been validated for medical use.",
        "Any decision about a patient: the data is small, old and not validated for clinical use.",
    ),
    "Limitations": (
        "- Trained and tested on one random split of a few hundred rows; the metrics carry that sampling error. "
        "- Inputs far outside the training ranges (see `data/processed/schema.json`) get an answer all the same; "
        "the service does not flag them.",
    ),
}
PROMPTS = {
    "Intended use": "_To do:_ what the model predicts (`{target}`), for whom, and which decisions it may inform.",
    "Out of scope": "_To do:_ the uses this model must not be put to, and why.",
    "Limitations": (
        "_To do:_ who and what the training data leaves out (period, population, labels), and where\n"
        "the model is known to fail."
    ),
}


def reset_card(text: str, target: str) -> tuple[str, list[str]]:
    """The card with each section still holding sample text (or adopt's prompt) set to a prompt; those sections."""
    parts = re.split(r"(?m)^(## .*)$", text)
    changed = []
    for index in range(1, len(parts) - 1, 2):
        heading = parts[index][3:].strip()
        if heading not in PROMPTS:
            continue
        body = " ".join(parts[index + 1].split())
        prompt = PROMPTS[heading].format(target=target)
        ours = re.escape(" ".join(PROMPTS[heading].split())).replace(re.escape("{target}"), ".+")
        if body != " ".join(prompt.split()) and (body in SAMPLE_NOTES.get(heading, ()) or re.fullmatch(ours, body)):
            parts[index + 1] = f"\n\n{prompt}\n" + ("\n" if index + 2 < len(parts) else "")
            changed.append(heading)
    return "".join(parts), changed


# --- the file and DVC ------------------------------------------------------------------------------


def destination(table: Table, root: Path, force: bool) -> tuple[Path, bool]:
    """Where the file goes in data/raw/, and whether it must be copied there; refuse to replace another file."""
    raw = (root / paths.RAW_DIR).resolve()
    source = Path(table.path or "").resolve()
    if source.is_relative_to(raw):  # already in data/raw/: used in place
        return source, False
    target = raw / source.name
    if not target.exists():
        return target, True
    if _same_bytes(source, target):
        return target, False
    if not force:
        raise DataError(
            f"{paths.RAW_DIR / source.name} already exists and differs from {table.label}; pass --force to replace it, "
            "or rename your file"
        )
    return target, True


def _same_bytes(first: Path, second: Path) -> bool:
    return first.stat().st_size == second.stat().st_size and _digest(first, "sha256") == _digest(second, "sha256")


def _digest(path: Path, kind: str) -> str:
    digest = hashlib.new(kind)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _dvc_tracks(path: Path) -> bool:
    """True when ``path.dvc`` records this very content (DVC 3 records the file's MD5)."""
    import yaml

    pointer = path.with_name(path.name + ".dvc")
    if not pointer.is_file():
        return False
    try:
        outs = yaml.safe_load(pointer.read_text(encoding="utf-8")).get("outs") or []
    except (yaml.YAMLError, AttributeError):
        return False
    return any(out.get("md5") == _digest(path, "md5") for out in outs if isinstance(out, dict))


def track(path: Path, root: Path, say: Say) -> list[str]:
    """``dvc add`` the file when the project is a DVC repository; return the files Git should commit."""
    relative = path.relative_to(root.resolve()).as_posix()
    pointer = [f"{relative}.dvc", f"{path.parent.relative_to(root.resolve()).as_posix()}/.gitignore"]
    by_hand = f"dvc add {_quote(relative)}"
    if not (root / ".dvc").is_dir():
        say(f"  not a DVC repository (no .dvc/ here): run `dvc init` and `{by_hand}` to version the file")
        return pointer
    if _dvc_tracks(path):
        say(f"  {relative}: already tracked by DVC ({relative}.dvc), unchanged")
        return pointer
    beside = Path(sys.executable).parent / "dvc"
    dvc = shutil.which("dvc") or (str(beside) if beside.is_file() else None)
    if dvc is None:
        say(f"  dvc is not installed here: run `{by_hand}` by hand")
        return pointer
    command = [dvc, "add", relative]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)  # noqa: S603 (our own path)
    if done.returncode != 0:
        reason = (done.stderr.strip() or done.stdout.strip()).splitlines()
        say(f"  note: `{by_hand}` failed: {reason[-1] if reason else 'no message'}; fix that and run it by hand")
    else:
        say(f"  ran `{by_hand}`: wrote {relative}.dvc; the file itself goes to the DVC cache, not Git")
    return pointer


def _quote(text: str) -> str:
    return text if re.fullmatch(r"[\w./-]+", text) else "'" + text.replace("'", "'\\''") + "'"


# --- the command -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Everything adopt will write, worked out and checked before any of it is."""

    table: Table
    target: str
    contract: contracts.Contract
    exclude: dict[str, str]
    data: dict[str, Any]  # the keys of params.yaml's data section to set
    baseline: Baseline
    quality: Quality
    params: Params  # the project's params with the new data section
    params_text: str  # params.yaml as it will be
    differences: list[str]  # its changed values, "key: old -> new"
    copy_to: Path | None  # the file in data/raw/ (None for a sample table)
    copy: bool  # whether the file must be copied there


def plan(source: str, target: str | None, params_path: Path, force: bool) -> Plan:
    """Read the table, describe it, choose the settings and measure the baseline; write nothing."""
    root = params_path.parent
    params = load_params(params_path)
    task = params.task
    table = read(source, target, task)
    target = check_target(table.frame, target or ("target" if table.dataset else None), task, table.label)
    frame = table.frame.rename(columns=str)
    contract = contracts.infer(frame, target, task)
    split, split_column = choose_split(params.data, frame, target, task)
    exclude = left_out(frame, contract, target, task, skip=set() if split_column is None else {split_column})
    # Columns the user left out by hand stay out, with the reason written beside them.
    yours = _exclude_comments(params_path.read_text(encoding="utf-8"))
    for name in params.data.exclude:
        if name in frame.columns and name not in exclude and name not in (target, split_column):
            exclude[name] = yours.get(name) or "left out by hand"
    exclude = {name: exclude[name] for name in frame.columns if name in exclude}
    features = [
        name for name in contract.names(*contracts.FEATURE_TYPES) if name not in {target, *exclude, split_column}
    ]
    if not features:
        raise DataError(
            f"{table.label}: no column left to learn from besides the target {target!r}: "
            + "; ".join(f"{name}: {reason}" for name, reason in exclude.items())
        )
    copy_to: Path | None = None
    copy = False
    if table.dataset:
        settings: dict[str, Any] = {"source": "sklearn", "sklearn_dataset": table.dataset}
    else:
        copy_to, copy = destination(table, root, force)
        settings = {"source": "file", "path": copy_to.relative_to(root.resolve()).as_posix()}
    settings |= {"target": target, "features": [], "split": split, "split_column": split_column}
    current = params.as_dict()
    try:
        candidate = Params.model_validate(current | {"data": current["data"] | settings | {"exclude": list(exclude)}})
    except ValueError as exc:
        raise ConfigError(f"{params_path}: the adopted settings do not validate: {exc}") from None
    typed, features = data.validate(frame, candidate, contract, table.label, root / paths.CONTRACT_PATH)
    baseline = measure(typed, features, contract, candidate)
    quality = propose(baseline)
    text, differences = update_params(params_path.read_text(encoding="utf-8"), Settings(settings, exclude, quality))
    _check_params(text, params_path)
    return Plan(
        table, target, contract, exclude, settings, baseline, quality, candidate, text, differences, copy_to, copy
    )


def _check_params(text: str, params_path: Path) -> None:
    """Refuse to write a params.yaml that the pipeline would not load (a bug here, never the user's)."""
    import yaml

    try:
        Params.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(
            f"{params_path}: adopt made settings that do not validate, so nothing was written: {exc}"
        ) from None


def run(
    source: str, target: str | None, params_path: Path = paths.PARAMS_PATH, force: bool = False, say: Say = print
) -> bool:
    """Adopt the table: print what was found, then every change made. Return True when something changed."""
    found = plan(source, target, params_path, force)
    root = params_path.parent
    say(
        f"adopt: {found.table.label}: {len(found.table.frame):,} rows, {len(found.contract.columns)} columns; "
        f"target {found.target!r} ({found.params.task})"
    )
    _describe_contract(found.contract, found.target, say)
    _describe_exclusions(found.exclude, say)
    _describe_baseline(found.baseline, found.quality, found.params, say)
    say("Changes:")
    changed = [
        _place(found, root, say),
        _write_contract(found.contract, root / paths.CONTRACT_PATH, say),
        _write_params(found, params_path, say),
        _reset_card(root / paths.MODEL_CARD_PATH, found.target, say),
    ]
    review = [str(params_path), str(paths.CONTRACT_PATH)] + (
        [str(paths.MODEL_CARD_PATH)] if (root / paths.MODEL_CARD_PATH).is_file() else []
    )
    pointers = track(found.copy_to, root, say) if found.copy_to else []
    if not any(changed):
        say("adopt: nothing changed; the project already uses this table as adopted.")
    say("Next:")
    say(f"  review what adopt wrote: git diff {' '.join(_quote(name) for name in review)}")
    say("  run the pipeline and the tests: dvc repro && pytest")
    say(f"  commit: git add {' '.join(_quote(name) for name in [*pointers, *review])}")
    return any(changed)


def _place(found: Plan, root: Path, say: Say) -> bool:
    if found.copy_to is None or found.table.path is None:
        say(f"  the data ships with scikit-learn ({found.table.label}): nothing to copy")
        return False
    relative = found.copy_to.relative_to(root.resolve()).as_posix()
    if not found.copy:
        say(f"  {relative}: in place, same content")
        return False
    found.copy_to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(found.table.path, found.copy_to)
    say(f"  copied {found.table.label} to {relative}")
    return True


def _write_contract(contract: contracts.Contract, path: Path, say: Say) -> bool:
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    new = contract.to_yaml(PACKAGE)
    if new == old:
        say(f"  {paths.CONTRACT_PATH}: unchanged")
        return False
    path.write_text(new, encoding="utf-8")
    say(f"  wrote {paths.CONTRACT_PATH}: {_contract_change(old, contract)}")
    return True


def _write_params(found: Plan, path: Path, say: Say) -> bool:
    if found.params_text == path.read_text(encoding="utf-8"):
        say(f"  {path}: unchanged")
        return False
    path.write_text(found.params_text, encoding="utf-8")
    say(f"  {path}: " + (f"{len(found.differences)} values changed" if found.differences else "comments updated"))
    for line in found.differences:
        say(f"    {line}")
    return True


def _reset_card(path: Path, target: str, say: Say) -> bool:
    if not path.is_file():
        return False
    card, sections = reset_card(path.read_text(encoding="utf-8"), target)
    if not sections:
        say(f"  {paths.MODEL_CARD_PATH}: unchanged (no sample text in it)")
        return False
    path.write_text(card, encoding="utf-8")
    say(f"  {paths.MODEL_CARD_PATH}: the sample text of {', '.join(sections)} replaced with to-do prompts")
    return True


def _describe_contract(contract: contracts.Contract, target: str, say: Say) -> None:
    width = max(len(name) for name in contract.columns)
    say(f"Columns (the contract's types; {paths.CONTRACT_PATH}):")
    for name, column in contract.columns.items():
        detail = ""
        if column.type == "numeric" and column.min is not None and column.max is not None:
            detail = f"{_number(column.min)} .. {_number(column.max)}"
        elif column.type == "categorical":
            shown = ", ".join(column.categories[:6]) + (", ..." if len(column.categories) > 6 else "")
            detail = f"{len(column.categories)}: {shown}"
        if column.empty:
            detail += (", " if detail else "") + "empty in up to " + format(column.empty, ".0%") + " of rows"
        role = "  <- target" if name == target else ""
        say(f"  {name:<{width}}  {column.type:<11}  {detail}{role}".rstrip())


def _describe_exclusions(exclude: dict[str, str], say: Say) -> None:
    if not exclude:
        say("Left out (data.exclude): none")
        return
    say("Left out (data.exclude), not learned from:")
    width = max(len(name) for name in exclude)
    for name, reason in exclude.items():
        say(f"  {name:<{width}}  {reason}")


def _describe_baseline(baseline: Baseline, quality: Quality, params: Params, say: Say) -> None:
    rows = f"{baseline.rows:,} rows"
    if baseline.sampled_from:
        rows = f"a sample of {BASELINE_ROWS:,} of the {baseline.sampled_from:,} rows"
    say(
        f"Baseline: {rows} -> {baseline.train_rows:,} train, {baseline.test_rows:,} test "
        f"({params.data.split} split); dummy model against {params.model.type}:"
    )
    for name, score in baseline.scores.items():
        bound = f"minimum {quality.minimum[name]}" if name in quality.minimum else f"maximum {quality.maximum[name]}"
        say(
            f"  {name:<9} dummy {score.dummy:.4f}  model {score.model:.4f} (spread {score.spread:.4f})"
            f"  -> {bound}, tolerance {quality.tolerance[name]}"
        )
    if quality.below_dummy:
        say(
            f"  warning: the model does not beat the dummy on {', '.join(quality.below_dummy)}: the bound is the "
            "dummy's score, so the quality tests fail until the features say something about the target"
        )


def _contract_change(old: str, contract: contracts.Contract) -> str:
    import yaml

    try:
        previous = (yaml.safe_load(old) or {}).get("columns") or {}
    except (yaml.YAMLError, AttributeError):  # an unreadable old contract is simply replaced
        previous = {}
    new = {name: column.as_yaml() for name, column in contract.columns.items()}
    if not set(previous) & set(new):
        return f"{len(new)} columns" + (f", replacing the {len(previous)} of another table" if previous else "")
    added = [name for name in new if name not in previous]
    removed = [name for name in previous if name not in new]
    altered = [name for name in new if name in previous and previous[name] != new[name]]
    parts = [f"{len(new)} columns"]
    for label, names in (("new", added), ("gone", removed), ("changed", altered)):
        if names:
            shown = ", ".join(str(name) for name in names[:8]) + (", ..." if len(names) > 8 else "")
            parts.append(f"{label}: {shown}")
    return "; ".join(parts)
