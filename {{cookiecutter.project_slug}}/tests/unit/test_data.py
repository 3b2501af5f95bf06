import hashlib

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core import paths
from {{ cookiecutter.package_name }}.core.errors import DataError, MissingOutputError
from {{ cookiecutter.package_name }}.core.params import Params
from {{ cookiecutter.package_name }}.pipeline import data


def test_the_sample_dataset_loads_without_a_download(sample_contract):
    schema = data.run(Params(data={"split": "stratified"}))
    assert schema.rows == schema.train_rows + schema.test_rows > 100
    assert schema.data_source.startswith("sklearn:")
    assert schema.labels == [0, 1], "whole-number classes stay numbers"


def test_the_split_is_deterministic(classification_csv, workdir, csv_params):
    params = csv_params(classification_csv, "label")
    data.run(params)
    first = [(workdir / paths.PROCESSED_DIR / name).read_bytes() for name in (paths.TRAIN_FILE, paths.TEST_FILE)]
    data.run(params)
    assert [
        (workdir / paths.PROCESSED_DIR / name).read_bytes() for name in (paths.TRAIN_FILE, paths.TEST_FILE)
    ] == first


def test_the_raw_file_is_never_modified(classification_csv, csv_params):
    before = hashlib.sha256(classification_csv.read_bytes()).hexdigest()
    data.run(csv_params(classification_csv, "label"))
    assert hashlib.sha256(classification_csv.read_bytes()).hexdigest() == before


def test_the_split_is_stratified(classification_csv, csv_params):
    data.run(csv_params(classification_csv, "label"))
    train, test, _ = data.load_split()
    shares = train["label"].mean(), test["label"].mean()
    assert abs(shares[0] - shares[1]) < 0.05


def test_a_missing_target_column_is_named(classification_csv, csv_params):
    with pytest.raises(DataError, match=r"data\.csv: target column 'outcome' not found"):
        data.run(csv_params(classification_csv, "outcome"))


def test_a_malformed_csv_names_the_file(workdir, classification_csv, csv_params):
    path = workdir / "broken.csv"
    path.write_text('a,b,label\n1,2,0\n3,"4,1\n')
    with pytest.raises(DataError, match=r"broken\.csv: not a readable CSV file"):
        data.run(csv_params(path, "label"))


def test_a_missing_file_says_how_to_add_it(workdir, classification_csv, csv_params):
    with pytest.raises(DataError, match=r"file not found; put your table there and run `adopt"):
        data.run(csv_params(workdir / "data/raw/other.csv", "label"))


def test_outputs_of_an_older_data_stage_say_to_run_the_pipeline(workdir):
    paths.PROCESSED_DIR.mkdir(parents=True)
    for name in (paths.TRAIN_FILE, paths.TEST_FILE):
        pd.DataFrame({"x": [1.0]}).to_parquet(paths.PROCESSED_DIR / name)
    (paths.PROCESSED_DIR / paths.SCHEMA_FILE).write_text('{"task": "classification", "feature_ranges": {}}')
    with pytest.raises(MissingOutputError, match=r"written by another version of the data stage; run `dvc repro`"):
        data.load_split()


def test_missing_outputs_say_to_run_the_pipeline(workdir):
    with pytest.raises(MissingOutputError, match="run `dvc repro` first"):
        data.load_split()


# --- raw tables: text, empty cells, duplicates, several string classes -----------------------


def raw_table(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """A table as people export them: a row index, an ID, text categories, empty cells, string classes."""
    rng = np.random.default_rng(seed)
    size = rng.normal(50, 8, rows).round(1)
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], rows)
    score = size + (island == "Dream") * 8 + rng.normal(0, 3, rows)
    frame = pd.DataFrame(
        {
            "Unnamed: 0": np.arange(rows),
            "id": [f"P{i:05d}" for i in range(rows)],
            "island": island,
            "size": size,
            "code": rng.choice(["007", "010", "123"], rows),
            "species": np.where(score > 58, "Gentoo", np.where(score > 47, "Chinstrap", "Adelie")),
        }
    )
    frame.loc[rng.choice(rows, 12, replace=False), "size"] = np.nan
    frame.loc[rng.choice(rows, 9, replace=False), "island"] = np.nan
    return frame


@pytest.fixture
def raw_csv(workdir, contract_of):
    """A raw table in data/raw/table.csv, its contract, and params that read it."""

    def make(frame: pd.DataFrame | None = None, **data_settings) -> tuple[pd.DataFrame, Params]:
        frame = raw_table() if frame is None else frame
        path = workdir / "data/raw/table.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
        contract_of(workdir, pd.read_csv(path, dtype=str), "species", "classification")
        settings = {"source": "file", "path": str(path), "target": "species", "exclude": ["Unnamed: 0", "id"]}
        return frame, Params.model_validate({"data": {**settings, **data_settings}})

    return make


