"""The data contract: what each column of the raw table may hold, kept in Git as ``data-contract.yaml``.

``adopt`` writes it from a table (:func:`infer`); people review changes to it in pull
requests like code. The ``data`` stage checks every raw table against it and reports all
problems of a file at once (:func:`check`): a missing column, a type change (text in a
numeric column), categories the contract does not list, values out of range, more empty
cells than allowed. The checks are pandera's (maintained, vectorised, lazy: it collects
every failure in one pass); this module turns its failure cases into one line per problem
that names the column, the count, the first rows and the fix.

Column types:

- ``numeric``: numbers; empty cells are imputed inside the model pipeline.
- ``categorical``: a small set of values (text or codes), kept as text; the contract lists
  them. Empty cells are a category of their own; values not listed are refused here but
  scored like a rare category by the model and the service.
- ``boolean``: true/false (also yes/no, 1/0); the model sees it as 0/1.
- ``datetime`` and ``text`` (identifiers, free text): described and checked, never used as
  features directly (a time column can drive the split; a custom model may use them).

Everything here is plain data and pandas, no scikit-learn: the service reads the features'
types from ``models/serving.json`` and never needs this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from . import paths
from .errors import ConfigError, rows

ColumnType = Literal["numeric", "categorical", "boolean", "datetime", "text"]
COLUMN_TYPES: tuple[str, ...] = ("numeric", "categorical", "boolean", "datetime", "text")
FEATURE_TYPES = ("numeric", "categorical", "boolean")  # what the model pipeline knows how to prepare

TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "0"})
MAX_CATEGORIES = 200  # more distinct values than this (and not a small share of rows) reads as text
FIRST_ROWS = 5  # how many offending rows a message names

HEADER = """\
# The data contract: what each column of the raw table may hold. The `data` stage checks every
# table against it and stops with all the problems it finds; the data tests check the split.
# Written by `{package} adopt`; review changes to it like code (a new category, a wider range,
# more empty cells allowed). Per column:
#   type: numeric | categorical | boolean | datetime | text (datetime and text are never features)
#   min, max: the allowed range (numeric)      categories: the allowed values (categorical)
#   empty: the largest share of empty cells allowed (0: none)
"""


@dataclass(frozen=True)
class Column:
    """One column's rules."""

    name: str
    type: ColumnType
    empty: float = 0.0
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] = ()

    def as_yaml(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": self.type}
        if self.type == "numeric":
            entry.update(min=_plain(self.min), max=_plain(self.max))
        if self.type == "categorical":
            entry["categories"] = list(self.categories)
        entry["empty"] = self.empty
        return entry


@dataclass(frozen=True)
class Contract:
    """Every column of the raw table, in the table's order."""

    columns: dict[str, Column] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Column:
        return self.columns[name]

    def names(self, *types: str) -> list[str]:
        return [name for name, column in self.columns.items() if not types or column.type in types]

    def to_yaml(self, package: str) -> str:
        body = yaml.safe_dump(
            {"columns": {name: column.as_yaml() for name, column in self.columns.items()}},
            sort_keys=False,
            allow_unicode=True,
            width=120,
        )
        return HEADER.format(package=package) + body


def _plain(value: float | None) -> float | int | None:
    """A bound as the reader expects it: 3 rather than 3.0."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)


def load(path: Path = paths.CONTRACT_PATH) -> Contract:
    """Read the contract; ConfigError names the column and key of a bad entry."""
    if not path.is_file():
        raise ConfigError(
            f"{path}: not found; describe your table with `adopt PATH --target COLUMN` (see README), "
            "or restore the file from Git"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict) or not raw["columns"]:
        raise ConfigError(f"{path}: expected `columns:` with one entry per column of the table")
    columns = {}
    for name, entry in raw["columns"].items():
        columns[str(name)] = _column(str(name), entry, path)
    return Contract(columns)


def _column(name: str, entry: Any, path: Path) -> Column:
    where = f"{path}: columns.{name}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with `type:`, got {entry!r}")
    unknown = sorted(set(entry) - {"type", "empty", "min", "max", "categories"})
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; allowed are type, empty, min, max, categories")
    kind = entry.get("type")
    if kind not in COLUMN_TYPES:
        raise ConfigError(f"{where}.type: {kind!r} is not one of {list(COLUMN_TYPES)}")
    empty = entry.get("empty", 0.0)
    if not isinstance(empty, int | float) or isinstance(empty, bool) or not 0 <= empty <= 1:
        raise ConfigError(f"{where}.empty: {empty!r} is not a share between 0 and 1")
    low, high = entry.get("min"), entry.get("max")
    for key, value in (("min", low), ("max", high)):
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise ConfigError(f"{where}.{key}: {value!r} is not a number")
    if low is not None and high is not None and low > high:
        raise ConfigError(f"{where}: min {low} is above max {high}")
    categories = entry.get("categories") or []
    if kind == "categorical" and not isinstance(categories, list):
        raise ConfigError(f"{where}.categories: expected a list of values")
    if kind != "categorical" and categories:
        raise ConfigError(f"{where}.categories: only categorical columns list categories")
    return Column(
        name=name,
        type=kind,
        empty=float(empty),
        min=None if low is None else float(low),
        max=None if high is None else float(high),
        categories=tuple(str(value) for value in categories),
    )


def write(contract: Contract, package: str, path: Path = paths.CONTRACT_PATH) -> None:
    path.write_text(contract.to_yaml(package), encoding="utf-8")


# --- reading a table with the contract's types -----------------------------------------------


def text_columns(contract: Contract) -> list[str]:
    """Columns read as text whatever they look like: codes such as ``007`` keep their zeros."""
    return contract.names("categorical", "text", "datetime", "boolean")


def typed(frame: Any, contract: Contract) -> Any:
    """The frame with the contract's types: numbers as float64, categories as text, booleans as 0/1.

    Cells that do not fit their column's type (text in a numeric column, ``maybe`` in a
    boolean one) are left as they are: :func:`check` reports them; empty cells stay empty.
    """
    import pandas as pd

    out = {}
    for name in frame.columns:
        values = frame[name]
        column = contract.columns.get(name)
        if column is None:
            out[name] = values
        elif column.type == "numeric":
            if values.dtype == "float64":  # read as numbers already: nothing to convert, nothing to copy
                out[name] = values
                continue
            numbers = as_numbers(values)
            out[name] = numbers if numbers.notna().sum() == values.notna().sum() else values
        elif column.type == "boolean":
            out[name] = as_booleans(values)
        else:
            out[name] = as_text(values)
    # The columns as they are, side by side: a table of a million rows is not copied once more.
    return pd.DataFrame(out, index=frame.index, copy=False)


def as_numbers(values: Any) -> Any:
    """``pd.to_numeric(values, errors="coerce")`` as float64: each cell's number, NaN where it holds none."""
    import pandas as pd

    numbers = _parsed_by_arrow(values)
    return pd.to_numeric(values, errors="coerce").astype("float64") if numbers is None else numbers


