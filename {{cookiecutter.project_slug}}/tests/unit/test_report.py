"""The report and the gate on two real pipeline runs: a worse and a better model than base."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.core import paths
from {{ cookiecutter.package_name }}.core.params import load_params
from {{ cookiecutter.package_name }}.pipeline import data, evaluate, export, train
from {{ cookiecutter.package_name }}.review import report
from {{ cookiecutter.package_name }}.search.experiments import Record

WEAK = {"n_estimators": 1, "max_depth": 1}
STRONG = {"n_estimators": 30}


def pipeline_run(folder: Path, csv: Path, hyperparameters: dict, monkeypatch, task: str = "classification") -> Path:
    """Run data -> train -> export -> evaluate in `folder` on `csv`, as `dvc repro` would there."""
    folder.mkdir()
    tolerance = {"accuracy": 0.01, "roc_auc": 0.005} if task == "classification" else {"rmse": 1.0}
    settings = {
        "task": task,
        "data": {
            "source": "file",
            "path": str(csv),
            "target": "label" if task == "classification" else "y",
            "split": "stratified" if task == "classification" else "random",
        },
        "model": {"type": "random_forest", "hyperparameters": hyperparameters},
        "quality": {"tolerance": tolerance},
    }
    (folder / "params.yaml").write_text(yaml.safe_dump(settings))
    shutil.copy(
        csv.parents[2] / paths.CONTRACT_PATH, folder / paths.CONTRACT_PATH
    )  # the table's contract, beside params.yaml
    monkeypatch.chdir(folder)
    params = load_params()
    data.run(params)
    train.run(params)
    export.run()
    evaluate.run(params)
    return folder


@pytest.fixture(scope="module")
def _runs_once(tmp_path_factory, shared_classification_csv):
    """A strong and a weak pipeline run on the same data, made once for this module."""
    folder, csv = tmp_path_factory.mktemp("runs"), shared_classification_csv
    with pytest.MonkeyPatch.context() as monkeypatch:
        return pipeline_run(folder / "strong", csv, STRONG, monkeypatch), pipeline_run(
            folder / "weak", csv, WEAK, monkeypatch
        )


@pytest.fixture
def runs(_runs_once, workdir):
    """Copies of both runs in the working folder: a test may damage them."""
    return tuple(shutil.copytree(run, workdir / run.name) for run in _runs_once)


def test_a_worse_model_fails_with_the_reason_first(runs, workdir):
    strong, weak = runs
    verdict = report.write(strong, weak, workdir / "report.md", latency=False)
    text = (workdir / "report.md").read_text()
    assert not verdict.passed
    first_line = text.splitlines()[0]
    assert first_line.startswith("## Model report: ❌ fail: ")
    assert "roc_auc is worse than main by" in first_line
    assert "| `model.hyperparameters.n_estimators` | `30` | `1` |" in text
    assert "| `model.hyperparameters.max_depth` | `null` | `1` |" in text
    assert "### Data: unchanged" in text
    assert text.count("```mermaid") == 2
    assert "**worse**" in text


def test_a_better_model_passes(runs, workdir):
    strong, weak = runs
    verdict = report.write(weak, strong, workdir / "report.md")
    text = (workdir / "report.md").read_text()
    assert verdict.passed
    assert text.startswith("## Model report: ✅ pass")
    served = next(line for line in text.splitlines() if line.startswith("| single-row predict as served"))
    assert served.count("ms (ONNX Runtime)") == 2, served
    assert "| single-row predict in scikit-learn, not served (median of 50) |" in text
    digest = json.loads((strong / "models/metadata.json").read_text())["model_sha256"]
    assert f"<!-- head-model-sha256: {digest} -->" in text


def test_the_gate_command_exits_1_on_a_regression_and_prints_why(runs, capsys):
    strong, weak = runs
    assert main(["gate", "--base", str(strong), "--head", str(weak)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("gate: fail: ") and "roc_auc is worse than main by" in out
    assert main(["gate", "--base", str(weak), "--head", str(strong)]) == 0


def test_a_tampered_head_model_stops_the_report(runs, workdir, capsys):
    strong, weak = runs
    model = weak / "models/model.skops"
    model.write_bytes(model.read_bytes() + b"\0")
    assert main(["report", "--base", str(strong), "--head", str(weak), "--output", str(workdir / "r.md")]) == 2
    assert "differs from" in capsys.readouterr().err


def test_missing_outputs_say_where_to_run_the_pipeline(workdir, capsys):
    (workdir / "empty").mkdir()
    assert main(["gate", "--base", str(workdir / "empty"), "--head", str(workdir / "empty")]) == 2
    assert "run `dvc repro` in" in capsys.readouterr().err


def test_a_regression_report_charts_predicted_against_actual(regression_csv, workdir, monkeypatch):
    strong = pipeline_run(workdir / "strong", regression_csv, STRONG, monkeypatch, task="regression")
    weak = pipeline_run(workdir / "weak", regression_csv, WEAK, monkeypatch, task="regression")
    verdict = report.write(strong, weak, workdir / "report.md", latency=False)
    text = (workdir / "report.md").read_text()
    assert not verdict.passed and "rmse is worse than main by" in text.splitlines()[0]
    assert 'title "Predicted vs actual"' in text
    assert "| rmse |" in text and "| r2 |" in text


def test_the_latency_is_the_served_runtimes_and_labelled(runs, workdir, monkeypatch):
    strong, weak = runs
    monkeypatch.chdir(weak)  # the head model is served by scikit-learn (it could not be converted)
    monkeypatch.setattr(export, "convert", lambda *_: (_ for _ in ()).throw(ValueError("cannot convert")))
    assert export.run().runtime == "sklearn"
    report.write(strong, weak, workdir / "report.md")
    rows = [line for line in (workdir / "report.md").read_text().splitlines() if "single-row predict" in line]
    assert len(rows) == 2, rows
    assert rows[0].startswith("| single-row predict as served (median of 50) |")
    assert rows[0].endswith("ms (scikit-learn) |") and "ms (ONNX Runtime) |" in rows[0]
    base_cell, head_cell = rows[1].split("|")[2:4]
    assert base_cell.strip().endswith(" ms") and head_cell.strip() == "served so (above)"


RUN = "https://github.com/acme/tumour-classifier/actions/runs/123"


def trial(number: int, hyperparameters: dict, mean: float, shard: str = "1/2") -> Record:
    return Record(
        search="sweep",
        trial=number,
        shard=shard,
        seed=42,
        metric="roc_auc",
        direction="higher",
        state="complete",
        model={"type": "random_forest", "hyperparameters": hyperparameters},
        cv={"roc_auc": {"mean": mean, "std": 0.01, "folds": [mean] * 5}},
    )


def proposal(**changes) -> str:
    """reports/search.json as `leaderboard --apply` writes it for the head run (STRONG), main's (WEAK) 4th of 9."""
    best, current = trial(1, STRONG, 0.99, shard="2/2"), trial(0, WEAK, 0.91)
    rows = [best.standing(1), trial(2, {"n_estimators": 20}, 0.98).standing(2), current.standing(4)]
    fields = {"run": RUN, "base": "a" * 40, "total": 9, "top": rows, **changes}
    return Record(**{**best.__dict__, **fields}).to_json()