def test_text_and_empty_cells_are_valid_input(raw_csv):
    _, params = raw_csv()
    schema = data.run(params)
    assert schema.features == ["island", "size", "code"]
    assert schema.feature_types == {"island": "categorical", "size": "numeric", "code": "categorical"}
    assert schema.categories["code"] == ["007", "010", "123"], "codes keep their leading zeros"
    assert schema.labels == ["Adelie", "Chinstrap", "Gentoo"]
    train, test, _ = data.load_split()
    assert train["island"].isna().any() or test["island"].isna().any()
    assert set(train["code"].dropna()) <= {"007", "010", "123"}


def test_every_problem_of_a_table_is_reported_in_one_run(raw_csv, workdir):
    frame, params = raw_csv()
    broken = frame.astype({"size": object}).copy()
    broken.loc[[3, 8], "size"] = "n/a cm"  # text in a numeric column
    broken.loc[[5, 6, 7], "island"] = "Atlantis"  # a category the contract does not list
    broken.loc[10, "size"] = 900.0  # outside the contract's range
    broken.loc[range(20, 60), "code"] = np.nan  # more empty cells than allowed
    path = workdir / "data/raw/table.csv"
    broken.to_csv(path, index=False)
    before = path.read_bytes()
    with pytest.raises(DataError) as error:
        data.run(params)
    message = str(error.value)
    assert "4 problems found" in message
    assert "column 'size' is numeric in the contract but 2 rows hold text ['n/a cm'] (first at rows 4, 9)" in message
    assert "column 'island' has 3 rows with categories the contract does not list ['Atlantis']" in message
    assert "column 'size' has 1 row outside" in message and "[900.0]" in message
    assert "column 'code' has 40 rows empty" in message and "the contract allows none" in message
    assert path.read_bytes() == before, "the raw file is never modified"


def test_a_column_the_contract_does_not_describe_is_named(raw_csv, workdir):
    frame, params = raw_csv()
    frame.assign(extra=1).to_csv(workdir / "data/raw/table.csv", index=False)
    with pytest.raises(DataError, match=r"columns \['extra'\] are not in data-contract\.yaml"):
        data.run(params)


USED = ["island", "size", "code", "species"]  # what the model and the split see of raw_table()


def test_exact_duplicates_are_counted_and_dropped(raw_csv):
    frame = raw_table()
    repeated = int(frame.duplicated(USED).sum()) + 15
    _, params = raw_csv(pd.concat([frame, frame.iloc[:15]], ignore_index=True))
    schema = data.run(params)
    assert schema.duplicates["exact_rows"] == schema.duplicates["dropped"] == repeated
    assert schema.rows == 315 - repeated
    train, test, _ = data.load_split()
    train_rows = set(data.row_keys(train[schema.features]))
    assert not train_rows & set(data.row_keys(test[schema.features])), "identical feature rows stay on one side"


def test_duplicates_can_be_kept(raw_csv):
    frame = raw_table()
    repeated = int(frame.duplicated(USED).sum()) + 15
    _, params = raw_csv(pd.concat([frame, frame.iloc[:15]], ignore_index=True), duplicates="keep")
    schema = data.run(params)
    assert schema.duplicates == {"exact_rows": repeated, "dropped": 0, "no_target_dropped": 0}
    assert schema.rows == 315


def test_rows_without_a_target_are_left_out(raw_csv, workdir, contract_of):
    frame = raw_table()
    _, params = raw_csv(frame)
    frame.loc[[1, 2], "species"] = np.nan
    frame.to_csv(workdir / "data/raw/table.csv", index=False)
    contract_of(workdir, pd.read_csv(workdir / "data/raw/table.csv", dtype=str), "species", "classification")
    schema = data.run(params)
    kept = frame[frame["species"].notna()]
    assert schema.duplicates["no_target_dropped"] == 2
    assert schema.rows == len(kept) - kept.duplicated(USED).sum()


def test_a_group_split_keeps_each_group_on_one_side(raw_csv):
    frame = raw_table().assign(farm=lambda f: [f"farm{i % 23}" for i in range(len(f))])
    _, params = raw_csv(frame, split="group", split_column="farm")
    schema = data.run(params)
    train, test, _ = data.load_split()
    assert "farm" not in schema.features and "farm" in test.columns
    assert not set(train["farm"]) & set(test["farm"])


