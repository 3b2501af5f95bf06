"""Batch scoring of raw tables (text categories, codes, yes/no, empty cells), chunk by chunk."""

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core import artifact, paths
from {{ cookiecutter.package_name }}.core.errors import ArtifactError, DataError
from {{ cookiecutter.package_name }}.pipeline import export
from {{ cookiecutter.package_name }}.pipeline.data import load_split, model_input
from {{ cookiecutter.package_name }}.serving import predict, runtime

FEATURES = ["island", "code", "member", "bill length", "depth"]


def raw_batch(folder, rows: int = 80) -> pd.DataFrame:
    """Rows of the raw table as a user would send them, with an extra column and a note after the features."""
    return pd.read_csv(folder / "data/raw/data.csv", dtype=str).head(rows).assign(note="kept")


def offline(frame: pd.DataFrame) -> pd.DataFrame:
    """scikit-learn's answers for raw rows, without the `predict` command."""
    model, _ = artifact.load_verified()
    _, _, schema = load_split()
    return predict.predict_frame(model, model_input(frame, schema), schema.task)


def assert_scored_as_offline(scored: pd.DataFrame, raw: pd.DataFrame) -> None:
    expected = offline(raw)
    assert scored["prediction"].tolist() == expected["prediction"].tolist()
    probabilities = [column for column in expected.columns if column.startswith("probability_")]
    np.testing.assert_allclose(scored[probabilities], expected[probabilities], atol=1e-5)


@pytest.mark.parametrize("chunk_rows", [7, predict.CHUNK_ROWS], ids=["chunks", "one-chunk"])
def test_scores_a_raw_csv_keeping_its_other_columns(mixed_outputs, chunk_rows):
    raw = raw_batch(mixed_outputs)
    assert raw["island"].isna().any() and raw["depth"].isna().any(), "the rows should hold empty cells"
    raw.to_csv("batch.csv", index=False)
    assert predict.run(mixed_outputs / "batch.csv", mixed_outputs / "scored.csv", chunk_rows=chunk_rows) == 80
    scored = pd.read_csv("scored.csv", dtype={"code": str, "customer_id": str})
    assert list(scored.columns[: len(raw.columns)]) == list(raw.columns)
    header = (mixed_outputs / "scored.csv").read_text().splitlines()[0]
    assert header.startswith("customer_id,island,code,member,bill length,depth,species,note,prediction,"), header
    assert scored["code"].str.fullmatch(r"\d{3}").all(), "codes keep their leading zeros"
    assert (scored["note"] == "kept").all()
    assert {"prediction", "probability_Adelie", "probability_Chinstrap", "probability_Gentoo"} <= set(scored.columns)
    assert_scored_as_offline(scored, raw)


def test_memory_holds_a_few_chunks_whatever_the_length(mixed_outputs, monkeypatch):
    # Reading runs ahead of writing by at most a chunk on each side of the one being scored: with
    # chunks of about 7 rows, no more than 3 chunks are ever held, for 80 rows as for 80 million.
    raw_batch(mixed_outputs).to_csv("batch.csv", index=False)
    read, written, most_held, scored_rows = [0], [0], [0], []
    chunks, write, score = predict._chunks, predict._Writer.write, runtime.OnnxPredictor.predict_frame

    def counted_chunks(*args):
        for chunk in chunks(*args):
            read[0] += 1
            most_held[0] = max(most_held[0], read[0] - written[0])
            yield chunk

    def counted_write(self, rows, answers):
        write(self, rows, answers)
        written[0] += 1

    monkeypatch.setattr(predict, "_chunks", counted_chunks)
    monkeypatch.setattr(predict._Writer, "write", counted_write)
    monkeypatch.setattr(
        runtime.OnnxPredictor, "predict_frame", lambda self, frame: scored_rows.append(len(frame)) or score(self, frame)
    )
    assert predict.run(mixed_outputs / "batch.csv", mixed_outputs / "scored.csv", chunk_rows=7) == 80
    # The first chunk is 7 lines, the next ones as many bytes: about 7 rows each.
    assert read[0] == written[0] >= 80 // 14
    assert scored_rows[0] == 7 and max(scored_rows) <= 14 and sum(scored_rows) == 80
    assert most_held[0] <= 3, f"{most_held[0]} chunks held at once"


