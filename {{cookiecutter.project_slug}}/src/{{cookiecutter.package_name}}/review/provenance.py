"""Provenance, on a merge: is the model that main just reproduced the one the Model report workflow reviewed?

The *Model report* workflow (``pr-report.yml``) ends, once its gate has passed, by writing a
record (``record-review``: the pull request, its head commit, the SHA-256 of the model it
reproduced, the verdict) and uploading it as the run's ``model-review`` artifact. On a push to
main, ``reviewed`` finds the merged pull request, the newest *successful* run of that workflow
for the pull request's head commit, and reads the record from that run through the ``gh`` CLI.
Only the workflow's own record counts: a comment can be written or edited by anyone who can
comment, so none is read.

The model main reproduced must be byte-identical to the reviewed one: the same inputs give the
same bytes. That holds for merge commits, squash and rebase merges alike, since the comparison
is of the model, not of Git trees. A different SHA-256 means main moved on after the review
(another merge changed the model's inputs) or the build is not reproducible; either way the
model was never reviewed, and nothing is released.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..core import paths
from ..core.errors import ProjectError
from ..core.records import ModelRecord

OWNER_REPO = "{owner}/{repo}"  # gh fills these in from GH_REPO, or from the checkout's remote
REPORT_WORKFLOW = "pr-report.yml"  # the Model report workflow, the only writer of records
RECORD_ARTIFACT = "model-review"  # the artifact of its runs that holds the record
PASSED = "passed"
_SHA1 = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ReviewError(ProjectError):
    """The merged model is not one that the Model report workflow reviewed and passed."""


@dataclass(frozen=True)
class ReviewRecord:
    """What a passed Model report run reviewed: the one shape of ``model-review.json``."""

    pull_request: int
    head_commit: str  # the pull request's head when the report ran
    model_sha256: str  # the model that run reproduced (of the pull request merged into main)
    verdict: str

    def write(self, path: Path = paths.REVIEW_PATH) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> ReviewRecord:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ReviewError(f"{path}: not a review record ({error})") from error
        if not isinstance(raw, dict):
            raise ReviewError(f"{path}: not a review record (a JSON object is expected)")
        checks: dict[str, Callable[[object], bool]] = {
            "pull_request": lambda value: isinstance(value, int) and not isinstance(value, bool) and value > 0,
            "head_commit": lambda value: isinstance(value, str) and _SHA1.fullmatch(value) is not None,
            "model_sha256": lambda value: isinstance(value, str) and _SHA256.fullmatch(value) is not None,
            "verdict": lambda value: isinstance(value, str),
        }
        bad = [name for name, valid in checks.items() if not valid(raw.get(name))]
        if bad:
            raise ReviewError(f"{path}: missing or malformed {', '.join(bad)}")
        return cls(**{name: raw[name] for name in checks})


def record(pull_request: int, head_commit: str, metadata_path: Path = paths.METADATA_PATH) -> ReviewRecord:
    """The record of a passed review of the model in ``metadata_path`` (the report job's last step).

    The job runs it only after its gate step passed: a failed gate ends the job before it, so
    no record, and no artifact, exists for a model that did not pass.
    """
    if not _SHA1.fullmatch(head_commit):
        raise ReviewError(f"head commit {head_commit!r} is not a full 40-character commit SHA")
    if pull_request <= 0:
        raise ReviewError(f"pull request number {pull_request} is not a pull request number")
    model_sha256 = ModelRecord.read(metadata_path).model_sha256
    return ReviewRecord(pull_request, head_commit, model_sha256, PASSED)


@dataclass(frozen=True)
class Review:
    pull_request: str  # its URL
    report_run: str  # the URL of the Model report run whose record was read
    reviewed_sha256: str
    note: str


def _run(*command: str) -> str:
    program = shutil.which(command[0])
    if program is None:
        raise ProjectError(f"{command[0]} is not installed; it is needed to find the reviewed pull request")
    done = subprocess.run([program, *command[1:]], capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise ProjectError(f"`{' '.join(command)}` failed: {done.stderr.strip()}")
    return done.stdout


def _merged_pull_request(commit: str) -> dict:
    # GitHub's "pull requests associated with a commit": on the default branch, the merged one
    # that introduced it, whether merged with a merge commit, squashed or rebased.
    found = json.loads(_run("gh", "api", f"repos/{OWNER_REPO}/commits/{commit}/pulls"))
    merged = [
        {"number": pull["number"], "headRefOid": pull["head"]["sha"], "url": pull["html_url"]}
        for pull in found
        if pull.get("merged_at") and pull.get("merge_commit_sha") == commit
    ]
    if not merged:
        raise ReviewError(
            f"{commit[:12]} on main came from no merged pull request, so no Model report reviewed it: "
            "nothing is released. Merge changes through a pull request; to deploy an earlier release "
            "again, run the Deploy workflow by hand with its version"
        )
    return merged[0]


def _passed_run(pull: dict) -> dict:
    head = pull["headRefOid"]
    fields = "databaseId,event,headSha,status,conclusion,createdAt,url"
    runs = json.loads(
        _run("gh", "run", "list", "--workflow", REPORT_WORKFLOW, "--commit", head, "--limit", "100", "--json", fields)
    )
    runs = [run for run in runs if run["event"] == "pull_request" and run["headSha"] == head]
    passed = [run for run in runs if run["status"] == "completed" and run["conclusion"] == "success"]
    if not passed:
        seen = ", ".join(sorted({run["conclusion"] or run["status"] for run in runs})) or "none"
        raise ReviewError(
            f"{pull['url']} has no successful Model report run ({REPORT_WORKFLOW}) for its head {head[:12]} "
            f"(runs found: {seen}): its model was not reviewed and passed, so nothing is released"
        )
    return max(passed, key=lambda run: run["createdAt"])


def find(commit: str) -> tuple[dict, dict, ReviewRecord]:
    """The merged pull request of ``commit``, its newest passed Model report run, and that run's record."""
    pull = _merged_pull_request(commit)
    run = _passed_run(pull)
    with tempfile.TemporaryDirectory() as folder:
        try:
            _run("gh", "run", "download", str(run["databaseId"]), "--name", RECORD_ARTIFACT, "--dir", folder)
        except ProjectError as error:
            raise ReviewError(
                f"the Model report run {run['url']} has no {RECORD_ARTIFACT} artifact (expired, or the run "
                f"predates it): re-run that workflow run, then this one ({error})"
            ) from error
        found = ReviewRecord.read(Path(folder) / paths.REVIEW_PATH.name)
    mismatches = []
    if found.head_commit != pull["headRefOid"]:
        mismatches.append(f"head {found.head_commit[:12]}, not {pull['headRefOid'][:12]}")
    if found.pull_request != pull["number"]:
        mismatches.append(f"pull request #{found.pull_request}, not #{pull['number']}")
    if found.verdict != PASSED:
        mismatches.append(f"verdict {found.verdict!r}")
    if mismatches:
        raise ReviewError(f"the record of {run['url']} does not review {pull['url']}: {'; '.join(mismatches)}")
    return pull, run, found


def check(commit: str, metadata_path: Path | None = paths.METADATA_PATH) -> Review:
    """Compare the model the pipeline wrote with the one reviewed for the pull request that made ``commit``.

    With ``metadata_path=None`` only the review is looked up (before the pipeline has run, so
    that a merge that was never reviewed stops at once).
    """
    pull, run, found = find(commit)
    reviewed = found.model_sha256
    if metadata_path is None:
        return Review(pull["url"], run["url"], reviewed, f"{pull['url']} was reviewed and passed in {run['url']}")
    built = ModelRecord.read(metadata_path).model_sha256
    if built != reviewed:
        raise ReviewError(
            f"main reproduced model {built} but {pull['url']} reviewed {reviewed} ({run['url']}): either main moved "
            "on after the review (bring the pull request up to date with main before merging, or require it in "
            "branch protection) or the build is not reproducible; this model was not reviewed, so nothing is released"
        )
    note = f"the model is the one reviewed in {pull['url']} (sha256 {built[:12]})"
    return Review(pull["url"], run["url"], built, note)
