"""`adopt` on raw tables made here: what it writes, what it leaves out and why, the bounds it proposes,
that a second run changes nothing, and one clear error per bad input with nothing written."""

import dataclasses
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from ruamel.yaml.comments import CommentedSeq

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.core import contract
from {{ cookiecutter.package_name }}.core.errors import DataError
from {{ cookiecutter.package_name }}.core.params import load_params, round_trip_yaml
from {{ cookiecutter.package_name }}.pipeline import adopt, data

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def sample_card() -> str:
    """A MODEL_CARD.md as the template ships it (breast cancer sections), but for an owner's Out of scope."""
    notes = adopt.SAMPLE_NOTES
    sections = {
        "Intended use": notes["Intended use"][0],
        "Out of scope": "Credit decisions of any kind: the owners say so.",
        "Limitations": notes["Limitations"][0],
    }
    body = "\n\n".join(f"## {heading}\n\n{textwrap.fill(text, 90)}" for heading, text in sections.items())
    return "# Model card notes\n\nWhat people must know before they use this model.\n\n" + body + "\n"


def set_up_project(folder: Path, task: str) -> Path:
    """This project's params.yaml in folder, its comments kept, set back to a sample table of the task
    (with a small forest), and a sample model card."""
    yaml_rt = round_trip_yaml()
    document = yaml_rt.load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    document["task"] = task
    document["data"].update(
        source="sklearn",
        path="data/raw/data.csv",
        target="target",
        split="stratified" if task == "classification" else "random",
        split_column=None,
    )
    nothing = CommentedSeq()
    nothing.fa.set_flow_style()
    document["data"]["exclude"] = nothing
    document["model"]["type"] = "random_forest"
    document["model"]["hyperparameters"] = {"n_estimators": 30}
    document.pop("search", None)  # the task's own (its metric, its model types): not what adopt is about
    with (folder / "params.yaml").open("w", encoding="utf-8") as handle:
        yaml_rt.dump(document, handle)
    (folder / "MODEL_CARD.md").write_text(sample_card(), encoding="utf-8")
    return folder


@pytest.fixture
def project(workdir):
    """project(task): the working folder set up as a project of that task (see set_up_project)."""
    return lambda task: set_up_project(workdir, task)


@pytest.fixture
def fewer_resamples(monkeypatch):
    """10 bootstrap rounds instead of 50, for a test that reads no bound: the bounds' margins are not its subject."""
    monkeypatch.setattr(adopt, "BOOTSTRAP_ROUNDS", 10)


@dataclasses.dataclass(frozen=True)
class Adopted:
    folder: Path
    changed: bool  # what the first `adopt.run` returned
    out: str  # what it printed
    original_params: str  # params.yaml before it


@pytest.fixture(scope="module")
def _customers_adopted_once(tmp_path_factory) -> Adopted:
    """A classification project that adopted the customers table, made once for this module."""
    folder = set_up_project(tmp_path_factory.mktemp("adopted"), "classification")
    raw = customers(folder / "exports/customers.csv")
    original_params = (folder / "params.yaml").read_text(encoding="utf-8")
    said: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setattr(adopt, "BOOTSTRAP_ROUNDS", 10)  # as fewer_resamples: the tests using it read no bound
        changed = adopt.run(str(raw), "churn", say=said.append)
    return Adopted(folder, changed, "".join(f"{line}\n" for line in said), original_params)


@pytest.fixture
def adopted_customers(_customers_adopted_once, workdir) -> Adopted:
    """A copy of that project as the working folder: a test may change it."""
    shutil.copytree(_customers_adopted_once.folder, workdir, dirs_exist_ok=True)
    return dataclasses.replace(_customers_adopted_once, folder=workdir)


