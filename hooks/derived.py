"""A Jinja extension with the values the project's files derive from the answers, each written once.

Where a file needs a value that follows from an answer, it writes ``{{ name() }}`` rather than
repeating the condition, so no file holds an ``{% if %}`` for it.
"""

from __future__ import annotations

from jinja2 import Environment, pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context

# The remotes whose sign-in (.github/actions/dvc-remote) asks GitHub for an OIDC token.
OIDC_REMOTES = ("s3", "gcs", "azure")


@pass_context
def dvc_remote_id_token(context: Context) -> str:
    """The `id-token` permission of a job that reads the DVC remote: `write` for an OIDC sign-in, else `none`."""
    return "write" if context["cookiecutter"]["dvc_remote"] in OIDC_REMOTES else "none"


class DerivedValues(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["dvc_remote_id_token"] = dvc_remote_id_token
