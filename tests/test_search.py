"""The generated project's hyperparameter search, run as a user runs it.

One baked default project (the search's budget cut to 6 trials of 3 folds, committed), its
data stage run, and then, in order, on that project: `search` records every trial as a DVC
experiment (`dvc exp show --json` lists each with its params and cross-validated metrics), its
best is at least as good as the current model (the first trial) and the workspace is left as
it was; the same seed gives the same trials and scores; two shards, then `leaderboard --apply`
(the matrix and collect jobs of the workflow to come); the fits on a Dask cluster started here
find the same best trial; and the errors a user meets say what to do. One test, because
each step runs on the same Git repository's experiment refs.
"""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from bakery import TOOLS_BIN, bake, run

PACKAGE = "tumour_classifier"
TRIALS, FOLDS = 6, 3

ON_A_CLUSTER = textwrap.dedent(
    """
    import os, subprocess, sys
    from distributed import LocalCluster

    # Two worker processes, one thread each: the fits run in the cluster's processes, not the search's.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        env = {**os.environ, "DASK_SCHEDULER_ADDRESS": cluster.scheduler_address}
        done = subprocess.run(sys.argv[1:], env=env)
    sys.exit(done.returncode)
    """
)


def records(project: Path, search: str) -> dict[str, dict]:
    """Experiment name -> its reports/search.json, as `dvc exp show --json` reports them, for one search."""
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project, env=environment(project)).stdout)
    found = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            for revision in experiment.get("revs") or []:
                name = revision.get("name") or ""
                if not name.startswith(f"{search}-"):
                    continue
                data = revision["data"]
                record = data["metrics"]["reports/search.json"]["data"]
                model = data["params"]["params.yaml"]["data"]["model"]
                assert model["type"] == record["model"]["type"], name  # params.yaml holds the trial's model
                # DVC's metrics reader drops the record's nulls (max_depth: null); params.yaml keeps them.
                settings = {key: value for key, value in model["hyperparameters"].items() if value is not None}
                assert settings == record["model"]["hyperparameters"], name
                record["model"]["hyperparameters"] = model["hyperparameters"]
                found[name] = record
    return found


