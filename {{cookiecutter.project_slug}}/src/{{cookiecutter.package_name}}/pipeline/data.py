"""Stage ``data``: read the raw table, check it against the data contract, and write a deterministic split.

The raw input (CSV or Parquet, or a sample table shipped with scikit-learn) is only read.
Every problem of the table is reported in one run, one line each (see :mod:`..core.contract`).
Outputs, in ``data/processed/``: ``train.parquet`` and ``test.parquet`` (the features, the
target, and the group or time column of the split; typed, so text stays text) and
``schema.json`` (the features and their types, categories, labels, row and duplicate
counts, and the fingerprint of the inputs, which the tests use to refuse stale outputs).

Duplicates (``data.duplicates``): ``drop`` removes exact duplicate rows before splitting
and keeps rows with identical features on one side of a random or stratified split, so no
test row is also a training row; ``keep`` leaves the table as it is.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..core import contract as contracts
from ..core import paths
from ..core.errors import DataError, MissingOutputError, rows
from ..core.params import DataParams, Params
from ..core.records import Task

PARQUET_SUFFIXES = (".parquet", ".pq")
TABLE_SUFFIXES = (".csv", *PARQUET_SUFFIXES)
# The sample tables that ship with scikit-learn, and what each is for; params.yaml's
# data.sklearn_dataset accepts these names (tests/unit/test_params.py keeps the two alike).
SKLEARN_DATASETS = {
    "breast_cancer": "classification",
    "wine": "classification",
    "iris": "classification",
    "diabetes": "regression",
}


@dataclass(frozen=True)
class Schema:
    """What the model was trained on; written beside the split and read by every later step."""

    task: Task
    target: str
    features: list[str]
    feature_types: dict[str, str]  # numeric | categorical | boolean, per feature
    categories: dict[str, list[str]]  # the contract's categories, per categorical feature
    labels: list[int | str]
    data_source: str
    data_hash: str
    rows: int
    train_rows: int
    test_rows: int
    split: str = "random"
    split_column: str | None = None
    duplicates: dict[str, int] = field(default_factory=dict)  # exact rows found and dropped, rows dropped for no target
    inputs: dict[str, str] = field(default_factory=dict)  # fingerprint of params, data and contract

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, path: Path) -> Schema:
        """The schema the data stage wrote; outputs of an older version of the project are refused clearly."""
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (TypeError, json.JSONDecodeError):  # another set of fields, or no JSON at all
            raise MissingOutputError(
                f"{path} was written by another version of the data stage; run `dvc repro` to write it anew"
            ) from None

    def columns_of(self, *types: str) -> list[str]:
        return [name for name in self.features if self.feature_types[name] in types]


def sklearn_frame(name: str, target: str) -> pd.DataFrame:
    """One of the sample tables that ship with scikit-learn (no download)."""
    from sklearn import datasets

    loader = getattr(datasets, f"load_{name}")
    return loader(as_frame=True).frame.rename(columns={"target": target})


def labelled_files(directory: Path = paths.LABELLED_DIR) -> list[Path]:
    """The files of production rows with known outcomes added to the training data (``add-labelled``), by name."""
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.is_file() and path.suffix.lower() in TABLE_SUFFIXES)


def with_labelled(digest: str, files: list[Path]) -> str:
    """The raw table's SHA-256, folded with each added file's name and content (unchanged when there are none,
    so a project without added rows keeps the fingerprint, and the outputs, it had)."""
    if not files:
        return digest
    combined = hashlib.sha256(digest.encode())
    for path in files:
        combined.update(f"\0{path.name}\0{file_sha256(path)}".encode())
    return combined.hexdigest()


def load_raw(
    params: DataParams, contract: contracts.Contract | None = None, labelled_dir: Path = paths.LABELLED_DIR
) -> tuple[pd.DataFrame, str, str]:
    """Return the raw frame (the rows of ``labelled_dir`` appended), a description of its source, and the
    SHA-256 of its content."""
    text = contracts.text_columns(contract) if contract else []
    if params.source == "sklearn":
        frame = sklearn_frame(params.sklearn_dataset, params.target)
        digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
        source = f"sklearn:{params.sklearn_dataset}"
    else:
        frame, source, digest = read_table(params.path, text), str(params.path), file_sha256(params.path)
    files = labelled_files(labelled_dir)
    if files:
        # Checked against the contract with the rest of the table by the data stage, like any row.
        frame = pd.concat([frame, *(read_table(path, text) for path in files)], ignore_index=True)
        source = f"{source} + {labelled_dir} ({len(files)} {'file' if len(files) == 1 else 'files'})"
    return frame, source, with_labelled(digest, files)


SEPARATORS = ",;\t|"  # what exports use: comma, semicolon (where the comma is the decimal mark), tab, pipe
_DECIMAL_COMMA = re.compile(r'(?:^|[;\t|])"?-?\d+,\d+"?(?=[;\t|]|$)', re.MULTILINE)
_DECIMAL_POINT = re.compile(r'(?:^|[;\t|])"?-?\d+\.\d+"?(?=[;\t|]|$)', re.MULTILINE)


def csv_dialect(path: Path, sample_bytes: int = 64 * 1024) -> dict[str, str]:
    """The column separator and decimal mark of a CSV file, read from its start, as pandas' options.

    Many exports are not comma-separated: spreadsheets set to a European locale write
    ``1,5;2,25`` (semicolons between columns, commas as decimal marks), databases write tabs
    or pipes. The separator is the one of :data:`SEPARATORS` that splits the header and the
    first lines into the same number of fields (the comma whenever it does); a comma is the
    decimal mark only where another separator is used and the numbers are written with commas
    and never with points.
    """
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        sample = handle.read(sample_bytes)
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if len(sample) == sample_bytes and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off
    separator = ","
    widths = {len(fields) for fields in csv.reader(lines)}
    if not (len(widths) == 1 and widths.pop() > 1):  # a comma splits every line alike: a plain CSV, as pandas reads it
        with contextlib.suppress(csv.Error):  # one column, or no separator that splits every line alike
            separator = csv.Sniffer().sniff("\n".join(lines), delimiters=SEPARATORS).delimiter
    text = "\n".join(lines[1:])
    decimal = "," if separator != "," and _DECIMAL_COMMA.search(text) and not _DECIMAL_POINT.search(text) else "."
    return {"sep": separator, "decimal": decimal}


def read_table(path: Path, text_columns: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV (any :func:`csv_dialect`) or Parquet file; ``text_columns`` are read as text (codes like
    ``007`` keep their zeros)."""
    if not path.is_file():
        raise DataError(
            f"{path}: file not found; put your table there and run `adopt {path} --target COLUMN`, "
            "or set data.source: sklearn in params.yaml"
        )
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            frame = pd.read_parquet(path)
        else:
            dialect = csv_dialect(path)
            header = pd.read_csv(path, nrows=0, **dialect).columns
            wanted = set(text_columns)
            text = [name for name in header if name in wanted]
            frame = _text_by_arrow(path, header, dialect["sep"]) if len(text) == len(header) else None
            if frame is None:
                # pandas' own engine, not pyarrow's: from pandas 3.1 (the lock file's) it parses a large file on
                # every core, and on a million rows of 30 numbers it took half the CPU time and 250 MB less
                # memory than engine="pyarrow".
                frame = pd.read_csv(path, dtype=dict.fromkeys(text, str), **dialect)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
        kind = "Parquet" if path.suffix.lower() in PARQUET_SUFFIXES else "CSV"
        raise DataError(f"{path}: not a readable {kind} file: {exc}".rstrip()) from None
    if frame.empty:
        raise DataError(f"{path}: has a header but no rows")
    return frame


