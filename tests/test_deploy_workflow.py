"""The deploy workflow, executed with act on baked projects: release, deploy, smoke test, roll back, refuse.

A pull request is merged; the *Model report* run of its head left its record (the
`model-review` artifact that `record-review` writes once the gate passed), which GitHub's
stand-in holds. The merge releases v0.1.0 with that very model, the model card as notes, a
GTO version tag and `prod` stage, and deploys it. A second merge ships an image whose model
fails: it is released as v0.2.0, production goes back to v0.1.0, and the run fails. The image
build and push are a stand-in (no container engine here); the smoke test talks to the real
`serve` command, started from the image's files; Cloud Run and the cluster are stand-ins that
run those images the same way, behind real loopback forwards.

Each attack is replayed and shown to do no harm: a merge with only a forged comment, or only
a failed report run, releases nothing; a release whose image.txt was replaced deploys nothing;
a run from another branch deploys nothing.

The three targets' merges ship one reproduced model (`reviewed_model`). Their smoke tests
listen on different local ports (8000, 8080 for Cloud Run's proxy, 8001 for the port-forward),
so the three tests may run at the same time.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest
import yaml

from actrunner import Act, git
from bakery import TOOLS_BIN, bake, run

pytestmark = pytest.mark.workflow
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"  # the runner's model must be byte-identical
REPOSITORY = {"full_name": "acme/tumour-classifier", "name": "tumour-classifier", "default_branch": "main"}
PULLS = "https://github.com/acme/tumour-classifier/pull"
IMAGE = "ghcr.io/your-github-user/tumour-classifier"
MAIN = {"ref": "refs/heads/main"}
BROKEN = "8"  # seconds to wait for a service whose model was damaged: it never becomes ready
TREES = 40  # the reviewed change: fewer boosting rounds, as good, and a quicker pipeline for these tests


def fewer_trees(project: Path) -> None:
    params = project / "params.yaml"
    params.write_text(re.sub(r"max_iter: \d+", f"max_iter: {TREES}", params.read_text()))


@pytest.fixture(scope="session")
def reviewed_model(tmp_path_factory) -> Path:
    """The reviewed change, reproduced: the model each merge below ships, and the project's commands.

    Made once per test run: pytest-xdist's workers share the run's base folder, and the first
    to need it makes it while the others wait.
    """
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    made = root / "reviewed-model.json"
    with (root / "reviewed-model.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not made.exists():
            project = bake(root / "reviewed-model", python_version=PYTHON)
            fewer_trees(project)
            env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
            env["PATH"] = os.pathsep.join([str(project / ".venv/bin"), env["PATH"]])  # the stages call the command
            run([str(TOOLS_BIN / "uv"), "sync", "--quiet", "--python", sys.executable], project, env=env)
            run(["dvc", "repro", "--quiet"], project, env=env)
            made.write_text(json.dumps(str(project)))
    return Path(json.loads(made.read_text()))


class GitHub:
    """What GitHub holds about merged pull requests and their Model report runs, as the gh stand-in reads it."""

    def __init__(self, act: Act, reviewed: Path):
        self.act, self.reviewed = act, reviewed
        self.pulls_file, self.runs_file = act.record.with_suffix(".pulls.json"), act.record.with_suffix(".runs.json")

    def merged(self, number: int, head: str, merge_commit: str) -> None:
        pulls = json.loads(self.pulls_file.read_text()) if self.pulls_file.exists() else []
        pulls.append({"number": number, "state": "merged", "head": f"change-{number}", "base": "main",
                      "headRefOid": head, "merge_commit": merge_commit, "url": f"{PULLS}/{number}"})  # fmt: skip
        self.pulls_file.write_text(json.dumps(pulls))

    def report_run(self, number: int, head: str, conclusion: str = "success") -> None:
        """A run of pr-report.yml for the head, with the record its last steps upload (written by `record-review`)."""
        runs = json.loads(self.runs_file.read_text()) if self.runs_file.exists() else []
        run_id = len(runs) + 1
        folder = self.act.state / "runs" / str(run_id) / "model-review"
        command = [str(self.reviewed / ".venv/bin/tumour_classifier"), "record-review", "--pull-request", str(number)]
        run([*command, "--head-commit", head, "--output", str(folder / "model-review.json")], self.reviewed)
        runs.append({"databaseId": run_id, "workflow": "pr-report.yml", "event": "pull_request", "headSha": head,
                     "status": "completed", "conclusion": conclusion, "createdAt": f"2026-12-01T10:{run_id:02d}:00Z",
                     "url": f"https://github.com/acme/tumour-classifier/actions/runs/{run_id}",
                     "artifacts": {"model-review": str(folder)}})  # fmt: skip
        self.runs_file.write_text(json.dumps(runs))


def protect_production(act: Act) -> None:
    """The production environment as the README asks: deployments from main only, required reviewers."""
    production = {
        "environment": {
            "protection_rules": [{"type": "required_reviewers", "reviewers": []}, {"type": "branch_policy"}],
            "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
        },
        "branch_policies": [{"name": "main", "type": "branch"}],
    }
    act.record.with_suffix(".environments.json").write_text(json.dumps({"production": production}))


def deploy_project(tmp_path: Path, target: str, reviewed: Path) -> tuple[Path, Act, GitHub]:
    project = bake(tmp_path / "out", python_version=PYTHON, deploy_target=target)
    # act copies the folder, its environment included: each run's `uv sync` then has little to do.
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    run([str(TOOLS_BIN / "uv"), "sync", "--quiet", "--python", sys.executable], project, env=env)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(project, "remote", "add", "origin", str(origin))
    git(project, "push", "--quiet", "origin", "main")
    act = Act(project, tmp_path / "act")
    return project, act, GitHub(act, reviewed)


def merge_pull_request(project: Path, number: int, squash: bool = False) -> tuple[str, str]:
    """A pull request, merged and pushed: (head, merge). The first one makes the reviewed change
    (fewer trees); later ones touch the README, so the model stays the reviewed one."""
    git(project, "checkout", "--quiet", "-b", f"change-{number}")
    if f"max_iter: {TREES}" not in (project / "params.yaml").read_text():
        fewer_trees(project)
    else:
        with (project / "README.md").open("a", encoding="utf-8") as readme:
            readme.write(f"\nChange {number}.\n")
    git(project, "commit", "--quiet", "--all", "-m", f"Change {number}")
    head = git(project, "rev-parse", "HEAD")
    git(project, "checkout", "--quiet", "main")
    if squash:
        git(project, "merge", "--quiet", "--squash", f"change-{number}")
        git(project, "commit", "--quiet", "-m", f"Change {number} (#{number})")
    else:
        git(project, "merge", "--quiet", "--ff-only", f"change-{number}")
    git(project, "push", "--quiet", "origin", "main")
    return head, git(project, "rev-parse", "HEAD")


def origin_tags(project: Path) -> set[str]:
    listed = git(project, "ls-remote", "--tags", "--refs", "origin")
    return {line.split("refs/tags/")[1] for line in listed.splitlines()}


def deploy(act: Act, project: Path, event_name: str, event: dict, settings: dict | None = None, **env: str):
    """A run of the Deploy workflow; ``settings``: the repository's secrets and its variables."""
    # act copies the project folder as the checkout; GitHub's checkout would see every tag
    # pushed so far, so the folder gets them first.
    git(project, "fetch", "--quiet", "--force", "--tags", "origin")
    step_env = {"SMOKE_TIMEOUT": "20", "ACT_WAIT_LIMIT": "20", **env}
    secrets, variables = (settings or {}).get("secrets"), (settings or {}).get("vars")
    event = {"repository": REPOSITORY, **event}
    return act.run("deploy.yml", event_name, event, step_env, secrets=secrets, variables=variables)