def customers(path: Path, rows: int = 300) -> Path:
    """A classification table as people export it: a row index, an ID, text categories with empty cells,
    codes with leading zeros, a date, a constant, a yes/no column, a coded copy of the target, free text,
    three string classes, and a few duplicate rows."""
    rng = np.random.default_rng(1)
    age = rng.integers(18, 90, rows).astype(float)
    income = rng.normal(40_000, 12_000, rows).round(2)
    plan = rng.choice(["basic", "plus", "pro"], rows)
    risk = (age - 50) / 20 + (plan == "pro") * 1.5 - (income - 40_000) / 15_000 + rng.normal(0, 0.5, rows)
    churn = np.where(risk > 0.8, "leave", np.where(risk < -0.5, "stay", "pause"))
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(rows)],
            "age": age,
            "income": income,
            "plan": plan,
            "region": rng.choice(["007", "012", "031"], rows),
            "member": rng.choice(["yes", "no"], rows),
            "signup": pd.date_range("2022-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
            "country": "NL",
            "status_code": pd.Series(churn).map({"stay": 0, "pause": 1, "leave": 2}),
            "notes": [f"called {who} about {n}" for n, who in enumerate(rng.choice(["ann", "bob", "eve"], rows))],
            "churn": churn,
        }
    )
    frame.loc[rng.choice(rows, 12, replace=False), "age"] = np.nan
    frame.loc[rng.choice(rows, 8, replace=False), "plan"] = np.nan
    frame = pd.concat([frame, frame.iloc[:5]], ignore_index=True)  # duplicates
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path)  # with the index: pandas names that column "Unnamed: 0" when it reads it back
    return path


def houses(path: Path, rows: int = 300) -> Path:
    """A regression table on another scale (prices in the hundreds of thousands), with R's row names,
    an identifier, a district with empty cells, a sale date, a constant and the price in thousands (a leak)."""
    rng = np.random.default_rng(2)
    area = rng.uniform(40, 250, rows).round(1)
    rooms = rng.integers(1, 7, rows)
    district = rng.choice(["north", "south", "east", "west"], rows)
    price = area * 3_000 + rooms * 10_000 + np.where(district == "north", 80_000, 0) + rng.normal(0, 20_000, rows)
    frame = pd.DataFrame(
        {
            "rownames": np.arange(1, rows + 1),
            "house_id": rng.permutation(900_000)[:rows] + 100_000,
            "area": area,
            "rooms": rooms,
            "district": district,
            "sold_on": pd.date_range("2020-01-01", periods=rows, freq="W").strftime("%Y-%m-%d"),
            "currency": "EUR",
            "price_k": (price / 1000).round(6),
            "price": price.round(2),
        }
    )
    frame.loc[rng.choice(rows, 10, replace=False), "district"] = np.nan
    frame.loc[rng.choice(rows, 6, replace=False), "area"] = np.nan
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def comments(lines: list[str]) -> list[str]:
    return [line.split("#", 1)[1].strip() for line in lines if "#" in line]