def test_a_time_split_tests_on_the_latest_rows(raw_csv):
    frame = raw_table().assign(day=lambda f: pd.date_range("2024-01-01", periods=len(f), freq="D").astype(str))
    _, params = raw_csv(frame.sample(frac=1, random_state=1), split="time", split_column="day")
    schema = data.run(params)
    train, test, _ = data.load_split()
    assert "day" not in schema.features
    assert pd.to_datetime(train["day"]).max() < pd.to_datetime(test["day"]).min()
    assert len(test) == 60


def test_a_time_split_refuses_values_that_are_not_dates(raw_csv):
    _, params = raw_csv(split="time", split_column="island")
    with pytest.raises(DataError, match=r"data.split_column 'island': \d+ rows are not dates or times"):
        data.run(params)


def test_a_class_with_one_row_is_named_with_the_fix(raw_csv):
    frame = raw_table()
    frame.loc[0, "species"] = "Emperor"
    _, params = raw_csv(frame)
    with pytest.raises(DataError, match=r"class 'Emperor' of 'species' has one row; .*merge it"):
        data.run(params)


def test_the_fingerprint_follows_params_data_and_contract(raw_csv, workdir):
    _, params = raw_csv()
    recorded = data.run(params).inputs
    assert data.current_fingerprint(params) == recorded
    assert data.stale_inputs(recorded, params) == []
    assert data.stale_inputs(recorded, params.model_copy(update={"seed": 7})) == ["params"]
    with (workdir / "data-contract.yaml").open("a") as handle:
        handle.write("# reviewed\n")
    assert data.stale_inputs(recorded, params) == ["contract"]


def test_model_input_gives_the_pipeline_its_types():
    frame = pd.DataFrame({"n": ["1.5", None], "c": [7, None], "b": ["yes", "no"]})
    prepared = data.model_input(frame, {"n": "numeric", "c": "categorical", "b": "boolean"})
    assert prepared["n"].dtype == np.float64 and np.isnan(prepared["n"][1])
    assert prepared["c"][0] == "7" and pd.isna(prepared["c"][1])
    assert prepared["b"].tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("text", "dialect"),
    [
        ("a,b,label\n1.5,x,0\n2.25,y,1\n", {"sep": ",", "decimal": "."}),
        ("a;b;label\n1,5;x;0\n2,25;y;1\n", {"sep": ";", "decimal": ","}),
        ("a;b;label\n1.5;x;0\n2;y;1\n", {"sep": ";", "decimal": "."}),
        ("a\tb\tlabel\n1.5\tx, y\t0\n2\tz\t1\n", {"sep": "\t", "decimal": "."}),
        ("a|b|label\n1|x|0\n2|y|1\n", {"sep": "|", "decimal": "."}),
        ("label\n0\n1\n", {"sep": ",", "decimal": "."}),
    ],
    ids=["comma", "semicolon-decimal-comma", "semicolon", "tab", "pipe", "one-column"],
)
def test_the_csv_dialect_is_read_from_the_file(workdir, text, dialect):
    path = workdir / "export.csv"
    path.write_text(text)
    assert data.csv_dialect(path) == dialect


# CSV shapes that pyarrow reads as pandas does (read_table takes pyarrow's reader when every column is text) ...
ARROW_READS = {
    "plain": b"a,b\n1,x\n2,y\n",
    "empty words": ("a,b\n" + "\n".join(f"{word},{word}" for word in data.EMPTY_WORDS[1:]) + "\n,\n").encode(),
    "empty words in quotes": b'a,b\n"NA","x"\n"",y\n',
    "words like empty ones": b"a,b\nnone,NONE\nNan,nAn\n NA,NA \n",
    "byte order mark": b"\xef\xbb\xbfa,b\n1,x\n",
    "crlf": b"a,b\r\n1,x\r\n2,y\r\n",
    "cr": b"a,b\r1,x\r2,y\r",
    "quotes": b'a,b\nab"c,x\n "q",x\n"a""b",x\n"a,1",y\n',
    "line break in quotes": b'a,b\n"line 1\nline 2",x\n',
    "blank lines": b"a,b\n1,x\n\n2,y\n\n",
    "no last line end": b"a,b\n1,x",
    "spaces and codes": b"a,b\n 1 , x \n007,#1\ninf,-1e999\n",
    "unicode": "a,b\nü,日本\n".encode(),
    "quoted header": b'"a,1",b\n1,x\n',
    "numbers as names": b"1,2\n3,4\n",
    "semicolons": b"a;b\n1,5;x\n",
    "tabs": b"a\tb\n1\tx\n",
    "many rows": b"a,b\n" + b"".join(b"%d,%s\n" % (i, b"NA" if i % 7 else b"x" * (i % 50)) for i in range(60_000)),
    # More than one of pyarrow's 1 MB blocks, which it parses side by side: a block must not end inside quotes.
    "line breaks in quotes, many rows": b"a,b\n" + b"".join(b'%d,"x\ny %d"\n' % (i, i) for i in range(100_000)),
}
# ... and shapes it reads otherwise, left to pandas.
PANDAS_READS = {
    "a line of spaces": b"a,b\n1,x\n   \n2,y\n",
    "an empty name": b"a,,c\n1,2,3\n",
    "a separator after the header": b"a,b,\n1,x,\n",
    "a repeated name": b"a,a\n1,2\n",
    "a short row": b"a,b,c\n1,2\n",
    "a long row": b"a,b\n1,2\n1,2,3\n",
    "an index column": b"a,b\n0,1,2\n1,3,4\n",
}


