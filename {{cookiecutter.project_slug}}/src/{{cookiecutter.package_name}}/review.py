"""On a merge: is the model that main just reproduced the one reviewed in the pull request?

The Model report comment of a pull request ends with ``<!-- head-model-sha256: ... -->``.
When main's tree after the merge equals the pull request's head, the same inputs went in,
so the model must be byte-identical to the reviewed one: a different SHA-256 means the
build is not reproducible (or the report was not for this head), and the release stops.
When main moved on after the review (other merges), the model is new: the quality tests
gate it again, and the release notes say so. Talks to GitHub through the ``gh`` CLI.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import artifact
from .errors import ProjectError

REPORTED = re.compile(r"<!-- head-model-sha256: ([0-9a-f]{64}) -->")


class ReviewError(ProjectError):
    """The merged model is not the one the pull request's report showed."""


@dataclass(frozen=True)
class Review:
    pull_request: str | None  # its URL; None for a push to main without a pull request
    reviewed_sha256: str | None  # from the report; None when main moved on after the review
    note: str


def _run(*command: str) -> str:
    program = shutil.which(command[0])
    if program is None:
        raise ProjectError(f"{command[0]} is not installed; it is needed to find the reviewed pull request")
    done = subprocess.run([program, *command[1:]], capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise ProjectError(f"`{' '.join(command)}` failed: {done.stderr.strip()}")
    return done.stdout


def _same_tree(first: str, second: str) -> bool:
    tree = "^{tree}"  # git's syntax for a commit's tree
    return _run("git", "rev-parse", first + tree) == _run("git", "rev-parse", second + tree)


def check(commit: str, metadata_path: Path = artifact.METADATA_PATH) -> Review:
    """Compare the model the pipeline wrote with the one reviewed for the pull request that made ``commit``."""
    merged = json.loads(
        _run("gh", "pr", "list", "--state", "merged", "--search", commit, "--json", "number,headRefOid,url")
    )
    if not merged:
        return Review(None, None, f"{commit[:12]} came from no pull request: the quality tests gate it alone")
    pull = merged[0]
    if not _same_tree(pull["headRefOid"], commit):
        return Review(pull["url"], None, f"main moved on after {pull['url']} was reviewed: retrained and gated here")
    comments = json.loads(_run("gh", "pr", "view", str(pull["number"]), "--json", "comments"))["comments"]
    reported = [match for comment in comments for match in REPORTED.findall(comment["body"])]
    if not reported:
        raise ReviewError(f"{pull['url']} has no Model report comment with the reviewed model's SHA-256")
    built = artifact.read_metadata(metadata_path)["model_sha256"]
    if built != reported[-1]:
        raise ReviewError(
            f"main reproduced model {built} but {pull['url']} reviewed {reported[-1]}: same inputs, other bytes; "
            "the build is not reproducible, so nothing is released"
        )
    return Review(pull["url"], built, f"the model is the one reviewed in {pull['url']} (sha256 {built[:12]})")