def image_tags(act: Act) -> dict[str, str]:
    return json.loads(act.record.with_suffix(".docker").joinpath("tags.json").read_text())


def prod_version(project: Path, reviewed: Path) -> str:
    git(project, "fetch", "--quiet", "--force", "--tags", "origin")
    return run([str(reviewed / ".venv/bin/gto"), "show", "model#prod", "--version"], project).stdout.strip()


def assert_nothing_released(result, project: Path) -> None:
    assert result.returncode != 0
    assert result.job_result("Gate and package the merged model") == "failed"
    assert result.job_result("Version and release the model") == "skipped"
    assert not [call for call in result.calls if call.get("action") == "release" or call["tool"] == "docker"]
    assert not {tag for tag in origin_tags(project) if tag.startswith("model@")}


def stop_everything(act: Act) -> None:
    """Containers, Cloud Run revisions and pods the stand-ins started."""
    for pid in act.state.glob("calls.*/**/pid"):
        try:
            os.killpg(int(pid.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass


def test_merge_release_deploy_smoke_and_roll_back(tmp_path, reviewed_model):
    project, act, github = deploy_project(tmp_path, "ghcr", reviewed_model)
    protect_production(act)
    reviewed = json.loads((reviewed_model / "models/metadata.json").read_text())["model_sha256"]
    try:
        head, merge = merge_pull_request(project, 3, squash=True)
        github.merged(3, head, merge)

        # A comment carrying the right SHA-256 (anyone can write one) and no report run: nothing is released.
        forged = {"pr": 3, "marker": "Model report", "body": f"## Model report\n<!-- head-model-sha256: {reviewed} -->"}
        act.record.with_suffix(".comments.json").write_text(json.dumps([forged]))
        result = deploy(act, project, "push", MAIN)
        assert "has no successful Model report run (pr-report.yml)" in result.log and "runs found: none" in result.log
        assert_nothing_released(result, project)
        # A failed report run does not count, even one that left a record.
        github.report_run(3, head, conclusion="failure")
        result = deploy(act, project, "push", MAIN)
        assert "runs found: failure" in result.log
        assert_nothing_released(result, project)

        # The passed run's record: the squash merge's model is the one reviewed; released and deployed.
        github.report_run(3, head)
        first = deploy(act, project, "push", MAIN)
        assert first.returncode == 0, f"see {act.state}/act-{act.runs}.log"
        assert f"reviewed: the model is the one reviewed in {PULLS}/3" in first.log
        (release,) = [call for call in first.calls if call.get("action") == "release"]
        assert release["tag"] == "model@v0.1.0"
        assert f"| Model file SHA-256 | `{reviewed}` |" in release["notes"]
        assert f"| Reviewed in | {PULLS}/3 |" in release["notes"]
        assert "## Intended use" in release["notes"]
        assert {"model@v0.1.0", "model#prod#1"} <= origin_tags(project)
        (attested,) = [call for call in first.calls if call["tool"] == "attest-build-provenance"]
        v1 = image_tags(act)[f"{IMAGE}:v0.1.0"]
        assert attested["digest"] == v1 == image_tags(act)[f"{IMAGE}:prod"]
        assert [call["digest"] for call in first.calls if call.get("action") == "verified"] == [v1]
        assert "smoke: 20 rows answered as offline" in first.log
        assert "title=Environment production" not in first.log

        # A merge whose image serves a damaged model: released, refused by the smoke test, rolled back.
        head, merge = merge_pull_request(project, 4)
        github.merged(4, head, merge)
        github.report_run(4, head)
        second = deploy(act, project, "push", MAIN, ACT_DOCKER_TAMPER="1", SMOKE_TIMEOUT=BROKEN)
        assert second.returncode != 0
        assert second.job_result("Deploy to production, smoke-test, roll back on failure") == "failed"
        assert "smoke: failed" in second.log and "is back on v0.1.0" in second.log
        assert "model@v0.2.0" in origin_tags(project), "the version was released"
        tags = image_tags(act)
        v2 = tags[f"{IMAGE}:v0.2.0"]
        assert v2 != v1 and tags[f"{IMAGE}:prod"] == v1
        assert [call["digest"] for call in second.calls if call.get("action") == "verified"] == [v2, v1]
        assert prod_version(project, reviewed_model) == "v0.1.0", "GTO's prod stays on the version that passed"

        # Deploy a version by name, then roll back to the earlier one: nothing is rebuilt.
        for version in ("v0.2.0", "v0.1.0"):
            dispatched = deploy(act, project, "workflow_dispatch", {**MAIN, "inputs": {"version": version}})
            assert dispatched.returncode == 0, f"see {act.state}/act-{act.runs}.log"
            assert dispatched.job_result("Gate and package the merged model") == "skipped"
            assert image_tags(act)[f"{IMAGE}:prod"] == image_tags(act)[f"{IMAGE}:{version}"]
            assert prod_version(project, reviewed_model) == version

        # image.txt replaced in the release (gh release upload --clobber): with an image nobody
        # attested, or with another version's attested image. Refused; production unchanged.
        metadata = act.state / "evil.json"
        build = ["buildx", "build", "--push", "--metadata-file", str(metadata), "--tag", f"{IMAGE}:evil", "."]
        run([str(act.bin / "docker"), *build], reviewed_model, env={**os.environ, "ACT_RECORD": str(act.record)})
        evil = json.loads(metadata.read_text())["containerimage.digest"]
        for clobbered, refusal in ((evil, "HTTP 404: Not Found"), (v2, "expected source_digest")):
            (act.state / "image.txt").write_text(f"{IMAGE}@{clobbered}\n")
            upload = ["release", "upload", "model@v0.1.0", str(act.state / "image.txt"), "--clobber"]
            attacker = {**os.environ, "ACT_RECORD": str(act.record), "GH_TOKEN": "a token that may edit releases"}
            run([str(act.bin / "gh"), *upload], project, env=attacker)
            refused = deploy(act, project, "workflow_dispatch", {**MAIN, "inputs": {"version": "v0.1.0"}})
            assert refused.returncode != 0 and refusal in refused.log
            assert f"{IMAGE}@{clobbered} has no build provenance from this repository's Deploy workflow" in refused.log
            assert not [call for call in refused.calls if call["tool"] == "docker" and call["action"] != "login"]
            assert image_tags(act)[f"{IMAGE}:prod"] == v1

        # A run from another branch deploys nothing (on GitHub the environment's branch rule stops it too).
        feature = {"ref": "refs/heads/feature", "inputs": {"version": "v0.2.0"}}
        other = deploy(act, project, "workflow_dispatch", feature)
        assert other.returncode != 0
        assert "Deploys run from main only, and this run is on refs/heads/feature" in other.log
        assert not [call for call in other.calls if call["tool"] in ("docker", "gh")]
        assert image_tags(act)[f"{IMAGE}:prod"] == v1
    finally:
        stop_everything(act)


DEPLOYER = "deployer@acme-models.iam.gserviceaccount.com"
CLOUD_RUN = {
    "secrets": {  # environment secrets of production
        "GCP_DEPLOY_SERVICE_ACCOUNT": DEPLOYER,
        "CLOUD_RUN_REGION": "europe-west1",
        "CLOUD_RUN_REPOSITORY": "europe-west1-docker.pkg.dev/acme-models/models",
    },
    "vars": {  # the read-only data identity's, which the deploy must not use
        "GCP_WORKLOAD_IDENTITY_PROVIDER": "projects/123/locations/global/workloadIdentityPools/github/providers/github",
        "GCP_DVC_READ_SERVICE_ACCOUNT": "dvc-reader@acme-models.iam.gserviceaccount.com",
    },
}


def test_cloud_run_deploy_smoke_and_roll_back(tmp_path, reviewed_model):
    project, act, github = deploy_project(tmp_path, "cloud-run", reviewed_model)
    services = act.record.with_suffix(".gcloud") / "services.json"
    try:
        head, merge = merge_pull_request(project, 3)
        github.merged(3, head, merge)
        github.report_run(3, head)
        first = deploy(act, project, "push", MAIN, CLOUD_RUN)
        assert first.returncode == 0, f"see {act.state}/act-{act.runs}.log"
        v1 = image_tags(act)[f"{IMAGE}:v0.1.0"]
        # Signed in as the deploy identity, never the data identity pull requests use.
        assert [call["service_account"] for call in first.calls if call["tool"] == "google-auth"] == [DEPLOYER]
        assert {call["account"] for call in first.calls if call["tool"] == "gcloud"} == {DEPLOYER}
        service = json.loads(services.read_text())["tumour-classifier"]
        (revision,) = service["revisions"]
        assert revision["image"] == f"{CLOUD_RUN['secrets']['CLOUD_RUN_REPOSITORY']}/tumour-classifier@{v1}"
        assert service["traffic"] == [{"revisionName": revision["name"], "percent": 100}]
        assert "smoke: 20 rows answered as offline" in first.log
        assert prod_version(project, reviewed_model) == "v0.1.0"
        # GitHub made the environment on the first deploy, unprotected: the run says what to set.
        assert "Set deployment branches: selected branches, main only and required reviewers" in first.log

        # The same version again, its new revision serving a damaged model: traffic goes back.
        again = deploy(act, project, "workflow_dispatch", {**MAIN, "inputs": {"version": "v0.1.0"}}, CLOUD_RUN,
                       ACT_DOCKER_TAMPER="v0.1.0", SMOKE_TIMEOUT=BROKEN)  # fmt: skip
        assert again.returncode != 0
        assert "smoke: failed" in again.log and f"traffic is back on {revision['name']}" in again.log
        service = json.loads(services.read_text())["tumour-classifier"]
        assert len(service["revisions"]) == 2
        assert service["traffic"] == [{"revisionName": revision["name"], "percent": 100}]
        assert [call["digest"] for call in again.calls if call.get("action") == "verified"] == [v1, v1]
    finally:
        stop_everything(act)


def revisions(deployment: dict) -> list[tuple[int, str]]:
    """The Deployment's revision history: (revision, image), oldest first."""
    found = [(rs["revision"], rs["template"]["spec"]["containers"][0]["image"]) for rs in deployment["replicasets"]]
    return sorted(found)


def test_kubernetes_rendered_by_digest_rolled_out_and_undone(tmp_path, reviewed_model):
    project, act, github = deploy_project(tmp_path, "kubernetes", reviewed_model)
    cluster_file = act.record.with_suffix(".kube") / "cluster.json"
    secrets = {"secrets": {"KUBECONFIG": "apiVersion: v1\nkind: Config\ncurrent-context: production\n"}}
    try:
        head, merge = merge_pull_request(project, 3)
        github.merged(3, head, merge)
        github.report_run(3, head)
        first = deploy(act, project, "push", MAIN, secrets)
        assert first.returncode == 0, f"see {act.state}/act-{act.runs}.log"
        v1 = image_tags(act)[f"{IMAGE}:v0.1.0"]
        # One apply of the manifests as they are in k8s/, but for the image: the released one, by digest.
        changes = [call["args"][0] for call in first.calls if call["tool"] == "kubectl"]
        assert changes.count("apply") == 1 and "set" not in changes
        deployment = json.loads(cluster_file.read_text())["deployments"]["tumour-classifier"]
        source = yaml.safe_load((project / "k8s/deployment.yaml").read_text())
        source["spec"]["template"]["spec"]["containers"][0]["image"] = f"{IMAGE}@{v1}"
        assert deployment["manifest"] == source
        assert revisions(deployment) == [(1, f"{IMAGE}@{v1}")]
        assert "smoke: 20 rows answered as offline" in first.log

        # A merge whose pods never become ready: the rollout fails and is undone to revision 1.
        head, merge = merge_pull_request(project, 4)
        github.merged(4, head, merge)
        github.report_run(4, head)
        second = deploy(act, project, "push", MAIN, secrets, ACT_DOCKER_TAMPER="v0.2.0", ACT_WAIT_LIMIT=BROKEN)
        assert second.returncode != 0
        v2 = image_tags(act)[f"{IMAGE}:v0.2.0"]
        assert "timed out waiting for the condition" in second.log
        assert f"the Deployment is back on {IMAGE}@{v1}" in second.log
        deployment = json.loads(cluster_file.read_text())["deployments"]["tumour-classifier"]
        assert revisions(deployment) == [(2, f"{IMAGE}@{v2}"), (3, f"{IMAGE}@{v1}")], "undo made revision 1 the newest"
        assert prod_version(project, reviewed_model) == "v0.1.0"
    finally:
        stop_everything(act)


def test_runs_queue_in_order_and_none_is_dropped(tmp_path):
    """GitHub keeps one pending run per concurrency group and cancels the older one, unless the
    group queues (`queue: max`, GitHub's since 2026-05; act cannot run it): without it, a
    rollback dispatched while a merge's run is waiting would vanish when the next merge comes."""
    project = bake(tmp_path, deploy_target="ghcr")
    workflow = yaml.safe_load((project / ".github/workflows/deploy.yml").read_text())
    assert workflow["concurrency"] == {"group": "deploy-production", "cancel-in-progress": False, "queue": "max"}
    assert all("concurrency" not in job for job in workflow["jobs"].values()), "one group for the whole run"
