"""The sampled log of scored rows: what a line holds, the share, the columns left out, and reading it back."""

import json
from datetime import datetime, timedelta, timezone
from itertools import cycle

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core.errors import DataError, ProjectError
from {{ cookiecutter.package_name }}.serving import row_log
from {{ cookiecutter.package_name }}.serving.row_log import RowLog, RowLogSettings

FEATURES = ["island", "income", "bill length"]
COLUMNS = {"island": ["Dream", None, "Atlantis"], "income": [52000.0, 61000.0, None], "bill length": [40.1, 38.0, 45.5]}
ANSWERS = [{"prediction": "Adelie", "probability_Adelie": 0.9}, {"prediction": "Gentoo"}, {"prediction": "Adelie"}]
NOON = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def lines_in(folder) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.read_text().splitlines()]


def test_every_row_at_share_one_with_its_request_model_inputs_and_output(tmp_path):
    log = RowLog(RowLogSettings(1.0, str(tmp_path)), FEATURES, "v1.2.0", now=lambda: NOON)
    log.write("req-1", COLUMNS, ANSWERS)
    log.close()
    written = lines_in(tmp_path)
    assert [line["request_id"] for line in written] == ["req-1"] * 3
    assert {line["model_version"] for line in written} == {"v1.2.0"}
    assert written[0]["time"] == "2026-12-01T12:00:00.000+00:00"
    assert [line["inputs"] for line in written] == [{name: COLUMNS[name][row] for name in FEATURES} for row in range(3)]
    assert [line["output"] for line in written] == ANSWERS


def test_a_share_logs_the_rows_drawn_and_no_others(tmp_path):
    draws = cycle([0.05, 0.5, 0.09])  # below a share of 0.1: the first and the third row
    log = RowLog(RowLogSettings(0.1, str(tmp_path)), FEATURES, "v1", draw=lambda: next(draws))
    log.write("req-2", COLUMNS, ANSWERS)
    log.close()
    assert [line["output"] for line in lines_in(tmp_path)] == [ANSWERS[0], ANSWERS[2]]


def test_excluded_features_are_never_written(tmp_path, capsys):
    log = RowLog(RowLogSettings(1.0, row_log.STDOUT, ("income",)), FEATURES, "v1")
    log.write("req-3", COLUMNS, ANSWERS)
    written = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(written) == 3
    assert all(set(line["inputs"]) == {"island", "bill length"} for line in written)
    assert "61000" not in json.dumps(written)


def test_a_feature_to_leave_out_that_the_model_lacks_is_refused_by_name():
    with pytest.raises(ProjectError, match=r"--log-rows-exclude names \['incme'\].*its features: \['island'"):
        RowLog(RowLogSettings(1.0, row_log.STDOUT, ("incme",)), FEATURES, "v1")


def test_a_new_day_starts_a_new_file(tmp_path):
    days = iter([NOON, NOON + timedelta(days=1)])
    log = RowLog(RowLogSettings(1.0, str(tmp_path)), FEATURES, "v1", now=lambda: next(days))
    log.write("a", COLUMNS, ANSWERS)
    log.write("b", COLUMNS, ANSWERS)
    log.close()
    names = sorted(path.name for path in tmp_path.iterdir())
    assert [name[: len("scored-rows-2026-12-01")] for name in names] == [
        "scored-rows-2026-12-01",
        "scored-rows-2026-12-02",
    ]


@pytest.mark.parametrize("text", ["2", "-0.1", "half", "nan", ""])
def test_a_share_outside_zero_to_one_is_refused_with_the_fix(text):
    with pytest.raises(ProjectError, match=r"from 0 \(off\) to 1 \(every row\)"):
        row_log.share(text, "--log-rows")


def test_a_log_folder_reads_back_as_a_table_of_the_inputs(tmp_path):
    log = RowLog(RowLogSettings(1.0, str(tmp_path)), FEATURES, "v1", now=lambda: NOON)
    log.write("a", COLUMNS, ANSWERS)
    log.close()
    table = row_log.read(tmp_path)
    pd.testing.assert_frame_equal(table, pd.DataFrame(COLUMNS))
    assert row_log.is_log(tmp_path) and row_log.is_log(tmp_path / "x.jsonl")
    assert not row_log.is_log(tmp_path / "x.csv")


def test_a_line_that_is_no_logged_row_is_named(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"inputs": {"island": "Dream"}}\n{"oops": 1}\n')
    with pytest.raises(DataError, match=r"rows.jsonl, line 2: not a logged row"):
        row_log.read(path)
    with pytest.raises(DataError, match=r"no \.jsonl file of logged rows"):
        row_log.read(tmp_path / "empty")
