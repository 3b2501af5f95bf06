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
pytestmark = pytest.mark.workflow


def set_forest(project: Path, settings: str, message: str) -> None:
    """Replace the forest's hyperparameters in params.yaml and commit."""
    params = project / "params.yaml"
    text = re.sub(r"(  hyperparameters:[^\n]*\n)(    [^\n]*\n)+", rf"\g<1>{settings}", params.read_text())
    params.write_text(text)
    git(project, "commit", "--quiet", "--all", "-m", message)


def pull_request_project(root: Path, pr_comment: str) -> tuple[Path, Act]:
    """A baked project with an origin on GitHub, on a new branch, and its act harness."""
    project = bake(root / "out", pr_comment=pr_comment)
    git(project, "remote", "add", "origin", "https://github.com/acme/tumour-classifier.git")
    return project, Act(project, root / "act")


def test_a_pull_requests_life(tmp_path):
    # One test, because each step is the next push to the same pull request.
    project, act = pull_request_project(tmp_path, "cml")
    set_forest(project, "    n_estimators: 5\n    max_depth: 2\n", "A small forest")  # on main
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

    # The same inputs again: data and train come from DVC's run-cache, kept between runs.
    # (evaluate runs again: DVC's run-cache skips stages with uncached outputs, here the
    # metrics and plots kept in Git; it only scores the restored model.)
    run = act.run("pr-report.yml", "pull_request", pull_request_event(project, 7, "reopened"))
    assert run.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    for stage in ("data", "train"):
        assert f"Running stage '{stage}'" not in run.log, f"{stage} ran again; see {act.state}/act-{act.runs}.log"
    assert run.calls[0]["action"] == "updated"

    # A pull request from a fork: the report is in the job summary; no comment, no token.
    event = pull_request_event(project, 8, "opened", head_repo="someone/tumour-classifier")
    run = act.run("pr-report.yml", "pull_request", event)
    assert run.returncode == 0
    assert run.job_result(COMMENT_JOB) == "skipped"
    assert run.calls == []
    assert "## Model report: ✅ pass" in run.log


def test_the_gh_variant_posts_the_same_report(tmp_path):
    project, act = pull_request_project(tmp_path, "gh")
    git(project, "checkout", "--quiet", "-b", "stump")
    set_forest(project, "    n_estimators: 1\n    max_depth: 1\n", "A stump")
    run = act.run("pr-report.yml", "pull_request", pull_request_event(project, 3, "opened"))
    assert run.returncode != 0
    (call,) = run.calls
    assert call["tool"] == "gh" and call["action"] == "created"
    assert call["args"][:3] == ["pr", "comment", "3"] and "--edit-last" in call["args"]
    assert call["body"].startswith("## Model report: ❌ fail: ")
    assert "the `model-report` artifact of [this run](" in call["body"]
