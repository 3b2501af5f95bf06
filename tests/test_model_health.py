"""The Model health workflow, executed with act on a baked classification project.

main holds a reproduced model, released as v0.1.0, and a production batch imported with
`dvc import-url` from a file outside the repository (the owner's export), which each run
brings up to date with `dvc update`. The batches are the project's own test split: as it is
(clean: nothing happens), with one column shifted (drift: one issue and one retrain pull
request), the same again (nothing changes: no comment, no commit), and with another column
shifted (the same issue and the same pull request are updated). The regression task's side
of retraining (add-labelled and the data stage) is covered by the generated project's unit
tests (tests/unit/test_labelled.py).
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from actrunner import Act, git, reproduce_and_commit
from bakery import bake, run

pytestmark = pytest.mark.workflow
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"  # the runner's model must be byte-identical
EVENT = {"schedule": "23 5 * * 1", "repository": {"full_name": "acme/tumour-classifier", "default_branch": "main"}}
RETRAIN = {"MODEL_HEALTH_RETRAIN": "true"}
CHECK, ISSUE, TRAIN, PROPOSE = (
    "Check the live model against the newest batch",
    "Open or update the model-health issue",
    "Retrain on the new labelled rows (read-only)",
    "Propose the retrained model",
)
BRANCH = "model-health/retrain"


# Run with the project's Python (pandas is the project's, not the template tools'): the test split as
# it is, and copies with one column moved up by one standard deviation, kept inside the contract's range.
BATCHES = """
import sys
from pathlib import Path

import pandas as pd
import yaml

test = pd.read_parquet("data/processed/test.parquet")
bounds = yaml.safe_load(Path("data-contract.yaml").read_text())["columns"]
folder = Path(sys.argv[1])
test.to_csv(folder / "clean.csv", index=False)
for column in sys.argv[2:]:
    moved = (test[column] + test[column].std()).clip(bounds[column]["min"], bounds[column]["max"])
    test.assign(**{column: moved}).to_csv(folder / f"{column}.csv", index=False)
print(len(test))
"""


def test_a_drifted_batch_opens_one_issue_and_one_retrain_pull_request(tmp_path):
    project = bake(tmp_path / "out", python_version=PYTHON)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(project, "remote", "add", "origin", str(origin))
    reproduce_and_commit(project)
    git(project, "tag", "model@v0.1.0")  # the release the check compares with
    batches = tmp_path / "batches"
    batches.mkdir()
    shifts = ["mean texture", "mean smoothness"]
    rows = int(run([str(project / ".venv/bin/python"), "-c", BATCHES, str(batches), *shifts], project).stdout)

    # The owner's export, imported once; main's DVC cache as CI on main keeps it for the workflows.
    export = tmp_path / "exports" / "scored.csv"
    export.parent.mkdir()
    shutil.copy(batches / "clean.csv", export)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join([str(project / ".venv/bin"), env["PATH"]])
    run(["dvc", "import-url", "--quiet", str(export), "data/production/scored.csv"], project, env=env)
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Production batches: the scored rows export")
    git(project, "push", "--quiet", "origin", "main")
    act = Act(project, tmp_path / "act")
    shutil.copytree(project / ".dvc/cache", act.state / "cache" / f"dvc-main-Linux-{git(project, 'rev-parse', 'HEAD')}")

    clean = act.run("model-health.yml", "schedule", EVENT, variables=RETRAIN)
    assert clean.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    assert clean.calls == [], "a batch like the test split raises nothing and adds no rows (they are known)"
    assert (clean.job_result(CHECK), clean.job_result(ISSUE), clean.job_result(TRAIN)) == (
        "succeeded",
        "skipped",
        "skipped",
    )
    assert "monitor: nothing crossed a threshold" in clean.log
    assert "0 labelled rows are not in the training data" in clean.log

    shutil.copy(batches / "mean texture.csv", export)
    drifted = act.run("model-health.yml", "schedule", EVENT, variables=RETRAIN)
    assert drifted.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    issue, pull = (
        next(c for c in drifted.calls if c.get("issue")),
        next(c for c in drifted.calls if c.get("pr")),
    )
    assert (issue["action"], issue["issue"]) == ("created", 1)
    assert issue["title"] == "Model health: the model in production needs attention"
    assert "model in production (v0.1.0)" in issue["body"] and "`mean texture` drifted" in issue["body"]
    assert (pull["action"], pull["pr"], pull["head"], pull["base"]) == ("created", 1, BRANCH, "main")
    assert pull["title"] == f"Retrain on {rows} new labelled production rows"
    assert pull["token"] == "token-for-tests"
    proposed = git(project, "ls-remote", "origin", f"refs/heads/{BRANCH}").split()[0]
    git(project, "fetch", "--quiet", "origin", BRANCH)
    changed = git(project, "diff", "--name-only", "main", proposed).splitlines()
    (rows_file,) = [name for name in changed if name.startswith("data/labelled/")]
    assert rows_file.startswith("data/labelled/rows-") and "dvc.lock" in changed
    assert set(changed) <= {rows_file, "dvc.lock", "models/metadata.json", "models/serving.json"} | {
        name for name in changed if name.startswith("reports/")
    }
    added = git(project, "show", f"{proposed}:{rows_file}").splitlines()
    assert len(added) == rows + 1, "the header and every shifted row, once"
    assert git(project, "log", "--format=%an", "-1", proposed) == "github-actions[bot]"
    assert git(project, "ls-remote", "origin", "refs/heads/main").split()[0] == git(project, "rev-parse", "main")

    again = act.run("model-health.yml", "schedule", EVENT, variables=RETRAIN)
    assert again.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    assert again.calls == [], "nothing new: no comment, no edit, no second issue or pull request"
    assert "already holds these findings" in again.log and "already proposes exactly these rows" in again.log
    assert git(project, "ls-remote", "origin", f"refs/heads/{BRANCH}").split()[0] == proposed

    shutil.copy(batches / "mean smoothness.csv", export)
    newer = act.run("model-health.yml", "schedule", EVENT, variables=RETRAIN)
    assert newer.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    actions = [(c["action"], c.get("issue") or c.get("pr")) for c in newer.calls if c["args"][0] in ("issue", "pr")]
    assert sorted(actions) == [("commented", 1), ("edited", 1), ("edited", 1)], "the issue's body, a comment, the PR"
    edited = next(c for c in newer.calls if c["action"] == "edited" and c.get("issue"))
    assert "`mean smoothness` drifted" in edited["body"]
    assert git(project, "ls-remote", "origin", f"refs/heads/{BRANCH}").split()[0] != proposed
    assert not any(c["action"] == "created" for c in newer.calls)
