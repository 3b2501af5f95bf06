"""The template's two commands as nox sessions, for contributors who reach for nox.

    nox -s test [-- PYTEST-ARGS]   the template's test suite (the default session)
    nox -s quickstart [-- DIR]     bake a project with the default answers and run its local loop

Each runs tasks.py, the entry point that needs only Python and git: it keeps the template's
tools in .venv, so the sessions need no environment of their own (``python=False``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

TASKS = str(Path(__file__).resolve().parent / "tasks.py")
nox.options.sessions = ["test"]


@nox.session(python=False)
def test(session: nox.Session) -> None:
    """The template's test suite; arguments after `--` go to pytest."""
    session.run(sys.executable, TASKS, "test", *session.posargs, external=True)


@nox.session(python=False)
def quickstart(session: nox.Session) -> None:
    """Bake a project with the default answers, then: environment, dvc repro, pytest."""
    session.run(sys.executable, TASKS, "quickstart", *session.posargs, external=True)
