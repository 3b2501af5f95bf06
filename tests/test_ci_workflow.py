"""The CI workflow, executed with act on a baked project: both jobs on a pull request, then on main.

A pull request that adds a badly formatted module: the Lint job fails on pre-commit's ruff format
and shows the fix, the Test job reproduces the pipeline and passes, and nothing is saved to the
cache (only main writes what the Model report restores). Once fixed, it passes. The push to main
then runs both jobs and keeps main's DVC cache under the commit's key.
"""

from __future__ import annotations

import re

import pytest

from actrunner import Act, git, pull_request_event
from bakery import bake

pytestmark = pytest.mark.workflow
REPOSITORY = {"full_name": "acme/tumour-classifier", "name": "tumour-classifier", "owner": {"login": "acme"}}
LINT, TEST = "CI/Lint", "CI/Test"  # act's names of the two jobs: workflow/job
OFFLINE = {"ZIZMOR_OFFLINE": "true"}  # zizmor's online audits ask GitHub, which is out of reach here


def test_ci_lints_and_tests_pull_requests_and_keeps_mains_cache(tmp_path):
    project = bake(tmp_path / "out")
    act = Act(project, tmp_path / "act")
    git(project, "checkout", "--quiet", "-b", "add-helper")
    helper = project / "src/tumour_classifier/helper.py"
    helper.write_text('"""A helper."""\n\nANSWER=42\n', encoding="utf-8")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Add a badly formatted helper")

    run = act.run("ci.yml", "pull_request", pull_request_event(project, 4, "opened"), step_env=OFFLINE)
    log = f"see {act.state}/act-{act.runs}.log"
    assert run.returncode != 0, log
    assert (run.job_result(LINT), run.job_result(TEST)) == ("failed", "succeeded"), log
    plain = re.sub(r"\x1b\[[0-9;]*m", "", run.log)  # without the terminal's colours
    assert "ruff format....Failed" in re.sub(r"\.{5,}", "....", plain) and "+ANSWER = 42" in plain, log
    assert "Running stage 'train'" in run.log and " passed" in run.log
    assert "Cache saved" not in run.log, "a pull request's run never saves the cache"

    helper.write_text('"""A helper."""\n\nANSWER = 42\n', encoding="utf-8")
    git(project, "commit", "--quiet", "--all", "-m", "Format the helper")
    run = act.run("ci.yml", "pull_request", pull_request_event(project, 4, "synchronize"), job="lint", step_env=OFFLINE)
    assert run.returncode == 0 and run.job_result(LINT) == "succeeded", f"see {act.state}/act-{act.runs}.log"

    git(project, "checkout", "--quiet", "main")
    git(project, "merge", "--quiet", "--ff-only", "add-helper")
    run = act.run("ci.yml", "push", {"ref": "refs/heads/main", "repository": REPOSITORY}, step_env=OFFLINE)
    assert run.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    assert (run.job_result(LINT), run.job_result(TEST)) == ("succeeded", "succeeded")
    assert f"Cache saved with key: dvc-main-Linux-{git(project, 'rev-parse', 'main')}" in run.log