# The cells pandas' CSV reader makes empty by default (read_csv's na_values), given to pyarrow's reader too.
EMPTY_WORDS = (
    *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>"),
    *("N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
)


def _text_by_arrow(path: Path, header: pd.Index, separator: str) -> pd.DataFrame | None:
    """Every column of a CSV as text, read by pyarrow as pandas reads it; None where pyarrow would read it
    otherwise (then pandas reads it): a header pandas renames (an empty or repeated name), a row of
    another width than the header, text that is not UTF-8, a row longer than pyarrow's blocks.

    ``adopt`` reads every column as text: pyarrow keeps the text in its own buffers, where pandas'
    parser makes a Python string of every cell first. A million rows of 26 columns: 1.9 s instead of 12,
    and 390 MB less memory.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [str(name) for name in header]
    try:
        table = pa_csv.read_csv(
            path,
            parse_options=pa_csv.ParseOptions(delimiter=separator, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), null_values=list(EMPTY_WORDS), strings_can_be_null=True
            ),
        )
    except pa.ArrowException:
        return None
    return table.to_pandas() if table.column_names == names else None


def feature_columns(params: Params, contract: contracts.Contract) -> list[str]:
    """The columns the model learns from: data.features, or every feature-typed column the contract lists
    but the target, the excluded ones and the split's group or time column."""
    data = params.data
    if data.features:
        return list(data.features)
    skipped = {data.target, *data.exclude, data.split_column}
    return [name for name in contract.names(*contracts.FEATURE_TYPES) if name not in skipped]


def validate(
    frame: pd.DataFrame, params: Params, contract: contracts.Contract, source: str, contract_path: Path
) -> tuple[pd.DataFrame, list[str]]:
    """The typed frame and the feature columns; or DataError listing every problem found, one per line."""
    data = params.data
    problems: list[str] = []
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise DataError(f"{source}: duplicate column names {duplicated}; rename them")
    frame = frame.rename(columns=str)
    features = feature_columns(params, contract)
    unknown = [name for name in frame.columns if name not in contract.columns]
    if unknown:
        problems.append(
            f"columns {unknown} are not in {contract_path}; describe them there (run `adopt` again), "
            "or remove them from the table"
        )
    not_described = [name for name in [*features, data.target] if name not in contract.columns]
    if not_described:
        problems.append(f"columns {not_described} are used but {contract_path} does not describe them")
    if data.target not in frame.columns:
        raise DataError(
            f"{source}: target column {data.target!r} not found; columns are {list(frame.columns)}; "
            "set data.target in params.yaml"
        )
    not_features = [
        name for name in features if name in contract.columns and contract[name].type not in contracts.FEATURE_TYPES
    ]
    if not_features:
        problems.append(
            f"data.features lists {not_features}, which the contract types as datetime or text; "
            "a model learns only from numeric, categorical and boolean columns (or use model.type: custom)"
        )
    if not features:
        problems.append(f"no feature columns besides the target {data.target!r}; check data.features and data.exclude")
    if data.split_column and data.split_column not in frame.columns:
        problems.append(f"data.split_column {data.split_column!r} is not a column of the table")
    checked = [name for name in dict.fromkeys([*features, data.target, data.split_column]) if name in contract.columns]
    typed = contracts.typed(frame, contract)
    problems += contracts.check(typed, contract, checked, contract_path)
    problems += _target_problems(typed[data.target], params)
    if problems:
        raise DataError(f"{source}: {len(problems)} problems found:\n  - " + "\n  - ".join(problems))
    return typed, features


def _target_problems(target: pd.Series, params: Params) -> list[str]:
    """What the contract cannot say about a target: its type for the task, and enough rows per class.

    The allowed classes (categories) or range of the target are the contract's, like any column's.
    """
    present = target.dropna()
    name = target.name
    if params.task == "regression":
        if not pd.api.types.is_numeric_dtype(present):
            return [
                f"target column {name!r} is not numeric; regression needs numbers (or bake a classification project)"
            ]
        return []
    counts = present.astype(str).value_counts()
    if len(counts) < 2:
        return [f"target column {name!r} has a single class {counts.index.tolist()}"]
    if counts.min() < 2:
        return [
            f"class {counts.idxmin()!r} of {name!r} has one row; a split needs at least two per class "
            "(merge it into another class or drop the row)"
        ]
    return []


def labels_of(target: pd.Series) -> pd.Series:
    """Class labels as the model sees them: whole numbers (``1``, ``"1"``, ``1.0``) as integers, anything else as text.

    Codes with a leading zero (``"007"``) stay text, so they keep their zeros.
    """
    text = contracts.as_text(target)
    codes, classes = pd.factorize(text)  # a few classes, many rows: decide and convert once per class
    if len(classes) and pd.Series(classes).str.fullmatch(r"-?(0|[1-9]\d*)").all():
        labels = np.array([*(int(label) for label in classes), None], dtype=object)
        return pd.Series(labels[codes], index=target.index, dtype=object)  # code -1 (empty) takes the None
    return text


def duplicated_rows(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Whether each row repeats an earlier row in ``columns``: ``DataFrame.duplicated`` (first kept), faster.

    Rows are hashed once, and values are compared only among the rows whose hashes repeat;
    equal rows always have equal hashes, so the answer is exact. On a million rows of thirty
    columns this takes a fraction of a second where comparing every column takes seconds.
    """
    keys = pd.Series(row_keys(frame[columns]))
    maybe = np.flatnonzero(keys.duplicated(keep=False).to_numpy())
    repeated = np.zeros(len(frame), dtype=bool)
    if len(maybe):
        repeated[maybe] = frame[columns].iloc[maybe].duplicated().to_numpy()
    return repeated


def deduplicate(frame: pd.DataFrame, columns: list[str], policy: str) -> tuple[pd.DataFrame, int]:
    """Drop exact duplicate rows of ``columns`` when the policy says so; return the frame and the count found."""
    repeated = duplicated_rows(frame, columns)
    if policy == "drop" and repeated.any():
        frame = frame[~repeated]
    return frame, int(repeated.sum())


def row_keys(frame: pd.DataFrame) -> np.ndarray:
    """One hash per row of these columns: equal rows, equal keys (the leakage checks compare them)."""
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_float_dtype(values.dtype):
            # One bit pattern per value, as older pandas does not ensure: 0.0 for -0.0, one NaN for every NaN.
            values = values.where(values.notna(), np.nan) + 0.0
        columns[name] = values
    return pd.util.hash_pandas_object(pd.DataFrame(columns, index=frame.index, copy=False), index=False).to_numpy()


def split(frame: pd.DataFrame, features: list[str], params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic train/test split as data.split says, seeded from params."""
    from sklearn.model_selection import train_test_split

    data = params.data
    if data.split == "time":
        moments = pd.to_datetime(frame[data.split_column], errors="coerce", format="mixed")
        if moments.isna().any():
            raise DataError(
                f"data.split_column {data.split_column!r}: {rows(int(moments.isna().sum()))} are not dates or times"
            )
        # The latest share is the test split; rows at the boundary's moment all go to test.
        position = min(len(frame) - 1, round(len(frame) * (1 - data.test_size)))
        boundary = moments.sort_values(kind="stable").iloc[position]
        test_mask = (moments >= boundary).to_numpy()
    else:
        if data.split == "group":
            groups = contracts.as_text(frame[data.split_column]).fillna("(missing)").to_numpy()
        elif data.duplicates == "drop":
            groups = row_keys(frame[features])  # identical feature rows stay on one side
        else:
            groups = np.arange(len(frame))
        unique, first, group_of_row = np.unique(groups, return_index=True, return_inverse=True)
        stratify = None
        if data.split == "stratified":
            labels = frame[data.target].astype(str).to_numpy()[first]
            # Class codes in the labels' sorted order: the split scikit-learn draws from the labels
            # themselves, without sorting a million strings.
            codes, classes = pd.factorize(labels, sort=True)
            counts = np.bincount(codes)
            if int(np.min(counts)) >= 2 and len(unique) * data.test_size >= len(classes):
                stratify = codes
        if len(unique) < 2:
            raise DataError(f"{len(unique)} distinct groups; a split needs at least two")
        # Positions rather than the groups themselves: the same draw, and each row finds its side by its group's.
        _, test_groups = train_test_split(
            np.arange(len(unique)), test_size=data.test_size, random_state=params.seed, stratify=stratify
        )
        in_test = np.zeros(len(unique), dtype=bool)
        in_test[test_groups] = True
        test_mask = in_test[group_of_row.reshape(-1)]
    columns = [*features, data.target] + ([data.split_column] if data.split in ("group", "time") else [])
    selected = frame[columns]
    train, test = selected[~test_mask], selected[test_mask]
    if train.empty or test.empty:
        raise DataError("the split left no rows on one side; change data.test_size or data.split")
    return train.reset_index(drop=True), test.reset_index(drop=True)


def fingerprint(params: Params, data_hash: str, contract_path: Path) -> dict[str, str]:
    """What the split depends on, hashed: the tests refuse outputs whose inputs have changed since."""
    settings = json.dumps(params.as_dict(include={"task", "seed", "data"}), sort_keys=True)
    contract_hash = file_sha256(contract_path) if contract_path.is_file() else ""
    return {
        "params": hashlib.sha256(settings.encode()).hexdigest(),
        "data": data_hash,
        "contract": contract_hash,
    }


def current_fingerprint(params: Params, root: Path = Path()) -> dict[str, str]:
    """The fingerprint the data stage would record now in the project at ``root`` (hashes the raw data)."""
    if params.data.source == "sklearn":
        data_hash = load_raw(params.data, labelled_dir=root / paths.LABELLED_DIR)[2]
    else:
        path = root / params.data.path
        data_hash = file_sha256(path) if path.is_file() else "(missing)"
        data_hash = with_labelled(data_hash, labelled_files(root / paths.LABELLED_DIR))
    return fingerprint(params, data_hash, root / paths.CONTRACT_PATH)


def stale_inputs(recorded: dict[str, str], params: Params, root: Path = Path()) -> list[str]:
    """What changed since the data stage ran (``params``, ``data``, ``contract``); empty when nothing did."""
    current = current_fingerprint(params, root)
    return [name for name in current if recorded.get(name) != current[name]]


def run(params: Params, out_dir: Path = paths.PROCESSED_DIR, contract_path: Path = paths.CONTRACT_PATH) -> Schema:
    """The ``data`` stage: load, check against the contract, deduplicate, split, write the split and its schema."""
    contract = contracts.load(contract_path)
    frame, source, digest = load_raw(params.data, contract)
    frame, features = validate(frame, params, contract, source, contract_path)
    target = params.data.target
    if params.task == "classification":
        frame[target] = labels_of(frame[target])
    has_target = frame[target].notna().to_numpy()  # a row without an outcome teaches nothing (the contract allowed it)
    # Rows are duplicates when everything the split and the model see is equal (a repeat at another time is not).
    # A repeat of a row with a target has that target too: counting over all rows counts those with one.
    used = [*features, target] + ([params.data.split_column] if params.data.split_column else [])
    repeated = duplicated_rows(frame, used) & has_target
    kept = has_target & ~repeated if params.data.duplicates == "drop" else has_target
    no_target, repeated = int((~has_target).sum()), int(repeated.sum())
    if not kept.all():  # one selection for both reasons: a million-row frame is copied once, not twice
        frame = frame[kept]
    train, test = split(frame, features, params)
    labels = sorted(frame[target].unique().tolist(), key=str) if params.task == "classification" else []
    feature_types: dict[str, str] = {name: contract[name].type for name in features}
    schema = Schema(
        task=params.task,
        target=target,
        features=features,
        feature_types=feature_types,
        categories={name: list(contract[name].categories) for name in features if feature_types[name] == "categorical"},
        labels=labels,
        data_source=source,
        data_hash=digest,
        rows=len(frame),
        train_rows=len(train),
        test_rows=len(test),
        split=params.data.split,
        split_column=params.data.split_column,
        duplicates={
            "exact_rows": repeated,
            "dropped": repeated if params.data.duplicates == "drop" else 0,
            "no_target_dropped": no_target,
        },
        inputs=fingerprint(params, digest, contract_path),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    train.to_parquet(out_dir / paths.TRAIN_FILE, index=False)
    test.to_parquet(out_dir / paths.TEST_FILE, index=False)
    (out_dir / paths.SCHEMA_FILE).write_text(schema.to_json(), encoding="utf-8")
    return schema


def load_split(directory: Path = paths.PROCESSED_DIR) -> tuple[pd.DataFrame, pd.DataFrame, Schema]:
    """Read the outputs of the ``data`` stage, both parts with every column; a clear error when it has not run."""
    _exist(directory / paths.TRAIN_FILE, directory / paths.TEST_FILE, directory / paths.SCHEMA_FILE)
    schema = Schema.read(directory / paths.SCHEMA_FILE)
    return pd.read_parquet(directory / paths.TRAIN_FILE), pd.read_parquet(directory / paths.TEST_FILE), schema


def load_part(part: Literal["train", "test"], directory: Path = paths.PROCESSED_DIR) -> tuple[pd.DataFrame, Schema]:
    """One part of the split, with the columns a model uses (the features and the target), and the schema.

    A stage reads what it uses and nothing more: ``train`` the training part, ``export`` and
    ``evaluate`` the test part, and only those columns of it (Parquet reads columns apart).
    """
    path = directory / {"train": paths.TRAIN_FILE, "test": paths.TEST_FILE}[part]
    _exist(path, directory / paths.SCHEMA_FILE)
    schema = Schema.read(directory / paths.SCHEMA_FILE)
    return pd.read_parquet(path, columns=[*schema.features, schema.target]), schema


def _exist(*paths: Path) -> None:
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise MissingOutputError(f"{', '.join(missing)} not found; run `dvc repro` first")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_input(frame: pd.DataFrame, schema_or_types: Any) -> pd.DataFrame:
    """The feature columns as the fitted pipeline expects them: float64 numbers (NaN when empty), text categories.

    Used wherever rows meet the model (training, evaluation, ``predict``), so a raw table and
    the split are prepared alike; the preparation itself (imputation, encoding) is the pipeline's.
    """
    types = schema_or_types.feature_types if hasattr(schema_or_types, "feature_types") else schema_or_types
    columns = {}
    for name, kind in types.items():
        values = frame[name]
        if kind == "categorical":
            columns[name] = contracts.as_text(values)
        elif kind == "boolean":
            columns[name] = contracts.as_booleans(values)
        else:
            columns[name] = pd.to_numeric(values, errors="coerce").astype("float64")
    return pd.DataFrame(columns, index=frame.index)