def params_data(folder: Path) -> dict:
    return yaml.safe_load((folder / "params.yaml").read_text(encoding="utf-8"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "exports" not in path.parts
    }


def test_a_classification_table_is_adopted_and_a_second_run_changes_nothing(adopted_customers, capsys, fewer_resamples):
    folder, out, original_params = adopted_customers.folder, adopted_customers.out, adopted_customers.original_params
    raw = folder / "exports/customers.csv"
    assert adopted_customers.changed is True

    copied = folder / "data/raw/customers.csv"
    assert copied.read_bytes() == raw.read_bytes()
    # No .dvc folder here: the command to run by hand is printed.
    assert "dvc add data/raw/customers.csv" in out

    settings = params_data(folder)
    expected = {
        "source": "file",
        "path": "data/raw/customers.csv",
        "target": "churn",
        "features": [],
        "split": "stratified",
        "split_column": None,
        "exclude": ["Unnamed: 0", "customer_id", "signup", "country", "status_code", "notes"],
    }
    assert {key: settings["data"][key] for key in expected} == expected
    assert settings["quality"]["direction"] is None
    assert settings["quality"]["maximum"] == {}
    assert set(settings["quality"]["minimum"]) == set(settings["quality"]["tolerance"]) == {"accuracy", "f1", "roc_auc"}
    load_params(folder / "params.yaml")  # the pipeline loads what adopt wrote

    # Every comment survives but those adopt rewrites: the old direction check (the file's last block)
    # and the reasons beside an earlier data.exclude.
    text = (folder / "params.yaml").read_text(encoding="utf-8")
    lines = original_params.splitlines()
    direction_at = next(i for i, line in enumerate(lines) if line.startswith("  direction:"))
    kept = [line for line in lines[:direction_at] if not line.startswith("    - ")]
    assert set(comments(kept)) <= set(comments(text.splitlines()))
    reasons = {
        "'Unnamed: 0'": "row number",
        "customer_id": "identifier",
        "signup": "date or time: not a feature; use it as data.split_column with data.split: time",
        "country": "constant",
        "status_code": "leak",
        "notes": "free text",
    }
    for column, reason in reasons.items():
        line = next(line for line in text.splitlines() if line.strip().startswith(f"- {column}"))
        assert line.split("#", 1)[1].strip().startswith(reason), line
    assert "direction: null" in text and "expect: increase | decrease" in text

    written = contract.load(folder / "data-contract.yaml")
    types = {name: column.type for name, column in written.columns.items()}
    assert types == {
        "Unnamed: 0": "numeric",
        "customer_id": "text",
        "age": "numeric",
        "income": "numeric",
        "plan": "categorical",
        "region": "categorical",
        "member": "boolean",
        "signup": "datetime",
        "country": "categorical",
        "status_code": "numeric",
        "notes": "text",
        "churn": "categorical",
    }
    assert written["region"].categories == ("007", "012", "031")  # codes keep their zeros
    assert written["churn"].categories == ("leave", "pause", "stay")
    assert written["age"].empty > 0 and written["plan"].empty > 0 and written["income"].empty == 0

    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "breast cancer" not in card and "few hundred rows" not in card
    assert "_To do:_ what the model predicts (`churn`)" in card
    assert "Credit decisions of any kind: the owners say so." in card  # the owners' text stays
    assert [line for line in card.splitlines() if line.startswith("## ")] == [
        "## Intended use",
        "## Out of scope",
        "## Limitations",
    ]
    for expected in (
        "data.path: ",
        " -> data/raw/customers.csv",
        "quality.minimum.accuracy: ",
        "MODEL_CARD.md: the sample",
    ):
        assert expected in out

    before = snapshot(folder)
    assert adopt.run(str(raw), "churn") is False
    assert snapshot(folder) == before
    assert "nothing changed" in capsys.readouterr().out
    # The same file named where it now lives is used in place.
    assert adopt.run("data/raw/customers.csv", "churn") is False
    assert snapshot(folder) == before


def test_a_column_left_out_by_hand_stays_out_with_its_reason(adopted_customers, capsys, fewer_resamples):
    folder = adopted_customers.folder
    raw = folder / "exports/customers.csv"
    params = folder / "params.yaml"
    lines = params.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("- customer_id"))
    lines.insert(at + 1, "    - region                      # codes are reassigned every year\n")
    params.write_text("".join(lines), encoding="utf-8")

    adopt.run(str(raw), "churn")
    assert "region" in params_data(folder)["data"]["exclude"]
    assert "- region                      # codes are reassigned every year" in params.read_text(encoding="utf-8")
    assert "region       codes are reassigned every year" in capsys.readouterr().out


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_leak_is_judged_on_every_row_not_only_the_first(task):
    """The leak checks rule columns out on their first rows (adopt.FIRST_PAIRS) before they look at the
    whole column: a column that copies or codes the target only there is a feature, one that does in
    every row is a leak."""
    rows = adopt.FIRST_PAIRS + 2_000
    rng = np.random.default_rng(5)
    first = np.arange(rows) < adopt.FIRST_PAIRS
    if task == "classification":
        goal = pd.Series(rng.choice(["low", "high"], rows))
    else:
        goal = pd.Series(rng.integers(50, 150, rows).astype(float))  # values that repeat, as prices do
    code = goal.map(lambda value: f"k-{value}")  # one code per value of the target
    other = pd.Series(rng.choice(["a", "b", "c"], rows))
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows),  # every row distinct
            "copy": goal,
            "copy_at_first": goal.where(first, goal.sample(frac=1, random_state=1).to_numpy()),
            "code": code,
            "code_at_first": code.where(first, other),
            "y": goal,
        }
    )
    found = adopt.left_out(frame, contract.infer(frame, "y", task), "y", task, skip=set())
    assert found["copy"] == "leak: equal to the target"
    assert found["code"].startswith("leak: a one-to-one code of the target")
    assert "copy_at_first" not in found and "code_at_first" not in found, found


