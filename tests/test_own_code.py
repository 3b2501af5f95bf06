"""The template's own code passes the checks it sets up in generated projects: ruff, mypy (the hooks), typos."""

from __future__ import annotations

from bakery import TEMPLATE, TOOLS_BIN, run


def test_ruff_check_and_format_find_nothing():
    run([str(TOOLS_BIN / "ruff"), "check", "."], TEMPLATE)
    run([str(TOOLS_BIN / "ruff"), "format", "--check", "."], TEMPLATE)


def test_mypy_finds_nothing_in_the_hooks():
    run([str(TOOLS_BIN / "mypy")], TEMPLATE)  # [tool.mypy] in pyproject.toml: the files and the strictness


def test_typos_finds_nothing():
    run([str(TOOLS_BIN / "typos")], TEMPLATE)
