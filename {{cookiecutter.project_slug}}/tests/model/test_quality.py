"""Model-quality tests: every floor and ceiling in params.yaml (quality:) against the metrics.

`pytest_generate_tests` in this folder's conftest.py makes one test per bound, so a failure
names the metric.
"""

from {{ cookiecutter.package_name }}.core.metric_goals import METRIC_GOALS


def test_metric_meets_its_bound(bound, metrics):
    name, kind, limit = bound
    assert name in metrics, f"quality.{kind}.{name} names no metric; metrics are {sorted(metrics)}"
    if kind == "minimum":
        assert metrics[name] >= limit, f"{name} = {metrics[name]} is below its floor {limit}"
    else:
        assert metrics[name] <= limit, f"{name} = {metrics[name]} is above its ceiling {limit}"


def test_bounds_point_the_right_way(params):
    # A floor on an error metric (or a ceiling on a score) would pass a worse model.
    for name in params.quality.minimum:
        assert METRIC_GOALS.get(name) == "higher", f"quality.minimum.{name}: lower is better; use quality.maximum"
    for name in params.quality.maximum:
        assert METRIC_GOALS.get(name) == "lower", f"quality.maximum.{name}: higher is better; use quality.minimum"