def test_the_data_stage_then_refuses_a_table_that_breaks_the_contract(adopted_customers):
    folder = adopted_customers.folder
    raw = folder / "data/raw/customers.csv"
    spoiled = pd.read_csv(raw, dtype=str, keep_default_na=False)
    spoiled.loc[3, "income"] = "unknown"
    spoiled.loc[6, "plan"] = "platinum"
    spoiled.to_csv(raw, index=False)
    with pytest.raises(DataError) as refused:
        data.run(load_params(folder / "params.yaml"))
    message = str(refused.value)
    assert "data/raw/customers.csv: 2 problems found" in message
    assert (
        "column 'income' is numeric in the contract but 1 row" in message and "['unknown'] (first at row 4)" in message
    )
    assert "column 'plan' has 1 row with categories the contract does not list ['platinum'] (first at row 7)" in message


def test_the_bounds_lie_between_the_dummy_and_the_model(project):
    folder = project("classification")
    found = adopt.plan(str(customers(folder / "exports/customers.csv")), "churn", folder / "params.yaml", False)
    assert found.baseline.test_rows + found.baseline.train_rows == found.baseline.rows == 300  # duplicates dropped
    for name, score in found.baseline.scores.items():
        assert score.dummy < found.quality.minimum[name] < score.model, name
        assert 0 < found.quality.tolerance[name] <= 0.1
    assert found.quality.below_dummy == []
    assert not (folder / "data").exists() and not (folder / "data-contract.yaml").exists()  # plan writes nothing


def test_a_large_table_is_measured_on_a_sample(project, monkeypatch, capsys, fewer_resamples):
    monkeypatch.setattr(adopt, "BASELINE_ROWS", 150)
    folder = project("classification")
    adopt.run(str(customers(folder / "exports/customers.csv")), "churn")
    assert "Baseline: a sample of 150 of the 305 rows -> " in capsys.readouterr().out
    assert contract.load(folder / "data-contract.yaml")["income"].type == "numeric"  # the contract sees every row


def test_a_regression_table_gets_floors_and_ceilings_on_its_own_scale(project, capsys):
    folder = project("regression")
    raw = houses(folder / "exports/houses.csv")
    found = adopt.plan(str(raw), "price", folder / "params.yaml", False)
    assert found.exclude == {
        "rownames": "row number: an index written out with the table",
        "house_id": "identifier: a different value in every row",
        "sold_on": "date or time: not a feature; use it as data.split_column with data.split: time",
        "currency": "constant: 'EUR' in every row",
        "price_k": "leak: moves in step with the target in every row (rank correlation 1)",
    }
    assert found.data["split"] == "random"
    scores, quality = found.baseline.scores, found.quality
    assert scores["r2"].dummy < quality.minimum["r2"] < scores["r2"].model
    for error in ("rmse", "mae"):
        assert scores[error].model < quality.maximum[error] < scores[error].dummy
        assert quality.tolerance[error] >= 100  # prices: the tolerance is on the target's scale
    assert quality.tolerance["r2"] < 0.1

    adopt.run(str(raw), "price")
    written = contract.load(folder / "data-contract.yaml")
    assert written["price"].type == "numeric" and written["price"].min > 50_000
    assert written["district"].type == "categorical" and written["district"].empty > 0
    settings = params_data(folder)
    assert settings["quality"]["maximum"] == quality.maximum and settings["quality"]["minimum"] == quality.minimum
    assert "rank correlation" in capsys.readouterr().out


