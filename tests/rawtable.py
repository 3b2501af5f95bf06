"""A raw table in a baked project, before `dvc repro`: text categories, codes, empty cells, an ID column.

Until the project's own `adopt` command does it, this writes what adopting a table means:
the CSV at `data/raw/data.csv`, `data-contract.yaml` inferred by the project's own
`contract.infer` (run with the project's Python), and `data.source: file`, `data.target`,
`data.exclude` in `params.yaml`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bakery import run

TARGET = "label"
ID_COLUMN = "row_id"

# Run by the project's Python: args are a JSON object (see write_table).
_SCRIPT = r"""
import json, sys
from pathlib import Path

import numpy as np
import pandas as pd

spec = json.loads(sys.argv[1])
rows, rng = spec["rows"], np.random.default_rng(spec["seed"])
columns = {"row_id": [f"r{i:07d}" for i in range(rows)]}
score = np.zeros(rows)
for i in range(spec["numeric"]):
    values = rng.normal(0.0, 1.0, rows)
    score += values * (1.0 if i % 2 == 0 else -0.5)
    columns[f"num{i}"] = values.round(4)
for j in range(spec["categorical"]):
    # Codes with leading zeros: read as text they stay "007", as numbers they would become 7.
    names = [f"{k:03d}" for k in range(7, 15)] if j == 0 else [f"group {j}-{k}" for k in range(6)]
    picks = rng.integers(0, len(names), rows)
    score += (picks % 3 - 1) * 0.8
    columns[f"cat{j}"] = np.array(names, dtype=object)[picks]
frame = pd.DataFrame(columns)
for name in frame.columns[1:]:
    frame[name] = frame[name].astype(object)
    frame.loc[rng.random(rows) < spec["empty"], name] = None
frame["label"] = np.where(score + rng.normal(0, 0.5, rows) > 0, "approved", "declined")
out = Path(spec["output"])
out.parent.mkdir(parents=True, exist_ok=True)
frame.to_csv(out, index=False)
if spec["contract"]:
    from importlib import import_module

    contract = import_module(spec["package"] + ".contract")
    text = {name: str for name in frame.columns if name.startswith("cat")}
    inferred = contract.infer(pd.read_csv(out, dtype=text), "label", "classification")
    contract.write(inferred, spec["package"], Path("data-contract.yaml"))
"""


def write_table(
    project: Path,
    package: str,
    output: str = "data/raw/data.csv",
    rows: int = 600,
    numeric: int = 3,
    categorical: int = 2,
    empty: float = 0.05,
    seed: int = 0,
    contract: bool = True,
) -> Path:
    """Write a mixed CSV (``row_id``, ``num*``, ``cat*`` with ``empty`` of the cells empty, text classes in
    ``label``) at ``output`` in the project; with ``contract``, its data contract beside it."""
    spec = {
        "rows": rows,
        "numeric": numeric,
        "categorical": categorical,
        "empty": empty,
        "seed": seed,
        "output": output,
        "contract": contract,
        "package": package,
    }
    run([str(project / ".venv/bin/python"), "-c", _SCRIPT, json.dumps(spec)], project)
    return project / output


def adopt(project: Path, package: str, **table) -> Path:
    """Make the mixed table the project's data: the CSV, its contract, and params.yaml's data section."""
    path = write_table(project, package, **table)
    params = project / "params.yaml"
    text = params.read_text(encoding="utf-8")
    for key, value in {"source": "file", "target": TARGET, "exclude": f"[{ID_COLUMN}]"}.items():
        text, count = re.subn(rf"(?m)^(  {key}:)\s*\S+", rf"\g<1> {value}", text, count=1)
        assert count == 1, f"params.yaml has no data.{key}"
    params.write_text(text, encoding="utf-8")
    return path
