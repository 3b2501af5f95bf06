"""`monitor` on this project's own data: held-out rows raise nothing; a moved feature and wrong outcomes do.

These run the command as the Model health workflow does, on the pipeline's outputs
(`dvc repro` first).
"""

import json

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core import paths
from {{ cookiecutter.package_name }}.monitoring import monitor
from {{ cookiecutter.package_name }}.pipeline import export
from {{ cookiecutter.package_name }}.serving.row_log import RowLog, RowLogSettings


@pytest.fixture(scope="module")
def held_out(split) -> pd.DataFrame:
    return pd.read_parquet(paths.PROCESSED_DIR / paths.TEST_FILE)


def run(frame: pd.DataFrame | None, params, tmp_path, name: str, batch=None) -> monitor.Result:
    if batch is None:
        batch = tmp_path / f"{name}.parquet"
        frame.to_parquet(batch)
    # The project's thresholds; fewer bootstrap resamples than a weekly run takes keep the tests quick.
    quick = params.model_copy(update={"monitoring": params.monitoring.model_copy(update={"bootstrap": 60})})
    return monitor.run(batch, quick, output_dir=tmp_path / name)


def test_held_out_rows_raise_nothing(held_out, params, schema, tmp_path, note):
    if params.data.split == "time":
        note("monitor: the test split is the latest rows (data.split: time); drift from training may be real")
        return
    result = run(held_out, params, tmp_path, "clean")
    assert result.findings == [], result.findings
    written = json.loads((tmp_path / "clean/monitor.json").read_text(encoding="utf-8"))
    assert written["alert"] is False and len(written["features"]) == len(schema.features)
    assert "Nothing crossed a threshold" in (tmp_path / "clean/summary.md").read_text(encoding="utf-8")
    assert "<svg" in (tmp_path / "clean/monitor.html").read_text(encoding="utf-8")


def test_a_feature_moved_by_one_standard_deviation_is_the_feature_flagged(held_out, params, schema, tmp_path):
    numeric = schema.columns_of("numeric")
    if not numeric:
        pytest.skip("no numeric feature to move")
    moved = numeric[0]
    batch = held_out.drop(columns=schema.target)  # inputs only, as most production batches come
    batch[moved] = batch[moved] + batch[moved].std()
    result = run(batch, params, tmp_path, "moved")
    assert {drift.column for drift in result.features if drift.drifted} == {moved}
    assert any(finding.startswith(f"`{moved}` drifted") for finding in result.findings)


def test_wrong_outcomes_on_a_slice_are_decayed_quality(held_out, params, schema, tmp_path):
    batch = held_out.copy()
    target = schema.target
    # Two thirds of the rows: the test split can be small (a hundred rows), and the release's own
    # metrics on it carry that uncertainty too; a smaller slice would be within the interval.
    rows = batch.index[: 2 * len(batch) // 3]
    if params.task == "classification":
        labels = batch[target].unique()
        batch.loc[rows, target] = batch.loc[rows, target].map(dict(zip(labels, np.roll(labels, 1), strict=True)))
    else:
        batch.loc[rows, target] = batch[target].mean() + 3 * (batch[target].mean() - batch.loc[rows, target])
    result = run(batch, params, tmp_path, "wrong")
    assert [check.metric for check in result.quality if check.decayed], result.quality
    assert not [drift for drift in result.features if drift.drifted]


def test_the_services_log_of_held_out_rows_is_a_batch_that_raises_nothing(held_out, params, schema, tmp_path, note):
    if params.data.split == "time":
        note("monitor: the test split is the latest rows (data.split: time); drift from training may be real")
        return
    # The rows as the service took them, written by its sampled log (monitor reads only their inputs).
    rows = export.request_rows(held_out[schema.features], schema.feature_types)
    log = RowLog(RowLogSettings(share=1.0, destination=str(tmp_path / "log")), schema.features, "v0.0.0")
    log.write("request", {name: [row[name] for row in rows] for name in schema.features}, [{}] * len(rows))
    log.close()
    result = run(None, params, tmp_path, "logged", batch=tmp_path / "log")
    assert result.rows == len(held_out)
    assert result.findings == [], result.findings