def test_a_group_or_time_split_the_user_chose_is_kept(project, fewer_resamples):
    folder = project("classification")
    params = folder / "params.yaml"
    params.write_text(
        params.read_text(encoding="utf-8")
        .replace("  split: stratified ", "  split: time       ")
        .replace("  split_column: null", "  split_column: signup"),
        encoding="utf-8",
    )
    found = adopt.plan(str(customers(folder / "exports/customers.csv")), "churn", params, False)
    assert (found.data["split"], found.data["split_column"]) == ("time", "signup")
    assert "signup" not in found.exclude  # the split's own column is never a feature anyway


def test_a_european_export_gets_numbers_for_its_numeric_columns(project, fewer_resamples):
    # Semicolons between columns, decimal commas: the contract must type area and price as numbers.
    folder = project("regression")
    source = pd.read_csv(houses(folder / "exports/houses.csv"))
    source.to_csv(folder / "exports/huizen.csv", index=False, sep=";", decimal=",")
    adopt.run(str(folder / "exports/huizen.csv"), "price")
    written = contract.load(folder / "data-contract.yaml")
    assert written["area"].type == written["price"].type == "numeric"
    assert written["price"].max == pytest.approx(source["price"].max())
    assert written["district"].type == "categorical"


def test_a_parquet_file_and_a_sample_table(project, fewer_resamples):
    folder = project("classification")
    source = pd.read_csv(customers(folder / "exports/customers.csv"), dtype={"region": str}).drop(columns="Unnamed: 0")
    source.to_parquet(folder / "exports/customers.parquet", index=False)
    adopt.run(str(folder / "exports/customers.parquet"), "churn")
    assert params_data(folder)["data"]["path"] == "data/raw/customers.parquet"
    assert contract.load(folder / "data-contract.yaml")["region"].type == "categorical"

    adopt.run("sklearn:wine", None)
    data_section = params_data(folder)["data"]
    assert (data_section["source"], data_section["sklearn_dataset"], data_section["target"]) == (
        "sklearn",
        "wine",
        "target",
    )
    assert data_section["exclude"] == []
    assert contract.load(folder / "data-contract.yaml")["target"].categories == ("0", "1", "2")


def test_a_different_file_of_the_same_name_needs_force(project, capsys, fewer_resamples):
    folder = project("classification")
    customers(folder / "data/raw/customers.csv", rows=200)
    newer = customers(folder / "exports/customers.csv")
    assert main(["adopt", str(newer), "--target", "churn"]) == 2
    assert "data/raw/customers.csv already exists and differs" in capsys.readouterr().err
    assert main(["adopt", str(newer), "--target", "churn", "--force"]) == 0
    assert (folder / "data/raw/customers.csv").read_bytes() == newer.read_bytes()


def test_in_a_dvc_project_without_dvc_the_command_is_printed(project, capsys, monkeypatch, fewer_resamples):
    folder = project("classification")
    (folder / ".dvc").mkdir()
    monkeypatch.setattr(adopt.shutil, "which", lambda name: None)
    monkeypatch.setattr(adopt.sys, "executable", str(folder / "no-python"))
    adopt.run(str(customers(folder / "exports/customers.csv")), "churn")
    assert "dvc is not installed here: run `dvc add data/raw/customers.csv` by hand" in capsys.readouterr().out


