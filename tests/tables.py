"""Raw tables with the shapes real exports have, made by the tests (never a named public dataset).

``raw_table`` gives, in one CSV-ready frame: an exported row index (``Unnamed: 0``), an ID
column (text, unique per row), text categories with empty cells, a numeric column with empty
cells, codes with leading zeros, a yes/no column, a constant column, a group column, a date
column, names with spaces and brackets, exact duplicate rows, and the target: three string
classes for classification, or a value on a scale far from the sample dataset's for regression.
``wide_table`` is the benchmark's shape: many numeric and a few categorical columns, a share
of empty cells, optionally all numeric.

Making a table needs numpy and pandas, which a generated project's environment has and the
template's own does not: tests import the names and run the module with the project's Python,

    .venv/bin/python TEMPLATE/tests/tables.py raw classification data/raw/customers.csv
    .venv/bin/python TEMPLATE/tests/tables.py wide 100000 wide.csv [--numeric-only]
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the template's tests import the names below without pandas
    import pandas as pd

SEGMENTS = ["basic", "plus", "premium"]
REGIONS = ["north", "south-east", "west"]
# Columns a project must not learn from, and why: what `adopt` is expected to leave out.
NOT_FEATURES = {
    "Unnamed: 0": "an exported row index",
    "customer id": "an identifier, unique per row",
    "source": "a constant",
    "signed up": "a date",
}


def raw_table(task: str = "classification", rows: int = 600, seed: int = 0, duplicates: int = 12) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    region = rng.choice(REGIONS, rows, p=[0.5, 0.35, 0.15])
    tenure = rng.gamma(4, 9, rows).round(1)
    spend = (tenure * 2.1 + rng.normal(0, 15, rows) + (region == "south-east") * 20).round(2)
    channel = rng.choice(["web", "store"], rows)
    frame = pd.DataFrame(
        {
            "Unnamed: 0": np.arange(rows),
            "customer id": [f"C{seed}-{i:06d}" for i in range(rows)],
            "region": region,
            "tenure (months)": tenure,
            "monthly spend": spend,
            "channel": channel,
            "plan code": rng.choice(["007", "010", "123"], rows),  # codes: text, leading zeros kept
            "autopay": rng.choice(["yes", "no"], rows),
            "source": "crm-export",
            "branch": [f"branch-{i % 40:02d}" for i in rng.permutation(rows)],  # a group column
            "signed up": pd.date_range("2021-03-01", periods=rows, freq="6h").strftime("%Y-%m-%d %H:%M"),
        }
    )
    if task == "classification":
        score = tenure + (region == "south-east") * 12 + (channel == "store") * 6 + rng.normal(0, 6, rows)
        frame["segment"] = np.select([score > 45, score > 30], SEGMENTS[2:0:-1], SEGMENTS[0])
    else:  # a value in the tens of thousands: nothing like the sample dataset's 25..346
        value = 400 * spend + (region == "north") * 9000 + (channel == "store") * 2500 + rng.normal(0, 3000, rows)
        frame["lifetime value"] = value.round(2)
    for column, share in (("tenure (months)", 0.05), ("channel", 0.04), ("region", 0.03)):
        frame.loc[rng.choice(rows, int(rows * share), replace=False), column] = np.nan
    if duplicates:
        frame = pd.concat([frame, frame.iloc[rng.choice(rows, duplicates, replace=False)]], ignore_index=True)
    return frame


def target_of(task: str) -> str:
    return "segment" if task == "classification" else "lifetime value"


def wide_table(
    rows: int, numeric: int = 20, categorical: int = 5, empty: float = 0.05, seed: int = 0, numeric_only: bool = False
) -> pd.DataFrame:
    """A classification table of ``numeric`` + ``categorical`` features with ``empty`` of their cells empty.

    ``numeric_only``: the same table with each category given as its integer code, so the
    benchmark can set the cost of preparing text against the same data in numbers.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, numeric))
    columns = {f"x{i:02d}": values[:, i] for i in range(numeric)}
    signal = values[:, :5].sum(axis=1)
    for i in range(categorical):
        levels = [f"level-{j}" for j in range(4 + 3 * i)]
        codes = rng.integers(0, len(levels), rows)
        columns[f"c{i}"] = codes.astype(float) if numeric_only else np.array(levels, dtype=object)[codes]
        signal = signal + (codes % 3 - 1) * 0.5
    frame = pd.DataFrame(columns)
    for name in frame.columns:
        frame.loc[rng.random(rows) < empty, name] = np.nan
    frame["label"] = np.where(signal + rng.normal(0, 1, rows) > 0, "yes", "no")
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a raw test table as CSV.")
    kinds = parser.add_subparsers(dest="kind", required=True)
    raw = kinds.add_parser("raw", help="every shape of a real export, for a task")
    raw.add_argument("task", choices=["classification", "regression"])
    raw.add_argument("output")
    raw.add_argument("--rows", type=int, default=600)
    raw.add_argument("--seed", type=int, default=0)
    wide = kinds.add_parser("wide", help="the benchmark's table")
    wide.add_argument("rows", type=int)
    wide.add_argument("output")
    wide.add_argument("--numeric-only", action="store_true", help="no categorical columns, same signal")
    wide.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.kind == "raw":
        frame = raw_table(args.task, args.rows, args.seed)
    else:
        frame = wide_table(args.rows, numeric_only=args.numeric_only, seed=args.seed)
    frame.to_csv(args.output, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