@pytest.mark.parametrize("header", ["plain", "quoted"])
def test_rows_come_back_as_written(mixed_outputs, header):
    # CSV to CSV, rows are copied with their answers appended: cells as written (a trailing zero stays),
    # line ends as CRLF, a blank line skipped. From the first quote on (a quoted cell may hold a line
    # break), pandas reads the rest: every row is still scored, in order.
    raw = raw_batch(mixed_outputs, 30)
    value = raw.loc[0, "bill length"]
    raw.loc[0, "bill length"] = value + ("0" if "." in value else ".0")
    raw.loc[20, "note"] = "two\nlines"
    text = raw.to_csv(index=False, lineterminator="\r\n")
    first, _, rest = text.partition("\r\n")
    lines = rest.split("\r\n")
    assert '"' not in "".join(lines[:20]), "rows before the 21st need no quotes"
    if header == "quoted":
        first = ",".join(f'"{name}"' for name in raw.columns)
    (mixed_outputs / "batch.csv").write_bytes(
        "\r\n".join([first, lines[0], "", *lines[1:]]).encode()  # a blank line after the first row
    )
    assert predict.run(mixed_outputs / "batch.csv", mixed_outputs / "scored.csv", chunk_rows=7) == 30
    scored_text = (mixed_outputs / "scored.csv").read_bytes().decode()
    copied = header == "plain"
    assert scored_text.split("\n")[1].startswith(lines[0] + ",") is copied, "the first row copied as written"
    scored = pd.read_csv("scored.csv", dtype={"code": str, "customer_id": str})
    assert len(scored) == 30 and scored.loc[20, "note"] == "two\nlines"
    assert (scored["note"].drop(20) == "kept").all()
    assert_scored_as_offline(scored, raw)


def test_the_output_has_the_usual_permissions(mixed_outputs):
    raw_batch(mixed_outputs, 5).to_csv("batch.csv", index=False)
    mask = os.umask(0o022)
    try:
        predict.run(mixed_outputs / "batch.csv", mixed_outputs / "scored.csv")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((mixed_outputs / "scored.csv").stat().st_mode) == 0o644
    assert [path.name for path in mixed_outputs.iterdir() if path.suffix == ".tmp"] == []


def test_parquet_in_and_out(mixed_outputs):
    raw = raw_batch(mixed_outputs).drop(columns="note")
    raw.to_parquet("batch.parquet", index=False)
    assert predict.run(mixed_outputs / "batch.parquet", mixed_outputs / "scored.parquet", chunk_rows=8) == 80
    scored = pd.read_parquet("scored.parquet")
    assert list(scored.columns[: len(raw.columns)]) == list(raw.columns)
    assert_scored_as_offline(scored, raw)


def test_unknown_categories_are_scored(mixed_outputs):
    raw = raw_batch(mixed_outputs, 3).assign(island="Atlantis", code="999")
    raw.to_csv("batch.csv", index=False)
    predict.run(mixed_outputs / "batch.csv", mixed_outputs / "scored.csv")
    assert_scored_as_offline(pd.read_csv("scored.csv"), raw)


def test_every_bad_cell_of_the_file_is_reported_at_once(mixed_outputs):
    raw = raw_batch(mixed_outputs, 40)
    raw.loc[[2, 35], "bill length"] = "oops"  # text in a numeric column, in two chunks
    raw.loc[5, "member"] = "maybe"
    raw.loc[[7, 8, 30], "code"] = None  # the contract allows no empty code
    raw.loc[9, "depth"] = "inf"
    raw.to_csv("batch.csv", index=False)
    with pytest.raises(DataError) as error:
        predict.run(mixed_outputs / "batch.csv", mixed_outputs / "scored.csv", chunk_rows=10)
    message = str(error.value)
    assert message.startswith(f"{mixed_outputs / 'batch.csv'}: 4 problems found")
    assert "column 'bill length' is numeric but 2 rows hold text ['oops'] (first at rows 3, 36)" in message
    assert "column 'member' is boolean but 1 row hold other values ['maybe'] (first at row 6)" in message
    assert "column 'code' has 3 rows empty (first at rows 8, 9, 31)" in message
    assert "column 'depth' has 1 row infinite (first at row 10)" in message
    assert not (mixed_outputs / "scored.csv").exists()
    assert [path.name for path in mixed_outputs.iterdir() if path.suffix == ".tmp"] == []


