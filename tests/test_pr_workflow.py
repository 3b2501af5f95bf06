"""The pull-request workflow, executed with act on a baked project: report, comment, gate.

main trains a small forest; a pull request first makes it worse (the check fails and the
comment says why), then better (the check passes and the same comment is updated); a rerun
with unchanged inputs trains nothing; a pull request from a fork posts nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from actrunner import Act, git, pull_request_event
from bakery import bake

REPORT_JOB = "Reproduce main and this pull request, report, gate"
COMMENT_JOB = "Post the report on the pull request"
# The tests below run in order on one project (a pull request's successive pushes): keep
# them on one xdist worker.
pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("pr-workflow")]


def set_forest(project: Path, settings: str, message: str) -> None:
    """Replace the forest's hyperparameters in params.yaml and commit."""
    params = project / "params.yaml"
    text = re.sub(r"(  hyperparameters:[^\n]*\n)(    [^\n]*\n)+", rf"\g<1>{settings}", params.read_text())
    params.write_text(text)
    git(project, "commit", "--quiet", "--all", "-m", message)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, Act]:
    """A baked project whose main has a small forest, with an origin on GitHub, and its act harness."""
    root = tmp_path_factory.mktemp("pr")
    project = bake(root / "out", pr_comment="cml")
    git(project, "remote", "add", "origin", "https://github.com/acme/tumour-classifier.git")
    set_forest(project, "    n_estimators: 5\n    max_depth: 2\n", "A small forest")
    git(project, "checkout", "--quiet", "-b", "tune-forest")
    return project, Act(project, root / "act")


def test_a_worse_model_fails_the_check_and_the_comment_says_why(project):
    project, act = project
    set_forest(project, "    n_estimators: 1\n    max_depth: 1\n", "A stump")
    run = act.run("pr-report.yml", "pull_request", pull_request_event(project, 7, "opened"))
    assert run.returncode != 0
    assert run.job_result(REPORT_JOB) == "failed"
    assert run.job_result(COMMENT_JOB) == "succeeded"
    (call,) = run.calls
    assert call["tool"] == "cml" and call["action"] == "created" and call["pr"] == 7
    assert "--watermark-title=Model report" in call["args"]
    first_line = call["body"].splitlines()[0]
    assert first_line.startswith("## Model report: ❌ fail: ") and "is worse than main by" in first_line
    assert "![roc](reports/figures/roc.png)" in call["body"]  # figures go through CML's publishing
    assert "gate: fail: " in run.log


def test_a_better_model_passes_and_updates_the_same_comment(project):
    project, act = project
    set_forest(project, "    n_estimators: 100\n", "A full forest")
    run = act.run("pr-report.yml", "pull_request", pull_request_event(project, 7, "synchronize"))
    assert run.returncode == 0, run.log[-3000:]
    (call,) = run.calls
    assert call["action"] == "updated"
    assert call["body"].startswith("## Model report: ✅ pass")
    assert "| `model.hyperparameters.n_estimators` | `5` | `100` |" in call["body"]


def test_a_rerun_with_unchanged_inputs_trains_nothing(project):
    project, act = project
    run = act.run("pr-report.yml", "pull_request", pull_request_event(project, 7, "reopened"))
    assert run.returncode == 0
    assert "Running stage 'train'" not in run.log, "the DVC cache kept between runs should restore every stage"
    assert run.calls[0]["action"] == "updated"


def test_a_pull_request_from_a_fork_gets_no_comment_and_no_token(project):
    project, act = project
    event = pull_request_event(project, 8, "opened", head_repo="someone/tumour-classifier")
    run = act.run("pr-report.yml", "pull_request", event)
    assert run.returncode == 0
    assert run.job_result(COMMENT_JOB) == "skipped"
    assert run.calls == []
    assert "## Model report: ✅ pass" in run.log  # the job summary still has the report


@pytest.mark.xdist_group("pr-workflow-gh")
def test_the_gh_variant_posts_the_same_report(tmp_path):
    project = bake(tmp_path / "out", pr_comment="gh")
    git(project, "remote", "add", "origin", "https://github.com/acme/tumour-classifier.git")
    git(project, "checkout", "--quiet", "-b", "stump")
    set_forest(project, "    n_estimators: 1\n    max_depth: 1\n", "A stump")
    act = Act(project, tmp_path / "act")
    run = act.run("pr-report.yml", "pull_request", pull_request_event(project, 3, "opened"))
    assert run.returncode != 0
    (call,) = run.calls
    assert call["tool"] == "gh" and call["action"] == "created"
    assert call["args"][:3] == ["pr", "comment", "3"] and "--edit-last" in call["args"]
    assert call["body"].startswith("## Model report: ❌ fail: ")
