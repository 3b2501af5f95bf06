"""A Jinja extension that leaves GitHub's expressions in the project's `.github/` files to GitHub.

GitHub Actions writes its expressions as ``${{ ... }}``, which Jinja would read as its own.
Under ``.github/`` every ``${{ ... }}`` passes through Jinja as it stands, so a workflow in
the template is written as the workflow it bakes: ``${{ github.token }}`` is GitHub's, and
``{{ cookiecutter.python_version }}`` (no dollar) the template's. Elsewhere nothing changes:
no other file of the template holds a GitHub expression.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from jinja2.ext import Extension

GITHUB_EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)


def is_github_file(name: str | None) -> bool:
    """True for a template file under the project's `.github/` (cookiecutter names files by their relative path)."""
    return name is not None and ".github" in PurePosixPath(name.replace("\\", "/")).parts


def github_expressions_kept(source: str) -> str:
    """The source with each ``${{ ... }}`` wrapped in a raw block, which Jinja copies unread."""
    return GITHUB_EXPRESSION.sub(lambda match: "{% raw %}" + match.group() + "{% endraw %}", source)


class GitHubExpressions(Extension):
    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return github_expressions_kept(source) if is_github_file(name) else source