def test_a_pull_request_from_a_search_shows_its_run_and_top_trials_beside_mains(runs, workdir):
    weak, strong = runs[1], runs[0]
    (strong / paths.SEARCH_RECORD_PATH).write_text(proposal())
    text = report.build(report.Side.load(weak), report.Side.load(strong), latency=False)
    section = text.split("### Search: where this model section comes from", 1)[1].split("###", 1)[0]
    assert f"Search `sweep` ([its run]({RUN}), 9 trials on `aaaaaaaaaaaa`)" in section
    assert "its best trial, `sweep-s2-t001`, by roc_auc (higher is better) in 5-fold cross-validation" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert rows == [
        "| 1 | `sweep-s2-t001` | random_forest | n_estimators=30 | 0.9900 ± 0.0100 | this pull request |",
        "| 2 | `sweep-s1-t002` | random_forest | n_estimators=20 | 0.9800 ± 0.0100 | complete |",
        "| 4 | `sweep-s1-t000` | random_forest | max_depth=1, n_estimators=1 | 0.9100 ± 0.0100 "
        "| main's model at the search |",
    ]


def test_a_search_record_that_is_no_fresh_proposal_says_so_or_nothing(runs, workdir):
    strong, weak = runs
    (weak / paths.SEARCH_RECORD_PATH).write_text(proposal())  # head: WEAK, not the proposed STRONG
    text = report.build(report.Side.load(strong), report.Side.load(weak), latency=False)
    assert "names trial `sweep-s2-t001` of search `sweep`, but `params.yaml`'s model section is no longer" in text
    assert "| 1 | `sweep-s2-t001`" not in text
    # One trial's own record, as `dvc exp apply` of it leaves it: the trial and its score, no leaderboard.
    (weak / paths.SEARCH_RECORD_PATH).write_text(trial(0, WEAK, 0.91).to_json())
    text = report.build(report.Side.load(strong), report.Side.load(weak), latency=False)
    assert "It is trial `sweep-s1-t000` of search `sweep`: roc_auc 0.9100 ± 0.0100 in 5-fold" in text
    assert "`leaderboard --search sweep` ranks the search's trials" in text and "| # |" not in text
    (strong / paths.SEARCH_RECORD_PATH).write_text(proposal())  # main merged that search's record already
    (weak / paths.SEARCH_RECORD_PATH).write_text(proposal())
    text = report.build(report.Side.load(strong), report.Side.load(weak), latency=False)
    assert "### Search" not in text and "sweep" not in text


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"top": [{"rank": "first"}]}, "is not a search's record (7 validation errors for Standing"),
        ({"total": "nine"}, "is not a search's record (1 validation error"),
        (
            {"top": [], "cv": {"roc_auc": {"mean": "high", "folds": 5}}},
            "It is trial `sweep-s2-t001` of search `sweep`: roc_auc not scored in 0-fold",
        ),
        ({"run": "javascript:alert(1)//actions/runs/1"}, "Search `sweep` (run locally, 9 trials"),
        ({"search": "x` [click](https://evil.example) |"}, "Search `x  [click](https://evil.example)  ` (["),
    ],
)
def test_a_damaged_search_record_is_named_and_never_breaks_the_report(runs, workdir, changes, shown):
    weak, strong = runs[1], runs[0]
    (strong / paths.SEARCH_RECORD_PATH).write_text(proposal(**changes))
    text = report.build(report.Side.load(weak), report.Side.load(strong), latency=False)
    assert shown in text
    assert "javascript:" not in text.replace("run locally", "")