@pytest.mark.parametrize("text", [*ARROW_READS.values(), *PANDAS_READS.values()], ids=[*ARROW_READS, *PANDAS_READS])
def test_a_table_read_as_text_is_what_pandas_reads(workdir, text):
    """Every column as text (what adopt reads): pyarrow's reader where it reads the file as pandas does,
    pandas' where it would not, and the same frame either way."""
    path = workdir / "export.csv"
    path.write_bytes(text)
    dialect = data.csv_dialect(path)
    header = list(pd.read_csv(path, nrows=0, **dialect).columns)
    by_arrow = data._text_by_arrow(path, pd.Index(header), dialect["sep"])
    try:
        by_pandas = pd.read_csv(path, dtype=dict.fromkeys(header, str), **dialect)
    except pd.errors.ParserError:  # a row longer than the header, after the first: refused, naming the file
        with pytest.raises(DataError, match=r"export\.csv: not a readable CSV file: .*Expected 2 fields in line 3"):
            data.read_table(path, header)
        assert by_arrow is None
        return
    pd.testing.assert_frame_equal(data.read_table(path, header), by_pandas)
    assert (by_arrow is not None) == (text in ARROW_READS.values())
    if by_arrow is not None:
        pd.testing.assert_frame_equal(by_arrow, by_pandas)


def test_a_table_that_is_not_utf8_is_refused_by_both_readers(workdir):
    path = workdir / "export.csv"
    path.write_bytes("a,b\nü,x\n".encode("latin-1"))
    assert data._text_by_arrow(path, pd.Index(["a", "b"]), ",") is None
    with pytest.raises(DataError, match=r"export\.csv: not a readable CSV file: .*utf-8"):
        data.read_table(path, ["a", "b"])


def test_a_european_export_is_read_as_numbers(raw_csv, workdir, contract_of):
    # Semicolons between columns, commas as decimal marks: what a spreadsheet in many locales writes.
    frame, params = raw_csv()
    path = workdir / "data/raw/table.csv"
    frame.to_csv(path, index=False, sep=";", decimal=",")
    schema = data.run(params)
    assert schema.feature_types["size"] == "numeric"
    train, _, _ = data.load_split()
    assert train["size"].dtype == np.float64 and train["size"].max() > 40


def test_a_stage_reads_one_part_and_the_columns_a_model_uses(raw_csv):
    _, params = raw_csv(split="group", split_column="id")
    data.run(params)
    (paths.PROCESSED_DIR / paths.TRAIN_FILE).unlink()  # the test part is read without the training part
    test, schema = data.load_part("test")
    assert list(test.columns) == [*schema.features, schema.target], "not the group column"
    assert len(test) == schema.test_rows
    with pytest.raises(MissingOutputError, match=r"train\.parquet not found; run `dvc repro` first"):
        data.load_part("train")


def test_duplicate_rows_are_found_as_pandas_finds_them():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.choice([0.0, -0.0, 1.5, np.nan], 400),
            "kind": rng.choice(["a", "b", None], 400),
            "n": rng.integers(0, 3, 400),
        }
    )
    expected = frame.duplicated().to_numpy()
    assert expected.sum() > 300, "the table should repeat rows"
    np.testing.assert_array_equal(data.duplicated_rows(frame, list(frame.columns)), expected)
    np.testing.assert_array_equal(data.duplicated_rows(frame, ["x"]), frame.duplicated(subset=["x"]).to_numpy())
    kept, repeated = data.deduplicate(frame, ["x", "kind"], "drop")
    assert repeated == int(frame.duplicated(subset=["x", "kind"]).sum())
    pd.testing.assert_frame_equal(kept, frame.drop_duplicates(subset=["x", "kind"]))
