"""The pull-request gate as a test: `pytest --base ../main-model` (a checkout of main, reproduced)."""

import pytest


@pytest.mark.needs_base
def test_no_regression_against_main(verdict_against_main):
    assert verdict_against_main.passed, verdict_against_main.summary()
