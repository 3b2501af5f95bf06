"""Run a generated project's whole local loop, as its README tells a new user to.

One configuration installs with uv, the other with plain pip, so both documented paths stay
true. Each step is a real command in the baked project; a failure shows its output.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from bakery import TOOLS_BIN, bake, remote_url, run
from tables import NOT_FEATURES, target_of

LOOPS = [
    pytest.param({"task": "classification", "dvc_remote": "none"}, "uv", id="classification-none-uv"),
    pytest.param({"task": "regression", "dvc_remote": "local"}, "pip", id="regression-local-pip"),
]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()  # the hash DVC itself records


def create_environment(project: Path, installer: str) -> Path:
    """Install the project and its dev group as the README says; return the environment's bin folder."""
    if installer == "uv":
        run([str(TOOLS_BIN / "uv"), "sync", "--python", sys.executable], project)
    else:
        run([sys.executable, "-m", "venv", ".venv"], project)
        python = str(project / ".venv/bin/python")
        run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip>=25.1"], project)
        run([python, "-m", "pip", "install", "--quiet", "-e", ".", "--group", "dev"], project)
    return project / ".venv/bin"


@pytest.mark.loop
@pytest.mark.parametrize(("answers", "installer"), LOOPS)
def test_the_local_loop(tmp_path, answers, installer):
    storage = remote_url(answers["dvc_remote"], tmp_path)
    project = bake(tmp_path / "out", **answers, dvc_remote_url=storage)
    bin_dir = create_environment(project, installer)
    env = {**os.environ, "PATH": os.pathsep.join([str(bin_dir), os.environ["PATH"]])}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-cache")

    def sh(*command: str, check: bool = True):
        return run(list(command), project, env=env, check=check)

    # Lint: the generated code passes its own linters, unchanged.
    sh("ruff", "check", ".")
    sh("ruff", "format", "--check", ".")
    sh("pre-commit", "run", "--all-files", "--show-diff-on-failure")
    # A template update's leftover .rej file is refused until it is dealt with.
    (project / "params.yaml.rej").write_text("@@ -1 +1 @@\n-a\n+b\n", encoding="utf-8")
    sh("git", "add", "params.yaml.rej")
    refused = sh("pre-commit", "run", "no-template-rejects", "--all-files", check=False)
    assert refused.returncode != 0 and "params.yaml.rej" in refused.stdout
    sh("git", "rm", "--quiet", "--force", "params.yaml.rej")

    # The model tests fail (never skip) before the pipeline has run, and say what to do.
    early = sh("pytest", "-q", "tests/model", check=False)
    assert early.returncode != 0 and "run `dvc repro`" in early.stdout
    assert " skipped" not in early.stdout

    sh("dvc", "repro")
    tested = sh("pytest", "-q")
    assert " failed" not in tested.stdout and " skipped" not in tested.stdout
    a_split_that_breaks_the_contract_fails_the_data_tests(project, bin_dir, sh)

    # Nothing changed: nothing runs.
    model = project / "models/model.skops"
    first_md5, first_mtime = md5(model), model.stat().st_mtime_ns
    again = sh("dvc", "repro")
    assert "Data and pipelines are up to date." in again.stdout
    assert model.stat().st_mtime_ns == first_mtime

    # A forced rerun retrains from scratch and gives the same bytes.
    forced = sh("dvc", "repro", "--force")
    assert "Running stage 'train'" in forced.stdout
    assert md5(model) == first_md5
    sh("dvc", "status")

    # What reviewers and `dvc` users look at works on these outputs.
    assert "roc_auc" in sh("dvc", "metrics", "show").stdout or "r2" in sh("dvc", "metrics", "show").stdout
    sh("dvc", "params", "diff")
    sh("dvc", "plots", "show")
    assert (project / "dvc_plots/index.html").is_file()
    assert sorted(p.name for p in (project / "reports/figures").glob("*.png"))

    # Commit through the installed Git hooks and push; with a remote, the pre-push hook runs `dvc push`.
    sh("pre-commit", "install")
    sh("git", "add", "--all")
    sh("git", "commit", "--quiet", "-m", "Train the first model")
    assert sh("git", "status", "--porcelain").stdout == ""
    origin = tmp_path / "origin.git"
    run(["git", "init", "--quiet", "--bare", str(origin)], tmp_path)
    sh("git", "remote", "add", "origin", str(origin))
    sh("git", "push", "--quiet", "origin", "main")

    if answers["dvc_remote"] == "local":
        # The push sent the data: lose the cache and the outputs, and pull them back.
        shutil.rmtree(project / ".dvc/cache")
        model.unlink()
        shutil.rmtree(project / "data/processed")
        sh("dvc", "pull")
        assert md5(model) == first_md5
        assert (project / "data/processed/train.parquet").is_file()
        assert "Data and pipelines are up to date." in sh("dvc", "status").stdout

    bring_your_own_data(project, answers["task"], tmp_path, sh)


