"""Validate the answers before cookiecutter writes any file.

A bad answer stops generation with one line that names the value and shows a valid one.
The checks are plain functions over the answers, so tests import this file unrendered. The
choices come from the template's ``cookiecutter.json``, their one source: a new choice needs
no edit here (a new remote type needs its URL scheme below).
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from pathlib import Path

SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
# Remote type -> the URL scheme DVC expects, and an example to show (`none` and `local` take no URL scheme).
REMOTE_SCHEMES = {
    "s3": ("s3://", "s3://my-bucket/dvc-store"),
    "gcs": ("gs://", "gs://my-bucket/dvc-store"),
    "azure": ("azure://", "azure://my-container/dvc-store"),
    "ssh": ("ssh://", "ssh://user@host.example.com/srv/dvc-store"),
}


def choices_of(template_root: Path) -> dict[str, list[str]]:
    """Each choice option of the template and its values, default first, as ``cookiecutter.json`` lists them."""
    options = json.loads((template_root / "cookiecutter.json").read_text(encoding="utf-8"))
    return {name: values for name, values in options.items() if isinstance(values, list) and not name.startswith("_")}


def problems(answers: dict[str, str], choices: dict[str, list[str]]) -> list[str]:
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
    for key, values in choices.items():
        check(answers[key] in values, key, values[0], f"choose one of {', '.join(values)}")
    for key in ("project_name", "description", "author_name"):
        check(answers[key].strip() != "", key, "My Model", "it must not be empty")
        check("\n" not in answers[key] and "\r" not in answers[key], key, "My Model", "use a single line")
    if answers["dvc_remote"] in choices["dvc_remote"]:
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
    scheme, example = REMOTE_SCHEMES[remote]
    if not url.startswith(scheme) or len(url) == len(scheme) or any(c.isspace() for c in url):
        return [f"dvc_remote_url={url!r} does not fit dvc_remote={remote!r}: use {scheme}... (for example {example!r})"]
    return []


def main(answers: dict[str, str], template_root: Path) -> int:
    found = problems(answers, choices_of(template_root))
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    # cookiecutter renders this file; JSON in a raw string keeps any answer inert. template_root()
    # (hooks/location.py) is the checkout being baked, the right version under --checkout and cruft.
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}"""), Path(r"""{{ template_root() }}""")))
