"""The template's own Python (hooks, tests, tools) passes the ruff it pins for generated projects."""

from __future__ import annotations

from bakery import TEMPLATE, TOOLS_BIN, run


def test_ruff_check_and_format_find_nothing():
    run([str(TOOLS_BIN / "ruff"), "check", "."], TEMPLATE)
    run([str(TOOLS_BIN / "ruff"), "format", "--check", "."], TEMPLATE)