SPOIL = """
import sys
import pandas as pd
import yaml

path, contract = sys.argv[1], yaml.safe_load(open("data-contract.yaml", encoding="utf-8"))["columns"]
frame = pd.read_parquet(path)
column = next(name for name in frame.columns if contract[name]["type"] == "numeric")
frame.loc[0, column] = contract[column]["max"] + 1
frame.to_parquet(path, index=False)
print(column)
"""


def a_split_that_breaks_the_contract_fails_the_data_tests(project: Path, bin_dir: Path, sh) -> None:
    """The data tests read the contract in Git, not a schema the same run derived: a value above
    a column's `max` in the test split, written by hand, fails them; the untouched split passes."""
    split = project / "data/processed/test.parquet"
    kept = split.read_bytes()
    column = sh(str(bin_dir / "python"), "-c", SPOIL, str(split)).stdout.strip()
    failed = sh("pytest", "-q", "-p", "no:xdist", "tests/data", check=False)
    split.write_bytes(kept)
    assert failed.returncode != 0
    assert "FAILED tests/data/test_split.py::test_the_split_meets_the_data_contract[test]" in failed.stdout
    assert f"column {column!r} has 1 row outside" in failed.stdout, failed.stdout
    assert re.search(r"^1 failed, \d+ passed", failed.stdout, re.M), "only the contract's test fails"
    sh("pytest", "-q", "tests/data")


PACKAGE = "tumour_classifier"  # the project's command, with the default answers
TABLES = Path(__file__).resolve().parent / "tables.py"  # run with the project's Python: it needs pandas
# Per task: the feature whose effect is known (quality.direction) and, for 3+ classes, the class it moves.
KNOWN_EFFECT = {"classification": ("tenure (months)", "premium"), "regression": ("monthly spend", None)}


def params_exclude(project: Path) -> list[str]:
    return yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))["data"]["exclude"]


def bring_your_own_data(project: Path, task: str, tmp_path: Path, sh) -> None:
    """The README's "Bring your own data": adopt a raw table, review, reproduce, test; then a
    malformed version of the table must stop the data stage with every problem in one run."""
    target, (known, label) = target_of(task), KNOWN_EFFECT[task]
    exported = tmp_path / "exports" / "customers.csv"
    exported.parent.mkdir()
    sh(str(project / ".venv/bin/python"), str(TABLES), "raw", task, str(exported))

    adopted = sh(PACKAGE, "adopt", str(exported), "--target", target).stdout
    raw = project / "data/raw/customers.csv"
    assert raw.read_bytes() == exported.read_bytes()
    assert "ran `dvc add data/raw/customers.csv`" in adopted
    assert set(params_exclude(project)) == set(NOT_FEATURES)
    assert "dummy" in adopted and "quality.direction:" in adopted and "MODEL_CARD.md: the sample text" in adopted
    assert "nothing changed" in sh(PACKAGE, "adopt", str(exported), "--target", target).stdout
    status = sh("git", "status", "--porcelain").stdout
    for changed in ("data/raw/customers.csv.dvc", "params.yaml", "data-contract.yaml", "MODEL_CARD.md"):
        assert changed in status

    # The review step: set the direction check adopt cleared, to a feature whose effect is known.
    params = project / "params.yaml"
    text = params.read_text(encoding="utf-8")
    cleared = next(line for line in text.splitlines() if line.startswith("  direction: null"))
    direction = f"  direction:\n    feature: {known}\n    expect: increase" + (f"\n    label: {label}" if label else "")
    params.write_text(text.replace(cleared, direction), encoding="utf-8")

    assert "Running stage 'data'" in sh("dvc", "repro").stdout
    tested = sh("pytest", "-q")
    assert " failed" not in tested.stdout and " skipped" not in tested.stdout
    sh("git", "add", "--all")
    sh("git", "commit", "--quiet", "-m", "Adopt the customers table")

    # A category the contract does not list and text in a numeric column: one run names both.
    rows = raw.read_text(encoding="utf-8").splitlines()
    header = rows[0].split(",")
    cells = rows[5].split(",")
    cells[header.index("plan code")] = "platinum"
    cells[header.index("monthly spend")] = "forty"
    rows[5] = ",".join(cells)
    raw.write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = raw.read_bytes()
    failed = sh("dvc", "repro", check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "data/raw/customers.csv: 2 problems found" in output
    problems = [line for line in output.splitlines() if line.strip().startswith("- column")]
    assert any("'monthly spend' is numeric" in line and "['forty']" in line and "row 5" in line for line in problems)
    assert any("'plan code'" in line and "['platinum']" in line and "row 5" in line for line in problems)
    assert raw.read_bytes() == before
