"""The Search workflow, executed with act on a baked classification project.

main holds a reproduced model and pushes to a local bare repository, the `origin` every job
of the run checks out from and the propose job pushes to. A dispatch with two runners and a
budget of four trials: each shard's experiments reach the collect job (as Git bundles), the
leaderboard goes to the job summary and the pull request, and the propose job, which runs no
project code, pushes the experiments and the branch search/best with params.yaml's model
section set to the winner, and opens its pull request through the gh stand-in. The same
dispatch again finds the same winner (the search is seeded) and proposes nothing new.
"""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from actrunner import Act, git, reproduce_and_commit
from bakery import bake

pytestmark = pytest.mark.workflow
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
REPOSITORY = {"full_name": "acme/tumour-classifier", "default_branch": "main"}
NAME, TRIALS, RUNNERS = "sweep", 4, 2
EVENT = {"inputs": {"trials": TRIALS, "runners": RUNNERS, "name": NAME}, "repository": REPOSITORY}
PLAN, COLLECT, PROPOSE = (
    "Plan the search",
    "Collect the trials and pick the best (read-only)",
    "Push the experiments and propose the best",
)
BRANCH = "search/best"


def experiments(project, origin_url: str) -> dict[str, str]:
    """The experiments origin holds: their names -> commits."""
    listed = git(project, "ls-remote", origin_url, "refs/exps/*").splitlines()
    return {line.split()[1].rsplit("/", 1)[1]: line.split()[0] for line in listed}


def test_a_search_over_two_runners_proposes_its_winner_once(tmp_path):
    project = bake(tmp_path / "out", python_version=PYTHON)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(project, "remote", "add", "origin", str(origin))
    reproduce_and_commit(project)
    git(project, "push", "--quiet", "origin", "main")
    main = git(project, "rev-parse", "HEAD")
    act = Act(project, tmp_path / "act")

    first = act.run("search.yml", "workflow_dispatch", EVENT)
    assert first.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    assert "Shard 1: 2 experiments bundled." in first.log and "Shard 2: 2 experiments bundled." in first.log
    assert "2 shards' experiments fetched." in first.log
    # Every trial of both shards in the leaderboard the collect job wrote (its job summary and the pull request's body).
    board = (act.state / "artifacts" / "search-proposal" / "leaderboard.md").read_text(encoding="utf-8")
    for trial in ("sweep-s1-t000", "sweep-s1-t001", "sweep-s2-t000", "sweep-s2-t001"):
        assert trial in board
    summary = first.log.split("Summary - ## Search `sweep`: 4 trials", 1)[1].split("⭐ Run", 1)[0]  # act prints it
    rows = [line for line in board.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + 4 and all(row in summary for row in rows), "the leaderboard's table in the job summary"
    assert "leaderboard.png` in the run's `search-proposal` artifact" in summary
    assert (act.state / "artifacts" / "search-proposal" / "leaderboard.png").is_file()

    # The experiments are on origin, on main's commit, under their names.
    pushed = experiments(project, str(origin))
    assert sorted(pushed) == ["sweep-s1-t000", "sweep-s1-t001", "sweep-s2-t000", "sweep-s2-t001"]
    git(project, "fetch", "--quiet", str(origin), "refs/exps/*:refs/exps/*")
    for commit in pushed.values():
        assert git(project, "rev-parse", f"{commit}^") == main

    (pull,) = [call for call in first.calls if call.get("pr")]
    assert (pull["action"], pull["pr"], pull["head"], pull["base"]) == ("created", 1, BRANCH, "main")
    assert pull["title"] == f"Search {NAME}: the best configuration"
    assert all(row in pull["body"] for row in rows) and pull["token"] == "token-for-tests"
    proposed = git(project, "ls-remote", str(origin), f"refs/heads/{BRANCH}").split()[0]
    git(project, "fetch", "--quiet", str(origin), BRANCH)
    assert git(project, "rev-parse", f"{proposed}^") == main
    assert sorted(git(project, "diff", "--name-only", "main", proposed).splitlines()) == [
        "params.yaml",
        "reports/search.json",
    ]
    record = json.loads(git(project, "show", f"{proposed}:reports/search.json"))
    params = yaml.safe_load(git(project, "show", f"{proposed}:params.yaml"))
    assert record["search"] == NAME and record["state"] == "complete"
    # For the Model report: the run, the commit, every trial ranked (four: all in its top five), main's model marked.
    assert "/actions/runs/" in record["run"] and record["base"] == main and record["total"] == TRIALS
    assert [row["rank"] for row in record["top"]] == [1, 2, 3, 4]
    assert [row["experiment"] for row in record["top"] if row["current"]] == [f"{NAME}-s1-t000"]
    assert params["model"]["type"] == record["model"]["type"]
    assert {k: v for k, v in params["model"]["hyperparameters"].items() if v is not None} == {
        k: v for k, v in record["model"]["hyperparameters"].items() if v is not None
    }
    assert git(project, "log", "--format=%an", "-1", proposed) == "github-actions[bot]"
    assert git(project, "ls-remote", str(origin), "refs/heads/main").split()[0] == main

    again = act.run("search.yml", "workflow_dispatch", EVENT)
    assert again.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    assert again.calls == [], "the same winner: no pull request opened or edited"
    assert "already proposes exactly this configuration" in again.log
    assert git(project, "ls-remote", str(origin), f"refs/heads/{BRANCH}").split()[0] == proposed
    assert sorted(experiments(project, str(origin))) == sorted(pushed), "the same trials, replaced under their names"

    # A bad input stops the plan with the value and the fix; nothing runs after it.
    bad = act.run("search.yml", "workflow_dispatch", {**EVENT, "inputs": {**EVENT["inputs"], "runners": 9}})
    assert bad.returncode != 0
    # The job summary names them (act may drop a failing step's last output lines, never the summary).
    refused = bad.log.split("Summary - ### The search did not start", 1)[1].split("⭐ Run", 1)[0]
    assert "- runners is '9': give a whole number from 1 to 8, e.g. 2." in refused
    assert (bad.job_result(PLAN), bad.job_result(COLLECT), bad.job_result(PROPOSE)) == ("failed", "skipped", "skipped")
