"""Validate the answers before cookiecutter writes any file.

A bad answer stops generation with one line that names the value and shows a valid one.
The checks are plain functions over the answers, so tests import this file unrendered.
"""

from __future__ import annotations

import json
import keyword
import re
import sys

SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13")
TASKS = ("classification", "regression")
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary")
PR_COMMENTS = ("cml", "gh")
DEPLOY_TARGETS = ("ghcr", "cloud-run", "kubernetes", "none")
# Remote type -> the URL scheme DVC expects, and an example to show.
REMOTE_SCHEMES = {
    "s3": ("s3://", "s3://my-bucket/dvc-store"),
    "gcs": ("gs://", "gs://my-bucket/dvc-store"),
    "azure": ("azure://", "azure://my-container/dvc-store"),
    "ssh": ("ssh://", "ssh://user@host.example.com/srv/dvc-store"),
}


def problems(answers: dict[str, str]) -> list[str]:
    """Every problem with the answers, each naming the value and showing a valid example."""
    found = []

    def check(ok: bool, key: str, example: str, rule: str) -> None:
        if not ok:
            found.append(f"{key}={answers.get(key)!r} is not valid: {rule} (for example {key}={example!r})")

    slug = answers["project_slug"]
    check(bool(SLUG.match(slug)), "project_slug", "churn-model", "use lowercase letters, digits and single hyphens")
    package = answers["package_name"]
    check(
        package.isidentifier() and package.isascii() and not keyword.iskeyword(package),
        "package_name",
        "churn_model",
        "use a Python identifier (letters, digits, underscores; not a keyword)",
    )
    check(package.islower(), "package_name", "churn_model", "use lowercase (PEP 8 package names)")
    check(bool(EMAIL.match(answers["author_email"])), "author_email", "ada@example.com", "use an e-mail address")
    check(
        bool(GITHUB_OWNER.match(answers["github_owner"])),
        "github_owner",
        "my-org",
        "use a GitHub user or organisation name",
    )
    choice_options = (
        ("python_version", PYTHON_VERSIONS),
        ("task", TASKS),
        ("pr_comment", PR_COMMENTS),
        ("deploy_target", DEPLOY_TARGETS),
        ("license", LICENSES),
    )
    for key, choices in choice_options:
        check(answers[key] in choices, key, choices[0], f"choose one of {', '.join(choices)}")
    for key in ("project_name", "description", "author_name"):
        check(answers[key].strip() != "", key, "My Model", "it must not be empty")
        check("\n" not in answers[key] and "\r" not in answers[key], key, "My Model", "use a single line")
    found.extend(remote_problems(answers["dvc_remote"], answers["dvc_remote_url"]))
    return found


def remote_problems(remote: str, url: str) -> list[str]:
    """Check the remote URL against the remote type."""
    if remote == "none":
        if url:
            return [
                f"dvc_remote_url={url!r} is set but dvc_remote='none': leave the URL empty, "
                "or choose a remote type (for example dvc_remote='local')"
            ]
        return []
    if remote == "local":
        if not url or "://" in url:
            return [
                f"dvc_remote_url={url!r} is not a folder path; a local remote needs one (for example /mnt/dvc-store)"
            ]
        return []
    if remote not in REMOTE_SCHEMES:
        choices = ", ".join(["none", "local", *REMOTE_SCHEMES])
        return [f"dvc_remote={remote!r} is not valid: choose one of {choices}"]
    scheme, example = REMOTE_SCHEMES[remote]
    if not url.startswith(scheme) or len(url) == len(scheme) or any(c.isspace() for c in url):
        return [f"dvc_remote_url={url!r} does not fit dvc_remote={remote!r}: use {scheme}... (for example {example!r})"]
    return []


def main(answers: dict[str, str]) -> int:
    found = problems(answers)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    # cookiecutter renders this file; JSON in a raw string keeps any answer inert.
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}""")))
