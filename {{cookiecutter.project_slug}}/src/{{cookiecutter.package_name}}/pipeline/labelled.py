"""Command ``add-labelled``: production rows whose outcome is now known become training data.

``add-labelled BATCH...`` reads batches of production rows (CSV or Parquet files, or folders
of them, such as ``data/production/``), keeps the rows whose target cell is filled, leaves
out every row the training data already holds (the raw table and the files of
``data/labelled/``) or that repeats another new row, checks the rest against the data
contract, and writes them as one new CSV file ``data/labelled/rows-<hash>.csv``. Existing
files are never changed: the training data grows by files, each added in a reviewed pull
request, so every earlier version stays in the history. Run it twice on the same batches and
the second run finds nothing new and writes nothing.

The ``data`` stage appends the files of ``data/labelled/`` to the raw table (see
:func:`.data.load_raw`), so ``dvc repro`` retrains on them. The Model health workflow runs
this command when its owner enabled retraining; it works by hand the same way.

Rows count as already there when their model columns (features, target, and the split's
group or time column) are equal, numbers compared to single precision: a row that went
through a CSV export and back is the same row.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import contract as contracts
from ..core import paths
from ..core.errors import DataError
from ..core.params import Params
from .data import TABLE_SUFFIXES, feature_columns, load_raw, read_table, row_keys


@dataclass(frozen=True)
class Added:
    """What one run found: labelled rows in the batches, those new to the training data, and the file written."""

    labelled_rows: int
    new_rows: int
    path: Path | None


def batch_files(paths: list[Path]) -> list[Path]:
    """The tables to read: each file as given, and the CSV and Parquet files of each folder, by name."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder; give the production batches (e.g. data/production/)")
    return files


def model_columns(params: Params, contract: contracts.Contract) -> list[str]:
    """The columns the data stage checks and the model uses: the features, the target and the split's column."""
    data = params.data
    columns = [*feature_columns(params, contract), data.target]
    return list(dict.fromkeys(columns + ([data.split_column] if data.split_column else [])))


def comparable_keys(frame: pd.DataFrame, columns: list[str], contract: contracts.Contract) -> np.ndarray:
    """One hash per row of ``columns``, typed by the contract, numbers in single precision, all else as text."""
    typed = contracts.typed(frame[columns], contract)
    alike = {}
    for name in columns:
        values = typed[name]
        if pd.api.types.is_float_dtype(values.dtype):
            alike[name] = values.astype("float32")
        else:
            alike[name] = contracts.as_text(values).astype(object)
    return row_keys(pd.DataFrame(alike, index=frame.index))


def _as_csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def run(
    batches: list[Path],
    params: Params,
    contract_path: Path = paths.CONTRACT_PATH,
    directory: Path = paths.LABELLED_DIR,
    dry_run: bool = False,
) -> Added:
    """Add the batches' new labelled rows to ``directory`` as one new file (nothing when none is new)."""
    contract = contracts.load(contract_path)
    columns = model_columns(params, contract)
    target = params.data.target
    text = [name for name in contracts.text_columns(contract) if name in columns]
    files = batch_files(batches)
    if not files:
        raise DataError(f"no CSV or Parquet files in {', '.join(map(str, batches))}; nothing to add")
    parts = []
    for path in files:
        frame = read_table(path, text)
        if target not in frame.columns:
            continue  # a batch without outcomes teaches nothing
        missing = [name for name in columns if name not in frame.columns]
        if missing:
            raise DataError(
                f"{path}: has outcomes in {target!r} but lacks the columns {missing}; "
                f"training rows need every column of {columns}"
            )
        parts.append(frame.loc[contracts.as_text(frame[target]).notna().to_numpy(), columns])
    labelled = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    if labelled.empty:
        return Added(0, 0, None)

    known, _, _ = load_raw(params.data, contract, directory)  # the raw table and the rows added before
    absent = [name for name in columns if name not in known.columns]
    if absent:
        raise DataError(f"the training data has no columns {absent}; check data.target and data-contract.yaml")
    seen = set(comparable_keys(known, columns, contract).tolist())
    keys = comparable_keys(labelled, columns, contract)
    new = ~pd.Series(keys).isin(seen).to_numpy() & ~pd.Series(keys).duplicated().to_numpy()
    fresh = labelled[new].reset_index(drop=True)
    if fresh.empty or dry_run:
        return Added(len(labelled), len(fresh), None)

    problems = contracts.check(contracts.typed(fresh, contract), contract, columns, contract_path)
    if problems:
        raise DataError(
            f"{len(fresh)} new labelled rows break {contract_path} ({len(problems)} problems):\n  - "
            + "\n  - ".join(problems)
            + "\nReview the contract (a wider range, a new category) in a pull request, then run add-labelled again"
        )
    if params.task == "classification":  # classes as the data stage reads them: 1, not the 1.0 of a column with gaps
        fresh[target] = contracts.as_text(fresh[target])
    content = _as_csv(fresh)
    path = directory / f"rows-{hashlib.sha256(content).hexdigest()[:16]}.csv"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return Added(len(labelled), len(fresh), path)
