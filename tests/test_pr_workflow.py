"""The pull-request workflow, executed with act on a baked project: report, comment, gate.

main trains a small forest, and CI on main keeps its DVC cache; a pull request first makes
the model worse (the check fails and the comment says why; main's side trains nothing, its
model comes from that cache), then better (the check passes and the same comment is
updated); a pull request from a fork posts nothing. And the attack the gate must survive: a
cache planted under main's key, holding a worse model under the hash of main's, does not
make a worse pull request pass.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from actrunner import Act, git, pull_request_event, reproduce_and_commit
from bakery import bake

REPOSITORY = {"full_name": "acme/tumour-classifier", "name": "tumour-classifier", "owner": {"login": "acme"}}
REPORT_JOB = "Reproduce main and this pull request, report, gate"
COMMENT_JOB = "Post the report on the pull request"
pytestmark = pytest.mark.workflow


def set_forest(project: Path, settings: str, message: str) -> None:
    """Make the model a random forest with these hyperparameters in params.yaml, and commit."""
    params = project / "params.yaml"
    text = re.sub(r"(?m)^  type: \S+", "  type: random_forest", params.read_text(), count=1)
    text = re.sub(r"(  hyperparameters:[^\n]*\n)(    [^\n]*\n)+", rf"\g<1>{settings}", text)
    params.write_text(text)
    git(project, "commit", "--quiet", "--all", "-m", message)


def pull_request_project(root: Path, pr_comment: str) -> tuple[Path, Act]:
    """A baked project with an origin on GitHub, on a new branch, and its act harness."""
    project = bake(root / "out", pr_comment=pr_comment)
    git(project, "remote", "add", "origin", "https://github.com/acme/tumour-classifier.git")
    return project, Act(project, root / "act")


def main_with_a_small_forest(root: Path, pr_comment: str) -> tuple[Path, Act]:
    """A project whose main trained a small forest and committed its dvc.lock, as a merge leaves it."""
    project, act = pull_request_project(root, pr_comment)
    set_forest(project, "    n_estimators: 5\n    max_depth: 2\n", "A small forest")
    reproduce_and_commit(project)
    return project, act


def test_a_pull_requests_life(tmp_path):
    # One test, because each step is the next push to the same pull request.
    project, act = main_with_a_small_forest(tmp_path, "cml")
    # CI on main: the tests pass on main, and the job keeps main's DVC cache for the reports.
    run = act.run("ci.yml", "push", {"ref": "refs/heads/main", "repository": REPOSITORY}, job="test")
    assert run.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    main_key = f"dvc-main-Linux-{git(project, 'rev-parse', 'main')}"
    assert f"Cache saved with key: {main_key}" in run.log
    git(project, "checkout", "--quiet", "-b", "tune-forest")

    # A worse model: the check fails, and the new comment says why.
    set_forest(project, "    n_estimators: 1\n    max_depth: 1\n", "A stump")
    run = act.run("pr-report.yml", "pull_request", pull_request_event(project, 7, "opened"))
    assert run.returncode != 0
    assert (run.job_result(REPORT_JOB), run.job_result(COMMENT_JOB)) == ("failed", "succeeded")
    (call,) = run.calls
    assert call["tool"] == "cml" and call["action"] == "created" and call["pr"] == 7
    assert "--watermark-title=Model report" in call["args"]
    first_line = call["body"].splitlines()[0]
    assert first_line.startswith("## Model report: ❌ fail: ") and "is worse than main by" in first_line
    # Figures stay off CML's public host unless the owner opts in: the comment links the run's artifact.
    assert "![roc]" not in call["body"] and "--publish" not in call["args"]
    assert "Figures and plots: the `model-report` artifact of [this run](" in call["body"]
    assert "gate: fail: " in run.log
    # main's side came from main's cache: only the pull request's model was trained.
    assert f"Cache restored from key: {main_key}" in run.log
    assert run.log.count("Running stage 'train'") == 1, f"see {act.state}/act-{act.runs}.log"

    # A better model, pushed to the same pull request: passes, and the same comment is updated;
    # the owner opted in to publishing the figures.
    workflow = project / ".github/workflows/pr-report.yml"
    workflow.write_text(workflow.read_text().replace('PUBLISH_FIGURES: "false"', 'PUBLISH_FIGURES: "true"'))
    set_forest(project, "    n_estimators: 100\n", "A full forest")
    run = act.run("pr-report.yml", "pull_request", pull_request_event(project, 7, "synchronize"))
    assert run.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    (call,) = run.calls
    assert call["action"] == "updated"
    assert call["body"].startswith("## Model report: ✅ pass")
    assert "| `model.hyperparameters.n_estimators` | `5` | `100` |" in call["body"]
    assert "![roc](reports/figures/roc.png)" in call["body"] and "--publish" in call["args"]

    # A pull request from a fork: the report is in the job summary; no comment, no token.
    event = pull_request_event(project, 8, "opened", head_repo="someone/tumour-classifier")
    run = act.run("pr-report.yml", "pull_request", event)
    assert run.returncode == 0
    assert run.job_result(COMMENT_JOB) == "skipped"
    assert run.calls == []
    assert "## Model report: ✅ pass" in run.log


def test_a_planted_cache_does_not_fool_the_gate(tmp_path):
    """The attack: in an earlier push, a pull request's code saves a DVC cache under the key the
    report restores for main (here written straight into the cache store, as a stolen runtime
    token would), where main's model hash holds a small forest's bytes, read-only so DVC does
    not hash it again, and main's run-cache points there. Then a clean diff that turns main's
    model into that small forest, above every floor but worse than main: the check must fail.
    (The workflow before this fix restored that cache and passed the pull request.)"""
    project, act = pull_request_project(tmp_path, "gh")
    reproduce_and_commit(project)  # main: the default model
    main_lock = yaml.safe_load(git(project, "show", "main:dvc.lock"))
    (main_model,) = [out["md5"] for out in main_lock["stages"]["train"]["outs"] if out["path"] == "models/model.skops"]
    git(project, "checkout", "--quiet", "-b", "small-forest")
    set_forest(project, "    n_estimators: 5\n    max_depth: 2\n", "A small forest: above every floor, below main")
    reproduce_and_commit(project)  # its model is in the local DVC cache now

    planted = act.state / "cache" / f"dvc-main-Linux-{git(project, 'rev-parse', 'main')}"
    shutil.copytree(project / ".dvc/cache", planted)  # main's objects and run-cache, and the stump's
    forged = planted / "files/md5" / main_model[:2] / main_model[2:]
    forged.chmod(0o644)
    forged.write_bytes((project / "models/model.skops").read_bytes())
    forged.chmod(0o444)  # DVC hashes no read-only cache file again

    run = act.run("pr-report.yml", "pull_request", pull_request_event(project, 3, "opened"))
    assert "Cache restored from key: dvc-main-Linux-" in run.log
    assert "::warning::the restored DVC cache held objects whose bytes do not match their hash" in run.log
    assert f"files/md5/{main_model[:2]}/{main_model[2:]}" in run.log
    assert run.returncode != 0, f"the planted cache fooled the gate; see {act.state}/act-{act.runs}.log"
    assert "gate: fail: " in run.log
    # The gh variant posts the same report.
    (call,) = run.calls
    assert call["tool"] == "gh" and call["action"] == "created"
    assert call["args"][:3] == ["pr", "comment", "3"] and "--edit-last" in call["args"]
    assert call["body"].startswith("## Model report: ❌ fail: ")
    assert "the `model-report` artifact of [this run](" in call["body"]