def environment(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join([str(project / ".venv/bin"), env["PATH"]])
    return env


def scores(found: dict[str, dict]) -> list[tuple]:
    """What must not depend on the run: each trial's configuration and cross-validated score."""
    return sorted(
        (record["trial"], record["state"], json.dumps(record["model"], sort_keys=True), record["cv"]["roc_auc"]["mean"])
        for record in found.values()
    )


@pytest.mark.loop
def test_search_records_reproducible_trials_ranks_them_and_applies_the_best(tmp_path):
    project = bake(tmp_path / "out")
    env = environment(project)

    def sh(*command: str, check: bool = True):
        return run(list(command), project, env=env, check=check)

    uv = str(TOOLS_BIN / "uv")
    run([uv, "sync", "--quiet", "--locked", "--group", "cluster", "--python", sys.executable], project)
    params = project / "params.yaml"
    text = params.read_text()
    text = re.sub(r"trials: \d+ ", f"trials: {TRIALS} ", text)
    params.write_text(re.sub(r"cv_folds: \d+ ", f"cv_folds: {FOLDS} ", text))
    sh("git", "commit", "--quiet", "-am", "A small search")

    # Without the split, the search says which stage to run.
    missing = sh(PACKAGE, "search", check=False)
    assert missing.returncode == 2 and "run `dvc repro data`" in missing.stderr
    sh("dvc", "repro", "--quiet", "data")
    sh("git", "add", "--all")
    sh("git", "commit", "--quiet", "-m", "The split")
    before = params.read_text()

    done = sh(PACKAGE, "search", "--name", "first")
    assert f"search: {TRIALS} trials recorded as experiments (local processes)" in done.stdout
    first = records(project, "first")
    assert sorted(first) == [f"first-t{n:03d}" for n in range(TRIALS)]
    current = yaml.safe_load(before)["model"]
    baseline = first["first-t000"]
    assert baseline["model"] == {"type": current["type"], "hyperparameters": current["hyperparameters"]}
    complete = [record for record in first.values() if record["state"] == "complete"]
    best = max(record["cv"]["roc_auc"]["mean"] for record in complete)  # roc_auc: higher is better
    assert best >= baseline["cv"]["roc_auc"]["mean"]
    assert params.read_text() == before and sh("git", "status", "--porcelain").stdout == ""

    # The same seed gives the same trials and scores.
    sh(PACKAGE, "search", "--name", "again")
    assert scores(records(project, "again")) == scores(first)

    # A matrix of two: each shard its share and its own seed; then the collect job's leaderboard and apply.
    for shard in ("1/2", "2/2"):
        sh(PACKAGE, "search", "--name", "wide", "--trials", "4", "--shard", shard)
    wide = records(project, "wide")
    assert sorted(wide) == ["wide-s1-t000", "wide-s1-t001", "wide-s2-t000", "wide-s2-t001"]
    board = sh(PACKAGE, "leaderboard", "--search", "wide", "--apply")
    table = (project / "reports/leaderboard/leaderboard.md").read_text()
    assert "## Search `wide`: 4 trials" in table and table.split("\n![")[0] in board.stdout  # the file adds the chart
    assert f"by {FOLDS}-fold cross-validation on the training split" in table
    assert (project / "reports/leaderboard/leaderboard.png").read_bytes().startswith(b"\x89PNG")
    winner = json.loads((project / "reports/search.json").read_text())
    ranked = sorted((r for r in wide.values() if r["state"] == "complete"), key=lambda r: -r["cv"]["roc_auc"]["mean"])
    assert winner["cv"]["roc_auc"]["mean"] == ranked[0]["cv"]["roc_auc"]["mean"]
    assert f"Best: `{winner['search']}-s" in table
    applied = yaml.safe_load(params.read_text())["model"]
    assert {"type": applied["type"], "hyperparameters": applied["hyperparameters"]} == winner["model"]
    assert "# hist_gradient_boosting | random_forest" in params.read_text()  # the comments stay
    # What the Model report shows of it: the search's size, the commit, the ranked trials, the current model's.
    head = sh("git", "rev-parse", "HEAD").stdout.strip()
    assert (winner["total"], winner["base"]) == (4, head) and "run" not in winner  # no --run-url given
    assert [row["rank"] for row in winner["top"]] == [1, 2, 3, 4]
    assert winner["top"][0]["experiment"] == f"{winner['search']}-s{winner['shard'][0]}-t{winner['trial']:03d}"
    assert [row["experiment"] for row in winner["top"] if row["current"]] == ["wide-s1-t000"]
    sh("git", "checkout", "--", "params.yaml", "reports/search.json")

    # The fits on a Dask cluster: the same trials, so the same best.
    cluster = sh("python", "-c", ON_A_CLUSTER, PACKAGE, "search", "--name", "dask")
    assert "(Dask cluster at tcp://" in cluster.stdout
    assert scores(records(project, "dask")) == scores(first)

    # The time budget: the first batch runs however short it is (starting the workers alone may take longer),
    # then no new batch once it is spent; the output says so and how to get more.
    params.write_text(before.replace("timeout_minutes: 60 ", "timeout_minutes: 0.0001 "))
    sh("git", "commit", "--quiet", "-am", "A search of a moment")
    brief = sh(PACKAGE, "search", "--name", "brief", "--workers", "2")
    assert sorted(records(project, "brief")) == ["brief-t000", "brief-t001"], "one batch of two workers, then time"
    assert f"ended it after 2 of {TRIALS} trials; raise it in params.yaml" in brief.stdout

    # What a user gets wrong is one line naming the fix.
    params.write_text(before.replace("learning_rate: {low: 0.01, high: 0.3", "learning_rate: {low: 0.3, high: 0.01"))
    dirty = sh(PACKAGE, "search", check=False)
    assert dirty.returncode == 2 and "params.yaml: uncommitted changes; commit them" in dirty.stderr
    sh("git", "commit", "--quiet", "-am", "A bad range")
    bad = sh(PACKAGE, "search", check=False)
    assert bad.returncode == 2
    assert "search.space.hist_gradient_boosting.learning_rate: low (0.3) must be below high (0.01)" in bad.stderr