def test_the_help_imports_neither_pandas_nor_scikit_learn():
    program = (
        "import sys\n"
        "from {{ cookiecutter.package_name }}.cli import main\n"
        "try:\n    main(['adopt', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pandas', 'sklearn', 'ruamel') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert "--target" in done.stdout and done.stdout.strip().endswith("[]")


def write_table(folder: Path, name: str, frame: pd.DataFrame) -> str:
    path = folder / "exports" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return str(path)


def garbage(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xfe\x00\x01 not text")
    return str(path)


BAD_INPUTS = {
    "missing file": (lambda f: str(f / "exports/nowhere.csv"), "churn", "nowhere.csv: file not found; check the path"),
    "unreadable CSV": (lambda f: garbage(f / "exports/bad.csv"), "churn", "bad.csv: not a readable CSV file"),
    "header only": (
        lambda f: write_table(f, "empty.csv", pd.DataFrame(columns=["a", "churn"])),
        "churn",
        "header but no rows",
    ),
    "target not a column": (
        lambda f: write_table(f, "t.csv", pd.DataFrame({"a": [1, 2, 3, 4], "y": [0, 1, 0, 1]})),
        "churn",
        "target column 'churn' not found; columns are ['a', 'y']",
    ),
    "no target given": (
        lambda f: write_table(f, "t.csv", pd.DataFrame({"a": [1, 2, 3, 4], "y": [0, 1, 0, 1]})),
        None,
        "--target COLUMN is missing: the column to predict; columns are ['a', 'y']",
    ),
    "single class": (
        lambda f: write_table(f, "t.csv", pd.DataFrame({"a": [1, 2, 3, 4], "y": ["x"] * 4})),
        "y",
        "target column 'y' has a single class 'x'",
    ),
    "fractional classes": (
        lambda f: write_table(f, "t.csv", pd.DataFrame({"a": range(20), "y": np.linspace(0.5, 9.5, 20)})),
        "y",
        "holds fractional numbers ['0.5', ",
    ),
    "a class of one row": (
        lambda f: write_table(f, "t.csv", pd.DataFrame({"a": range(6), "y": ["p", "p", "q", "q", "q", "r"]})),
        "y",
        "classes ['r'] of 'y' have one row each",
    ),
    "unknown sample table": (lambda f: "sklearn:titanic", None, "sklearn:titanic: no such sample table"),
    "sample table of the other task": (lambda f: "sklearn:diabetes", None, "sklearn:diabetes is a regression table"),
    "nothing to learn from": (
        lambda f: write_table(f, "t.csv", pd.DataFrame({"id": [f"r{i}" for i in range(8)], "y": ["a", "b"] * 4})),
        "y",
        "no column left to learn from besides the target 'y': id: identifier",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_error_line_and_nothing_is_written(project, capsys, case):
    folder = project("classification")
    make, target, message = BAD_INPUTS[case]
    source = make(folder)
    before = snapshot(folder)
    arguments = ["adopt", source] + (["--target", target] if target else [])
    assert main(arguments) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert snapshot(folder) == before


def test_a_regression_target_that_is_not_numeric_is_refused(project, capsys):
    folder = project("regression")
    source = write_table(folder, "t.csv", pd.DataFrame({"a": range(6), "grade": ["A", "B", "3", "n/a ok", "C", "1"]}))
    assert main(["adopt", source, "--target", "grade"]) == 2
    err = capsys.readouterr().err
    assert "target column 'grade' holds text in 4 rows ['A', 'B', 'n/a ok', ...]" in err
    assert "bake a classification project" in err


@pytest.mark.parametrize(
    ("model", "dummy", "spread", "floor"),
    [
        (0.95, 0.6, 0.02, 0.91),  # 0.95 - 2 * 0.02, to the hundredth below
        (0.62, 0.6, 0.02, 0.6),  # the dummy's score stops it
        (0.8169, 0.7525, 0.0518, 0.76),  # rounding down would cross the dummy's: up instead
        (0.55, 0.6, 0.02, 0.6),  # a model worse than the dummy: the dummy's score, and a warning
        (1.0, 0.5, 0.0, 0.99),  # no spread: a margin of 0.01 all the same
    ],
)
def test_a_floor_is_below_the_model_by_twice_the_spread_and_never_below_the_dummy(model, dummy, spread, floor):
    baseline = adopt.Baseline(100, 80, 20, None, {"accuracy": adopt.Score(dummy, model, spread)})
    quality = adopt.propose(baseline)
    assert quality.minimum == {"accuracy": floor}
    assert quality.below_dummy == (["accuracy"] if model <= dummy else [])
