"""The data contract inferred from a table's text, and the table typed by it."""

import dataclasses

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.core import contract
from {{ cookiecutter.package_name }}.pipeline import adopt

# Every shape a column of a CSV takes: one list of cells per column, repeated over the rows.
SHAPES = {
    "numbers": ["1.5", "-2e3", ".25", "7", None],
    "whole numbers": ["-5", "12", "100000000000000000000"],
    "padded numbers": [" 1.5", "2 ", None],
    "codes": ["007", "012", "3"],
    "zero and half": ["0", "0.5", "10"],
    "nan as text": ["1.5", "Nan"],  # not among the words read_csv takes for an empty cell
    "beyond float": ["1.5", "1e999"],
    "blanks": ["  ", "4", None],
    "yes/no": ["Yes", "no ", None],
    "zero/one": ["1", "0"],
    "dates": ["2024-01-02", "2023-12-31 10:00", None],
    "words and numbers": ["a", "1", "2.5"],
    "categories": ["Biscoe", "Dream", "Torgersen", None],
    "empty": [None],
    "label": ["no", "yes"],
}


def csv_table(folder, rows: int = 3000):
    """The shapes as a CSV of `rows` rows, read as `adopt` reads it: every column as text."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({name: rng.choice(np.array(cells, dtype=object), rows) for name, cells in SHAPES.items()})
    frame["identifier"] = [f"id-{i}" for i in range(rows)]
    path = folder / "table.csv"
    frame.to_csv(path, index=False)
    return adopt.read(str(path), "label", "classification").frame


def test_text_read_from_a_csv_is_judged_as_the_same_cells_as_python_objects(tmp_path):
    """Columns of text that pandas read from a CSV (held by pyarrow) take a faster path, which must
    give the same contract and the same typed table as the same cells held as Python objects."""
    read = csv_table(tmp_path)
    objects = read.astype(object)
    assert contract._parsed_by_arrow(read["numbers"]) is not None  # the fast path is taken where it can be
    assert contract._parsed_by_arrow(objects["numbers"]) is None
    fast, general = contract.infer(read, "label", "classification"), contract.infer(objects, "label", "classification")
    assert {name: dataclasses.astuple(column) for name, column in fast.columns.items()} == {
        name: dataclasses.astuple(column) for name, column in general.columns.items()
    }
    assert fast.columns["numbers"].type == "numeric" and fast.columns["codes"].type == "categorical"
    assert fast.columns["whole numbers"].max == 1e20 and fast.columns["identifier"].type == "text"
    typed_fast, typed_general = contract.typed(read, fast), contract.typed(objects, general)
    for name in read.columns:
        got, want = typed_fast[name], typed_general[name]
        if want.dtype == "float64":
            pd.testing.assert_series_equal(got, want, check_exact=True)
        else:  # kept as read (text, or cells that break the contract): the same cells
            assert got.astype(object).equals(want.astype(object)), name
        numbers = pd.to_numeric(objects[name], errors="coerce").astype("float64")
        pd.testing.assert_series_equal(contract.as_numbers(read[name]), numbers, check_exact=True)
