"""Session setup for the template's tests; the helpers are in bakery.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bakery import PAIRWISE, TOOLS_BIN, bake, remote_url


@pytest.fixture(autouse=True, scope="session")
def _tools_and_git_identity(tmp_path_factory) -> None:
    """The template's tools (dvc, uv, ...) on PATH, and a Git identity, as on a developer's machine."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Test Baker\n\temail = baker@example.com\n[init]\n\tdefaultBranch = main\n")
    patch = pytest.MonkeyPatch()
    patch.setenv("PATH", os.pathsep.join([str(TOOLS_BIN), os.environ.get("PATH", "")]))
    patch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    patch.setenv("UV_PYTHON_DOWNLOADS", "never")
    patch.delenv("VIRTUAL_ENV", raising=False)
    # Generated projects run several Python processes per command: let them cache bytecode.
    patch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    yield
    patch.undo()


@pytest.fixture(scope="session", params=PAIRWISE, ids=lambda answers: "-".join(answers.values()))
def pairwise_bake(request, tmp_path_factory) -> tuple[dict[str, str], Path]:
    """One bake of the pairwise set: its answers and the project folder (test_bake checks its files,
    test_workflows lints its workflows)."""
    answers = dict(request.param)
    tmp = tmp_path_factory.mktemp("bake")
    answers["dvc_remote_url"] = remote_url(answers["dvc_remote"], tmp)
    return answers, bake(tmp / "out", **answers)