def _parsed_by_arrow(values: Any) -> Any:
    """Text cells held by pyarrow (as pandas reads a CSV's text columns), when each one is a plain finite number
    or empty: their numbers, from pyarrow's cast (30 ms for a million cells, where ``pd.to_numeric`` takes
    0.4-1 s). None for any other column: one of numbers or Python objects, or one with a cell the cast refuses
    (other text, blanks, spaces around a number) or reads as NaN or infinity; ``to_numeric`` reads those."""
    import pandas as pd

    if not isinstance(values.array, pd.arrays.ArrowStringArray):
        return None
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        parsed = pc.cast(pa.array(values.array), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    numbers = parsed.to_numpy(zero_copy_only=False)  # an empty cell (null) becomes NaN
    if np.isfinite(numbers).sum() != len(numbers) - parsed.null_count:
        return None
    return pd.Series(numbers, index=values.index, name=values.name)


def as_text(values: Any) -> Any:
    """Text cells, empty ones as missing: 3 and "3" are the same category, "" is an empty cell."""
    import pandas as pd

    def text(value: Any) -> Any:
        # NaN, not None, marks an empty cell: scikit-learn's imputers and encoders look for NaN.
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return math.nan
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a code read as 3.0 is the category "3"
        value = str(value)
        return value if value.strip() else math.nan

    if isinstance(values.array, pd.arrays.ArrowStringArray) and values.head(1000).nunique() < 500:
        # Text held by pyarrow (a CSV read by pandas 3) that repeats, as categories do: each distinct text is
        # checked and made a Python string once, and the cells share it (3 times faster on a million cells of a
        # few categories; on text that hardly repeats, such as identifiers, twice as slow, hence the sample).
        import numpy as np

        codes, distinct = pd.factorize(values)  # code -1: an empty cell
        table = np.append(distinct.to_numpy(dtype=object), math.nan)
        table[:-1][(pd.Series(distinct).str.strip() == "").to_numpy(dtype=bool)] = math.nan  # blank: empty
        return pd.Series(table[codes], index=values.index, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) == "string":
        # Cells that are text already (a CSV read as text): the same result in one vectorised pass.
        kept = (values.notna() & values.str.strip().ne("")).to_numpy()
        cells = values.to_numpy(dtype=object).copy()
        cells[~kept] = math.nan
        return pd.Series(cells, index=values.index, dtype=object)
    return pd.Series([text(value) for value in values], index=values.index, dtype=object)


def as_booleans(values: Any) -> Any:
    import pandas as pd

    def boolean(value: Any) -> Any:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return math.nan
        if isinstance(value, bool):
            return float(value)
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return 1.0
        if word in FALSE_WORDS:
            return 0.0
        return value if word else math.nan

    if pd.api.types.infer_dtype(values, skipna=True) == "string":
        # Text cells (a CSV read as text): each distinct word converted once, then looked up per row.
        words = values.dropna().unique()
        converted = values.map(dict(zip(words, (boolean(word) for word in words), strict=True)))  # empty: NaN
        if pd.api.types.is_float_dtype(converted):
            return converted.astype("float64")
        converted = converted.astype(object).where(converted.notna(), math.nan)
    else:
        converted = pd.Series([boolean(value) for value in values], index=values.index, dtype=object)
    if all(isinstance(value, float) for value in converted):
        return converted.astype("float64")
    return converted


# --- checking a table --------------------------------------------------------------------------


def check(frame: Any, contract: Contract, columns: list[str], contract_path: Path = paths.CONTRACT_PATH) -> list[str]:
    """Every way ``frame`` (already :func:`typed`) breaks the contract for ``columns``; empty if none.

    One line per problem: the column, what is wrong, how many rows, the first rows
    (numbered from 1 below the header), and the fix.
    """
    import pandas as pd
    import pandera.pandas as pa

    problems = []
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        problems.append(f"columns {missing} are in the contract but not in the table; restore them or drop them")
    present = [name for name in columns if name in frame.columns]
    # pandera checks ranges and categories on the values that have the column's type; cells of
    # another type (text in a numeric column) are counted on their own, as a type problem.
    checkable, schema_columns = {}, {}
    for name in present:
        column, values = contract[name], frame[name]
        checks = []
        if column.type in ("numeric", "boolean") and not pd.api.types.is_numeric_dtype(values):
            numbers = pd.to_numeric(values, errors="coerce")
            wrong_type = values[numbers.isna() & values.notna()]
            if len(wrong_type):
                problems.append(_type_problem(name, column.type, wrong_type, contract_path))
            values = numbers
        if column.type == "numeric" and (column.min is not None or column.max is not None):
            low = -math.inf if column.min is None else column.min
            high = math.inf if column.max is None else column.max
            checks.append(pa.Check.in_range(low, high))
        if column.type == "categorical":
            checks.append(pa.Check.isin(list(column.categories)))
        checkable[name] = values
        schema_columns[name] = pa.Column(checks=checks, nullable=True)
    failures = pd.DataFrame(columns=["column", "check", "failure_case", "index"])
    try:
        # inplace: the frame is built for the check alone, and pandera would otherwise copy it first.
        checked = pd.DataFrame(checkable, copy=False)
        pa.DataFrameSchema(schema_columns, strict=False).validate(checked, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        failures = errors.failure_cases

    for name in present:
        column, values = contract[name], frame[name]
        fix_contract = f"if they are valid, widen columns.{name} in {contract_path}"
        mine = failures[failures["column"] == name]
        outside = mine[mine["check"].astype(str).str.startswith("in_range")]  # pandera names its checks so
        if len(outside):
            problems.append(
                f"column {name!r} has {rows(len(outside))} outside [{_plain(column.min)}, {_plain(column.max)}] "
                f"{_examples(outside['failure_case'])} (first at {_row_numbers(outside['index'])}); {fix_contract}"
            )
        unknown = mine[mine["check"].astype(str).str.startswith("isin")]
        if len(unknown):
            problems.append(
                f"column {name!r} has {rows(len(unknown))} with categories the contract does not list "
                f"{_examples(unknown['failure_case'])} (first at {_row_numbers(unknown['index'])}); "
                f"{fix_contract} (categories:)"
            )
        empty = int(values.isna().sum())
        if empty > column.empty * len(values) + 1e-9:
            # Shares as percentages by hand: a format spec ending in a percent sign before a brace reads as Jinja.
            allowed = "none" if column.empty == 0 else f"at most {round(column.empty * 100)} percent"
            share = round(100 * empty / len(values), 1)
            problems.append(
                f"column {name!r} has {rows(empty)} empty ({share} percent; the contract allows {allowed}) "
                f"(first at {_row_numbers(values.index[values.isna()])}); fill them, or raise columns.{name}.empty "
                f"in {contract_path}"
            )
    return problems


def _type_problem(name: str, kind: str, cells: Any, contract_path: Path) -> str:
    if kind == "boolean":
        return (
            f"column {name!r} is boolean in the contract but {rows(len(cells))} hold other values "
            f"{_examples(cells)} (first at {_row_numbers(cells.index)}); use true/false, yes/no or 1/0"
        )
    return (
        f"column {name!r} is numeric in the contract but {rows(len(cells))} hold text "
        f"{_examples(cells)} (first at {_row_numbers(cells.index)}); fix the cells, or make the column "
        f"categorical in {contract_path}"
    )


def _examples(values: Any, most: int = 5) -> str:
    unique = list(dict.fromkeys(values.tolist()))
    shown = ", ".join(repr(value) for value in unique[:most])
    return f"[{shown}{', ...' if len(unique) > most else ''}]"


def _row_numbers(index: Any) -> str:
    numbers = [int(i) + 1 for i in list(index)[:FIRST_ROWS]]
    return ("row " if len(numbers) == 1 else "rows ") + ", ".join(str(n) for n in numbers)


# --- describing a new table (adopt) ------------------------------------------------------------


def infer(frame: Any, target: str | None = None, task: str | None = None) -> Contract:
    """A contract that the table itself meets: types guessed from the values, ranges and categories observed.

    The target's type follows the task: the classes of a classification are categories
    (however many, whatever they look like), a regression target is numeric.
    """
    columns = {}
    for name in frame.columns:
        column = infer_column(str(name), frame[name])
        if str(name) == target and task == "classification":
            present = as_text(frame[name]).dropna()
            column = Column(
                column.name, "categorical", column.empty, categories=tuple(sorted(present.unique(), key=_label_order))
            )
        columns[str(name)] = column
    return Contract(columns)


def _label_order(label: str) -> tuple:
    """Whole-number labels in numeric order (2 before 10), the rest alphabetically after them."""
    return (0, int(label), "") if label.lstrip("-").isdigit() else (1, 0, label)


def infer_column(name: str, values: Any) -> Column:
    import pandas as pd

    present = values.dropna()
    empty = _allowed_empty_share(values)

    def words(cells: Any) -> Any:
        return cells.astype(str).str.strip().str.lower()

    if pd.api.types.is_bool_dtype(values) or (
        len(present)
        and not pd.api.types.is_float_dtype(values)
        and words(present.head(1000)).isin(TRUE_WORDS | FALSE_WORDS).all()  # most columns fail on their first rows
        and words(present).isin(TRUE_WORDS | FALSE_WORDS).all()
        and words(present).nunique() == 2
    ):
        return Column(name, "boolean", empty)
    if pd.api.types.is_numeric_dtype(values):
        if present.nunique() <= 2 and len(present) and set(present.unique()) <= {0, 1}:
            return Column(name, "boolean", empty)
        return Column(name, "numeric", empty, _plain(present.min()), _plain(present.max()))
    parsed = _parsed_by_arrow(values)  # a CSV's column of numbers, read as text: checked in one pass
    if parsed is not None and parsed.notna().any() and not values.str.match(r"^0\d").any():
        return Column(name, "numeric", empty, _plain(parsed.min()), _plain(parsed.max()))
    text = as_text(values).dropna()
    # Each distinct text once: a column of a few categories over a million rows is judged on those few.
    distinct = pd.Series(text.unique(), dtype=object)
    numbers = pd.to_numeric(distinct, errors="coerce")
    if len(text) and numbers.notna().all() and not distinct.str.match(r"^0\d").any():
        return Column(name, "numeric", empty, _plain(numbers.min()), _plain(numbers.max()))
    if len(text) and _looks_like_dates(text):
        return Column(name, "datetime", empty)
    if len(distinct) <= MAX_CATEGORIES and len(distinct) <= max(2, 0.5 * len(text)):
        return Column(name, "categorical", empty, categories=tuple(sorted(distinct)))
    return Column(name, "text", empty)


def _looks_like_dates(text: Any) -> bool:
    import warnings

    import pandas as pd

    sample = text.head(1000)
    if not sample.str.contains(r"\d{1,4}[-/.:]\d{1,2}", regex=True).all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def _allowed_empty_share(values: Any) -> float:
    """Observed share of empty cells with room for the next data version (a reviewer can tighten it)."""
    share = float(values.isna().mean()) if len(values) else 0.0
    if share == 0:
        return 0.0
    return min(1.0, math.ceil((share * 1.5 + 0.01) * 100) / 100)