@pytest.mark.parametrize(
    ("dtype", "cells"),
    [
        ("float64", [1.5, np.inf, np.nan, -np.inf, 0.0]),
        ("float32", [1.5, np.nan, 2.0, np.inf, -3.0]),
        ("int64", [1, 2, 3, -4, 0]),
        ("Float64", [1.5, pd.NA, 2.0, 3.0, pd.NA]),  # pandas' nullable types, as Parquet gives them
        ("Int32", [1, pd.NA, 2, 3, 4]),
    ],
)
def test_numbers_read_as_numbers_are_prepared_and_checked_as_cells_of_any_kind(dtype, cells):
    """Numeric columns that pandas read as numbers are prepared and checked as one matrix, the others one by
    one: the same cells get the same values and the same problems either way."""
    features = runtime.Features(
        names=["strict", "nullable", "text"],
        types={"strict": "numeric", "nullable": "numeric", "text": "categorical"},
        nullable={"strict": False, "nullable": True, "text": True},
        categories={"text": []},
    )
    typed = pd.DataFrame({"strict": cells, "nullable": cells}).astype(dtype).assign(text=["a", "b", None, "c", ""])
    cells_of_any_kind = typed.astype(object)
    problems = {}
    for name, frame in {"typed": typed, "objects": cells_of_any_kind}.items():
        problems[name] = predict._Problems()
        prepared = predict.prepare(frame, features, problems[name], offset=10)
        assert prepared.columns.tolist() == features.names
        assert prepared[["strict", "nullable"]].dtypes.tolist() == ["float64", "float64"]
        if name == "typed":
            expected = prepared
        else:
            pd.testing.assert_frame_equal(prepared, expected)
    assert problems["typed"].lines() == problems["objects"].lines()
    infinite, empty = np.isinf(expected["strict"]).sum(), expected["strict"].isna().sum()
    assert len(problems["typed"].lines()) == (infinite > 0) * 2 + (empty > 0)  # the nullable column: infinite only
    if empty:  # numbered from 1 below the header, after the 10 rows of earlier chunks
        numbers = [str(10 + int(i) + 1) for i in np.flatnonzero(expected["strict"].isna())]
        where = ("row " if len(numbers) == 1 else "rows ") + ", ".join(numbers)
        (line,) = [line for line in problems["typed"].lines() if line.startswith("column 'strict'") and "empty" in line]
        assert line.startswith(f"column 'strict' has {empty} row") and f"empty (first at {where})" in line


def test_a_missing_feature_is_named(mixed_outputs):
    raw_batch(mixed_outputs).drop(columns="code").to_csv("batch.csv", index=False)
    with pytest.raises(DataError, match=r"batch.csv: missing feature columns \['code'\]"):
        predict.run(mixed_outputs / "batch.csv", mixed_outputs / "scored.csv")
    assert not (mixed_outputs / "scored.csv").exists()


def test_a_table_that_is_not_one_is_refused(mixed_outputs):
    (mixed_outputs / "batch.parquet").write_text("island,code\n")
    with pytest.raises(DataError, match=r"batch\.parquet: not a readable Parquet file"):
        predict.run(mixed_outputs / "batch.parquet", mixed_outputs / "scored.csv")
    (mixed_outputs / "batch.csv").write_text(",".join(FEATURES) + "\n")
    with pytest.raises(DataError, match=r"batch\.csv: has a header but no rows"):
        predict.run(mixed_outputs / "batch.csv", mixed_outputs / "scored.csv")


def test_a_changed_onnx_file_is_refused(mixed_outputs):
    raw_batch(mixed_outputs, 3).to_csv("batch.csv", index=False)
    content = bytearray(paths.ONNX_PATH.read_bytes())
    content[len(content) // 2] ^= 0xFF
    paths.ONNX_PATH.write_bytes(bytes(content))
    with pytest.raises(ArtifactError, match="differs from"):
        predict.run(mixed_outputs / "batch.csv", mixed_outputs / "scored.csv")


def test_scikit_learn_scores_when_it_serves_the_model(mixed_outputs, monkeypatch):
    monkeypatch.setattr(export, "convert", lambda *_: (_ for _ in ()).throw(ValueError("cannot convert")))
    assert export.run().runtime == "sklearn"
    raw = raw_batch(mixed_outputs)
    raw.to_csv("batch.csv", index=False)
    predict.run(mixed_outputs / "batch.csv", mixed_outputs / "scored.csv", chunk_rows=9)
    assert_scored_as_offline(pd.read_csv("scored.csv"), raw)


def test_a_model_elsewhere_is_used_with_its_own_records(mixed_outputs):
    (mixed_outputs / "models").rename(mixed_outputs / "release")
    raw_batch(mixed_outputs, 5).to_csv("batch.csv", index=False)
    count = predict.run(
        mixed_outputs / "batch.csv",
        mixed_outputs / "scored.csv",
        model_path=mixed_outputs / "release/model.skops",
        metadata_path=mixed_outputs / "release/metadata.json",
    )
    assert count == 5
    assert json.loads((mixed_outputs / "release/serving.json").read_text())["runtime"] == "onnx"


def test_the_input_is_never_overwritten(mixed_outputs):
    raw_batch(mixed_outputs, 5).to_csv("batch.csv", index=False)
    before = (mixed_outputs / "batch.csv").read_bytes()
    with pytest.raises(DataError, match="would overwrite the input"):
        predict.run(mixed_outputs / "batch.csv", mixed_outputs / "batch.csv")
    assert (mixed_outputs / "batch.csv").read_bytes() == before
