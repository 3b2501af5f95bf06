"""The deploy workflow, executed with act on a baked project: release, deploy, smoke test, roll back.

A pull request is reviewed (its Model report comment carries the model's SHA-256) and
merged: the merge releases v0.1.0 with that very model, the model card as notes, a GTO
version tag and `prod` stage, and the image tagged prod. A second merge ships an image whose
model fails the smoke test: it is released as v0.2.0, prod goes back to v0.1.0, and the run
fails. Then a dispatch deploys v0.2.0 by name, and another rolls back to v0.1.0. The image
build and push are a stand-in (no container engine here); the smoke test talks to the real
`serve` command, started from the image's files.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from actrunner import Act, git
from bakery import TOOLS_BIN, bake, run

pytestmark = pytest.mark.workflow
REPOSITORY = {"full_name": "acme/tumour-classifier", "name": "tumour-classifier", "default_branch": "main"}
IMAGE = "ghcr.io/your-github-user/tumour-classifier"


def set_forest(project: Path, trees: int, message: str) -> None:
    params = project / "params.yaml"
    params.write_text(re.sub(r"n_estimators: \d+", f"n_estimators: {trees}", params.read_text()))
    git(project, "commit", "--quiet", "--all", "-m", message)


def reproduce_and_commit(project: Path) -> str:
    """`dvc repro` and commit its lock and Git-kept outputs, as a pull request does; return the model's SHA-256."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join([str(project / ".venv/bin"), env["PATH"]])  # the stages call the project's command
    run([str(TOOLS_BIN / "uv"), "sync", "--quiet", "--python", sys.executable], project, env=env)
    run(["dvc", "repro", "--quiet"], project, env=env)
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Reproduce the pipeline")
    return json.loads((project / "models/metadata.json").read_text())["model_sha256"]


def origin_tags(project: Path) -> set[str]:
    listed = git(project, "ls-remote", "--tags", "--refs", "origin")
    return {line.split("refs/tags/")[1] for line in listed.splitlines()}


def deploy(act: Act, project: Path, event_name: str, event: dict, **env: str):
    # act copies the project folder as the checkout; GitHub's checkout would see every tag
    # pushed so far, so the folder gets them first.
    git(project, "fetch", "--quiet", "--force", "--tags", "origin")
    return act.run("deploy.yml", event_name, {"repository": REPOSITORY, **event}, {"SMOKE_TIMEOUT": "20", **env})


def image_tags(act: Act) -> dict[str, str]:
    return json.loads(act.record.with_suffix(".docker").joinpath("tags.json").read_text())


def test_merge_release_deploy_smoke_and_roll_back(tmp_path):
    # Python 3.11 on both sides: the runner's model must be byte-identical to the one reviewed here.
    project = bake(tmp_path / "out", python_version=f"{sys.version_info.major}.{sys.version_info.minor}")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(project, "remote", "add", "origin", str(origin))
    git(project, "push", "--quiet", "origin", "main")
    act = Act(project, tmp_path / "act")
    try:
        # A reviewed pull request: its report comment ends with the head model's SHA-256.
        git(project, "checkout", "--quiet", "-b", "fewer-trees")
        set_forest(project, 40, "Fewer trees: as good, and faster")
        reviewed = reproduce_and_commit(project)
        git(project, "checkout", "--quiet", "main")
        git(project, "merge", "--quiet", "--ff-only", "fewer-trees")
        head = git(project, "rev-parse", "HEAD")
        git(project, "push", "--quiet", "origin", "main")
        report = {"pr": 3, "marker": "Model report", "body": f"## Model report\n<!-- head-model-sha256: {reviewed} -->"}
        act.record.with_suffix(".comments.json").write_text(json.dumps([report]))
        merged = {"number": 3, "state": "merged", "head": "fewer-trees", "base": "main", "headRefOid": head,
                  "merge_commit": head, "url": "https://github.com/acme/tumour-classifier/pull/3"}  # fmt: skip
        act.record.with_suffix(".pulls.json").write_text(json.dumps([merged]))

        first = deploy(act, project, "push", {"ref": "refs/heads/main", "after": head})
        assert first.returncode == 0, f"see {act.state}/act-{act.runs}.log"
        (release,) = [call for call in first.calls if call.get("action") == "release"]
        assert release["tag"] == "model@v0.1.0"
        assert f"| Model file SHA-256 | `{reviewed}` |" in release["notes"]
        assert "| Reviewed in | https://github.com/acme/tumour-classifier/pull/3 |" in release["notes"]
        assert "## Intended use" in release["notes"]
        assert {"model@v0.1.0", "model#prod#1"} <= origin_tags(project)
        (attested,) = [call for call in first.calls if call["tool"] == "attest-build-provenance"]
        v1 = image_tags(act)[f"{IMAGE}:v0.1.0"]
        assert attested["digest"] == v1 == image_tags(act)[f"{IMAGE}:prod"]
        assert "smoke: 20 rows answered as offline" in first.log

        # A merge whose image serves a damaged model: released, refused by the smoke test, rolled back.
        set_forest(project, 60, "More trees")
        git(project, "push", "--quiet", "origin", "main")
        second = deploy(act, project, "push", {"ref": "refs/heads/main"}, ACT_DOCKER_TAMPER="1")
        assert second.returncode != 0
        assert second.job_result("Deploy to production, smoke-test, roll back on failure") == "failed"
        assert "smoke: failed" in second.log and "is back on v0.1.0" in second.log
        assert "model@v0.2.0" in origin_tags(project), "the version was released"
        tags = image_tags(act)
        assert tags[f"{IMAGE}:v0.2.0"] != v1 and tags[f"{IMAGE}:prod"] == v1
        git(project, "fetch", "--quiet", "--force", "--tags", "origin")
        prod = run([str(project / ".venv/bin/gto"), "show", "model#prod", "--version"], project).stdout.strip()
        assert prod == "v0.1.0", "GTO's prod stays on the version that passed"

        # Deploy a version by name, then roll back to the earlier one: nothing is rebuilt.
        for version in ("v0.2.0", "v0.1.0"):
            dispatched = deploy(act, project, "workflow_dispatch", {"inputs": {"version": version}})
            assert dispatched.returncode == 0, f"see {act.state}/act-{act.runs}.log"
            assert dispatched.job_result("Gate and package the merged model") == "skipped"
            assert image_tags(act)[f"{IMAGE}:prod"] == image_tags(act)[f"{IMAGE}:{version}"]
            git(project, "fetch", "--quiet", "--force", "--tags", "origin")
            prod = run([str(project / ".venv/bin/gto"), "show", "model#prod", "--version"], project).stdout.strip()
            assert prod == version
    finally:
        for pid in act.record.with_suffix(".docker").glob("containers/*/pid"):
            try:
                os.killpg(int(pid.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass
