import json
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.package_name }}.core import artifact, paths
from {{ cookiecutter.package_name }}.core.errors import ProjectError
from {{ cookiecutter.package_name }}.core.records import ModelRecord, ServingRecord
from {{ cookiecutter.package_name }}.pipeline import export
from {{ cookiecutter.package_name }}.pipeline.data import load_split, model_input
from {{ cookiecutter.package_name }}.serving.predict import predict_frame
from {{ cookiecutter.package_name }}.serving.row_log import RowLogSettings
from {{ cookiecutter.package_name }}.serving.traffic import OTHER_FIELD

PROJECT_ROOT = Path(__file__).resolve().parents[2]

TOLERANCE = 1e-5  # the export stage's parity tolerance


def request_rows(frame: pd.DataFrame, schema) -> list[dict]:
    """Rows as a client sends them: numbers, text categories, true/false, null for an empty cell."""
    return export.request_rows(frame[schema.features], schema.feature_types)


def as_columns(rows: list[dict]) -> dict[str, list]:
    """The same rows column by column, as ``{"columns": ...}`` takes them."""
    return {name: [row[name] for row in rows] for name in rows[0]}


def offline(model, frame: pd.DataFrame, schema) -> pd.DataFrame:
    return predict_frame(model, model_input(frame, schema), schema.task)


def assert_same_predictions(answer: list[dict], expected: pd.DataFrame) -> None:
    assert len(answer) == len(expected)
    for got, want in zip(answer, expected.to_dict(orient="records"), strict=True):
        assert set(got) == set(want)
        for key, value in want.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=TOLERANCE, abs=TOLERANCE), key
            else:
                assert got[key] == value, key


@pytest.mark.parametrize("count", [1, 25], ids=["one-row", "batch"])
def test_predictions_equal_the_offline_ones(client, split, model, count):
    _, test, schema = split
    features = test.head(count)
    answer = client.post("/predict", json={"rows": request_rows(features, schema)})
    assert answer.status_code == 200, answer.text
    assert_same_predictions(answer.json()["predictions"], offline(model, features, schema))


@pytest.mark.parametrize("count", [1, 25], ids=["one-row", "batch"])
def test_columns_are_answered_as_the_same_rows(client, split, model, count):
    _, test, schema = split
    rows = request_rows(test.head(count), schema)
    answer = client.post("/predict", json={"columns": as_columns(rows)})
    assert answer.status_code == 200, answer.text
    assert answer.json() == client.post("/predict", json={"rows": rows}).json()
    assert_same_predictions(answer.json()["predictions"], offline(model, test.head(count), schema))


def first_row(split) -> dict:
    _, test, schema = split
    return request_rows(test.head(1), schema)[0]


def bad_rows(split) -> list[tuple[str, object, str]]:
    """(case, body, field named in the answer): each must get a 422."""
    _, _, schema = split
    row = first_row(split)
    second = list(row)[1]
    serving = ServingRecord.read(PROJECT_ROOT / paths.SERVING_PATH)
    numeric = [name for name in schema.features if schema.feature_types[name] == "numeric"]
    number = numeric[0] if numeric else None
    cases = [
        ("missing", {"rows": [{k: v for k, v in row.items() if k != second}]}, f"rows[0].{second}"),
        ("extra", {"rows": [{**row, "customer_id": 7}]}, "rows[0].customer_id"),
        ("empty", {"rows": []}, "rows"),
        ("no-rows", {"row": row}, "rows"),
        ("not-an-object", [row], "body"),
    ]
    if number is not None:
        cases += [
            ("text", {"rows": [{**row, number: "12.5"}]}, f"rows[0].{number}"),
            ("bool", {"rows": [{**row, number: True}]}, f"rows[0].{number}"),
            ("second-row", {"rows": [row, {**row, number: "x"}]}, f"rows[1].{number}"),
            # a missing feature is named even beside other problems
            (
                "missing-and-bad",
                {"rows": [{**row, number: "x"}, {k: v for k, v in row.items() if k != second}]},
                f"rows[1].{second}",
            ),
        ]
    # null only where the data contract allows no empty cell (the sample tables have none).
    strict = [name for name in schema.features if not serving.nullable[name]]
    if strict:
        cases.append(("null", {"rows": [{**row, strict[0]: None}]}, f"rows[0].{strict[0]}"))
    return cases


def test_bad_input_is_refused_naming_the_field(client, split):
    cases = bad_rows(split)
    assert len(cases) >= 5
    for name, body, field in cases:
        answer = client.post("/predict", json=body)
        assert answer.status_code == 422, name
        assert field in [problem["field"] for problem in answer.json()["detail"]], (name, answer.json())


def bad_columns(split) -> list[tuple[str, object, list[str]]]:
    """(case, body, every field the answer must name): each must get a 422."""
    _, test, schema = split
    columns = as_columns(request_rows(test.head(3), schema))
    first, second = schema.features[:2]
    numeric = [name for name in schema.features if schema.feature_types[name] == "numeric"]
    cases = [
        ("ragged", {"columns": {**columns, second: columns[second][:2]}}, [f"columns.{second}"]),
        ("unknown-column", {"columns": {**columns, "customer_id": [1, 2, 3]}}, ["columns.customer_id"]),
        ("missing-column", {"columns": {k: v for k, v in columns.items() if k != second}}, [f"columns.{second}"]),
        ("empty-batch", {"columns": {name: [] for name in columns}}, [f"columns.{name}" for name in columns]),
        ("no-columns", {"columns": {}}, [f"columns.{name}" for name in columns]),
        ("not-lists", {"columns": {**columns, first: columns[first][0]}}, [f"columns.{first}"]),
        ("both-forms", {"columns": columns, "rows": request_rows(test.head(1), schema)}, ["body"]),
        ("neither-form", {}, ["rows"]),
    ]
    serving = ServingRecord.read(PROJECT_ROOT / paths.SERVING_PATH)
    strict = [name for name in schema.features if not serving.nullable[name]]
    other = next((name for name in numeric if name != second), None)
    if other is not None:  # a missing column is named beside a bad cell
        bad = {k: v for k, v in columns.items() if k != second} | {other: [columns[other][0], "x", None]}
        cases.append(("missing-and-bad", {"columns": bad}, [f"columns.{second}", f"columns.{other}[1]"]))
    if len(numeric) >= 2:  # every bad cell is named, by its column and its row
        text_in, bool_in = numeric[0], numeric[-1]
        bad = {**columns, text_in: [columns[text_in][0], "12.5", "x"], bool_in: [True, *columns[bool_in][1:]]}
        fields = [f"columns.{text_in}[1]", f"columns.{text_in}[2]", f"columns.{bool_in}[0]"]
        cases.append(("bad-cells", {"columns": bad}, fields))
    if strict:  # null only where the data contract allows no empty cell (the sample tables have none)
        cases.append(
            ("null", {"columns": {**columns, strict[0]: [*columns[strict[0]][:2], None]}}, [f"columns.{strict[0]}[2]"])
        )
    return cases


def test_bad_columns_are_refused_naming_the_column_and_the_row(client, split):
    cases = bad_columns(split)
    assert len(cases) >= 8
    for name, body, fields in cases:
        answer = client.post("/predict", json=body)
        assert answer.status_code == 422, name
        named = [problem["field"] for problem in answer.json()["detail"]]
        assert set(fields) <= set(named), (name, answer.json())
    ragged = client.post("/predict", json=cases[0][1]).json()["detail"]
    assert len(ragged) == 1 and ragged[0]["type"] == "ragged_columns"
    assert "2 values" in ragged[0]["msg"] and "hold 3" in ragged[0]["msg"], ragged


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_numbers_json_cannot_carry_are_refused(client, split, literal):
    row = first_row(split)
    name = next(name for name, value in row.items() if isinstance(value, float))
    text = json.dumps({"rows": [{**row, name: 0.0}]}).replace(f'"{name}": 0.0', f'"{name}": {literal}')
    answer = client.post("/predict", content=text, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] in {f"rows[0].{name}", "body"}


@pytest.mark.parametrize(
    "content", [b'{"rows": [', b'{"rows": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"], ids=["cut-off", "nested-deep"]
)
def test_malformed_json_is_refused(client, content):
    answer = client.post("/predict", content=content, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "body"


def test_other_content_types_are_refused(client, split):
    body = json.dumps({"rows": [first_row(split)]})
    answer = client.post("/predict", content=body, headers={"content-type": "text/plain"})
    assert answer.status_code == 415
    assert answer.json()["detail"][0]["field"] == "content-type"


def test_a_batch_above_the_row_limit_is_refused(limited, split):
    answer = limited.post("/predict", json={"rows": [first_row(split)] * 3})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "rows"


def test_columns_above_the_row_limit_are_refused(limited, split):
    row = first_row(split)
    answer = limited.post("/predict", json={"columns": as_columns([row] * 3)})
    assert answer.status_code == 422
    assert {problem["field"] for problem in answer.json()["detail"]} == {f"columns.{name}" for name in row}
    assert {problem["type"] for problem in answer.json()["detail"]} == {"too_long"}
    assert limited.post("/predict", json={"columns": as_columns([row] * 2)}).status_code == 200


def test_a_body_above_the_size_limit_is_refused_before_it_is_read(limited):
    answer = limited.post("/predict", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    # Without Content-Length (chunked), the body is counted as it arrives.
    chunks = (b"x" * 1000 for _ in range(5))
    answer = limited.post("/predict", content=chunks, headers={"content-type": "application/json"})
    assert answer.status_code == 413


class _Traced:
    """The app as FastAPI's OpenTelemetry middleware hands it a request it traces (the scope marked)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        await self.app({**scope, "fastapi.telemetry": None} if scope["type"] == "http" else scope, receive, send)


def test_a_traced_request_takes_the_router_and_gets_the_same_answer(client, limited, split):
    """POST /predict is called by the service's middleware, without the router; a request FastAPI's
    OpenTelemetry traces goes through the router instead (which names the route on the span). Same answers."""
    _, test, schema = split
    rows = request_rows(test.head(5), schema)
    requests = [{"json": {"rows": rows}}, {"json": {"columns": as_columns(rows)}}]
    requests += [{"json": body} for _, body, _ in bad_rows(split)[:3] + bad_columns(split)[:3]]
    requests += [{"content": b'{"rows": [', "headers": {"content-type": "application/json"}}]
    requests += [{"content": json.dumps({"rows": rows}), "headers": {"content-type": "text/plain"}}]
    traced = TestClient(_Traced(client.app))  # not started: the model is loaded already
    for request in requests:
        direct, routed = client.post("/predict", **request), traced.post("/predict", **request)
        assert (routed.status_code, routed.json()) == (direct.status_code, direct.json()), request
    assert direct.status_code == 415
    chunks = [b"x" * 1000] * 5  # above the limit, counted as it arrives: the 413 the router's handler gives
    headers = {"content-type": "application/json"}
    direct = limited.post("/predict", content=iter(chunks), headers=headers)
    routed = TestClient(_Traced(limited.app)).post("/predict", content=iter(chunks), headers=headers)
    assert (routed.status_code, routed.json()) == (direct.status_code, direct.json()) and direct.status_code == 413


def test_request_ids_are_echoed_or_made(client, caplog):
    caplog.set_level("INFO")
    assert client.get("/health", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = client.get("/health", headers={"x-request-id": "bad id\\n" * 30}).headers["x-request-id"]
    assert len(made) == 32 and made.isalnum()
    lines = [json.loads(record.message) for record in caplog.records if record.message.startswith("{")]
    assert {"abc-123", made} <= {line.get("request_id") for line in lines}
    assert all(line["route"] == "/health" for line in lines if line.get("request_id") == made)


def test_health_ready_and_metadata(client):
    assert client.get("/health").json() == {"status": "alive"}
    assert client.get("/ready").status_code == 200
    metadata = client.get("/metadata").json()
    recorded = ModelRecord.read(PROJECT_ROOT / paths.METADATA_PATH)
    serving = ServingRecord.read(PROJECT_ROOT / paths.SERVING_PATH)
    assert metadata["model_sha256"] == recorded.model_sha256
    assert metadata["model_version"] == recorded.model_version
    assert metadata["git_commit"] == recorded.git_commit
    assert metadata["trained_at"] == recorded.trained_at
    assert metadata["metrics"] == json.loads((PROJECT_ROOT / paths.METRICS_PATH).read_text(encoding="utf-8"))
    assert metadata["runtime"] == serving.runtime in {"onnx", "sklearn"}
    assert metadata["onnx_sha256"] == serving.onnx_sha256
    assert metadata["ready"] is True


def test_metrics_count_requests_by_route_and_status(client):
    def count(route: str, status: str) -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith('http_requests_total{route="' + route + '",status="' + status + '"}'):
                return float(line.split()[-1])
        return 0.0

    before = count("/predict", "415")
    client.post("/predict", content=b"{}", headers={"content-type": "text/plain"})
    assert count("/predict", "415") == before + 1
    assert "http_request_duration_seconds_bucket" in client.get("/metrics").text


def samples(client) -> dict[tuple[str, tuple], float]:
    """Every sample on /metrics: (name, sorted labels) -> value."""
    text = client.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def growth(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after[key] - before.get(key, 0.0)


def model_label_values(found: dict) -> set[str]:
    """The values of the model's series' labels but a histogram's bounds: what traffic could add."""
    return {value for (name, labels) in found if name.startswith("model_") for key, value in labels if key != "le"}


def test_the_model_traffic_is_counted_on_metrics(client, split):
    _, test, schema = split
    rows = request_rows(test.head(5), schema)
    before = samples(client)
    answer = client.post("/predict", json={"rows": rows})
    assert answer.status_code == 200, answer.text
    after = samples(client)
    assert growth(before, after, "model_rows_total") == 5
    predictions = [row["prediction"] for row in answer.json()["predictions"]]
    serving = ServingRecord.read(PROJECT_ROOT / paths.SERVING_PATH)
    if schema.task == "classification":
        for label, count in Counter(predictions).items():
            assert growth(before, after, "model_predictions_total", label=str(label)) == count
        assert growth(before, after, "model_top_class_probability_count") == 5
    else:
        deciles = serving.prediction_deciles
        median = deciles[len(deciles) // 2]
        assert growth(before, after, "model_prediction_count") == 5
        below = sum(value <= median for value in predictions)
        assert growth(before, after, "model_prediction_bucket", le=repr(median)) == below
    assert model_label_values(after) <= {*schema.features, *map(str, serving.classes), OTHER_FIELD}


def test_a_refused_field_counts_under_its_feature_and_never_becomes_a_label(client, split):
    _, test, schema = split
    (row,) = request_rows(test.head(1), schema)
    feature = schema.features[0]
    before = samples(client)
    assert client.post("/predict", json={"rows": [{**row, "not a feature": 1}]}).status_code == 422
    assert client.post("/predict", json={"rows": [{**row, feature: [1]}]}).status_code == 422
    after = samples(client)
    assert growth(before, after, "model_invalid_cells_total", feature=OTHER_FIELD) == 1
    assert growth(before, after, "model_invalid_cells_total", feature=feature) == 1
    assert growth(before, after, "model_rows_total") == 0
    assert "not a feature" not in model_label_values(after)


def written_rows(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.read_text().splitlines()]


def test_the_sampled_log_writes_every_row_at_share_one(start, split, metadata, tmp_path):
    _, test, schema = split
    rows = request_rows(test.head(3), schema)
    with start(row_log=RowLogSettings(share=1.0, destination=str(tmp_path / "rows"))) as (client, _):
        answer = client.post("/predict", json={"rows": rows}, headers={"x-request-id": "trace-42"})
        assert answer.status_code == 200, answer.text
        client.post("/predict", json={"rows": [{"not": "valid"}]})  # refused: no row to log
    written = written_rows(tmp_path / "rows")
    assert [line["inputs"] for line in written] == rows
    assert [line["output"] for line in written] == answer.json()["predictions"]
    assert {line["request_id"] for line in written} == {"trace-42"}
    assert {line["model_version"] for line in written} == {metadata.model_version, answer.json()["model_version"]}


def test_the_sampled_log_writes_nothing_when_off(start, split, tmp_path, capfd):
    _, test, schema = split
    rows = request_rows(test.head(3), schema)
    with start(row_log=RowLogSettings(share=0.0, destination=str(tmp_path / "rows"))) as (client, _):
        assert client.post("/predict", json={"rows": rows}).status_code == 200
    with start() as (client, _):  # the default: off
        assert client.post("/predict", json={"rows": rows}).status_code == 200
    assert not (tmp_path / "rows").exists()
    assert '"request_id"' not in capfd.readouterr().out
    with pytest.raises(ProjectError, match="--log-rows-exclude names"), start(row_log=RowLogSettings(exclude=("x y",))):
        pass


def test_the_docs_show_the_training_features_with_an_example(client, schema):
    document = client.get("/openapi.json").json()
    row = document["components"]["schemas"]["Row"]
    assert list(row["properties"]) == schema.features
    assert set(row["examples"][0]) == set(schema.features)
    assert row["additionalProperties"] is False


def test_the_docs_show_both_forms_of_the_body_with_examples(client, schema):
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert list(schemas["Columns"]["properties"]) == schema.features
    assert schemas["Columns"]["additionalProperties"] is False
    assert schemas["Columns"]["properties"][schema.features[0]]["type"] == "array"
    body = schemas["PredictRequest"]
    assert body["oneOf"] == [{"required": ["rows"]}, {"required": ["columns"]}]
    assert "default" not in body["properties"]["rows"] and "default" not in body["properties"]["columns"]
    examples = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    for form in ("rows", "columns"):
        example = examples[form]["value"]
        assert client.post("/predict", json=example).status_code == 200, form


@pytest.mark.parametrize("damage", ["tampered", "missing", "older-export"])
def test_a_damaged_model_never_becomes_ready(start, tmp_path, damage):
    served = ServingRecord.read(PROJECT_ROOT / paths.SERVING_PATH)
    if damage == "older-export" and served.runtime != "onnx":
        pytest.skip("only an ONNX model's record names the graph's inputs")
    shutil.copytree(PROJECT_ROOT / "models", tmp_path / "models")
    path = tmp_path / (paths.ONNX_PATH if served.runtime == "onnx" else paths.MODEL_PATH)
    if damage == "tampered":
        content = bytearray(path.read_bytes())
        content[len(content) // 2] ^= 0xFF
        path.write_bytes(bytes(content))
    elif damage == "missing":
        path.unlink()
    else:  # written before the graph took one input per kind of feature
        older = served.to_json()
        del older["onnx_inputs"]
        (tmp_path / paths.SERVING_PATH).write_text(json.dumps(older), encoding="utf-8")
    reasons = {"tampered": "differs from", "missing": "not found", "older-export": "run `dvc repro`"}
    with start(tmp_path) as (client, ready):
        assert ready.status_code == 503
        assert reasons[damage] in ready.json()["detail"]
        assert client.get("/health").status_code == 200
        assert client.post("/predict", json={"rows": [{}]}).status_code == 503
        assert client.get("/metadata").json()["ready"] is False


# --- a raw table: text categories, codes, yes/no, empty cells (tests/conftest.py builds it) --------------


@pytest.fixture(scope="module")
def mixed(start, mixed_project):
    """A client of the service on the mixed table's model, its test split and model."""
    with start(mixed_project) as (client, ready):
        assert ready.status_code == 200, ready.json()
        _, test, schema = load_split(mixed_project / "data/processed")
        model, _ = artifact.load_verified(mixed_project / paths.MODEL_PATH, mixed_project / paths.METADATA_PATH)
        yield client, test, schema, model


def raw_row(**changes) -> dict:
    row = {"island": "Dream", "code": "007", "member": True, "bill length": 47.5, "depth": None}
    return {**row, **changes}


def test_a_raw_row_with_text_and_null_is_answered_as_offline(mixed):
    client, _, schema, model = mixed
    rows = [raw_row(), raw_row(island=None, member=False, depth=18.5), raw_row(island="", code="100")]
    answer = client.post("/predict", json={"rows": rows})
    assert answer.status_code == 200, answer.text
    assert_same_predictions(answer.json()["predictions"], offline(model, pd.DataFrame(rows), schema))
    assert answer.json()["predictions"][0]["prediction"] in {"Adelie", "Chinstrap", "Gentoo"}


def test_raw_columns_with_text_and_null_are_answered_as_offline(mixed):
    client, test, schema, model = mixed
    rows = [raw_row(), raw_row(island=None, member=False, depth=18.5), raw_row(island="", code="100")]
    answer = client.post("/predict", json={"columns": as_columns(rows)})
    assert answer.status_code == 200, answer.text
    assert_same_predictions(answer.json()["predictions"], offline(model, pd.DataFrame(rows), schema))
    whole = client.post("/predict", json={"columns": as_columns(request_rows(test, schema))})
    assert whole.status_code == 200, whole.text
    assert_same_predictions(whole.json()["predictions"], offline(model, test, schema))


def test_the_test_split_is_answered_as_offline(mixed):
    client, test, schema, model = mixed
    assert test[schema.features].isna().any().any(), "the split should hold empty cells"
    answer = client.post("/predict", json={"rows": request_rows(test, schema)})
    assert answer.status_code == 200, answer.text
    assert_same_predictions(answer.json()["predictions"], offline(model, test, schema))


def test_an_unknown_category_is_scored_not_refused(mixed):
    client, _, schema, model = mixed
    row = raw_row(island="Atlantis", code="999")
    answer = client.post("/predict", json={"rows": [row]})
    assert answer.status_code == 200, answer.text
    assert_same_predictions(answer.json()["predictions"], offline(model, pd.DataFrame([row]), schema))


def test_empty_cells_and_unknown_categories_are_counted_by_feature(mixed):
    client = mixed[0]
    before = samples(client)
    rows = [
        raw_row(depth=18.5),
        raw_row(island=None),  # raw_row leaves depth empty
        raw_row(island="  ", code="999", depth=18.5),
        raw_row(island="Atlantis", depth=18.5),
    ]
    assert client.post("/predict", json={"columns": as_columns(rows)}).status_code == 200
    assert client.post("/predict", json={"rows": [raw_row(code=7)]}).status_code == 422
    after = samples(client)
    assert growth(before, after, "model_rows_total") == 4
    assert growth(before, after, "model_empty_cells_total", feature="island") == 2  # null and blank text
    assert growth(before, after, "model_empty_cells_total", feature="depth") == 1
    assert growth(before, after, "model_unknown_categories_total", feature="island") == 1
    assert growth(before, after, "model_unknown_categories_total", feature="code") == 1
    assert growth(before, after, "model_invalid_cells_total", feature="code") == 1
    assert not {"Atlantis", "999"} & model_label_values(after)


@pytest.mark.parametrize(
    ("case", "row", "field"),
    [
        ("number-for-category", raw_row(island=3), "island"),
        ("number-for-code", raw_row(code=7), "code"),
        ("null-where-never-empty", raw_row(code=None), "code"),
        ("blank-where-never-empty", raw_row(code="  "), "code"),
        ("null-number-never-empty", raw_row(**{"bill length": None}), "bill length"),
        ("text-for-number", raw_row(depth="18.5"), "depth"),
        ("text-for-boolean", raw_row(member="yes"), "member"),
        ("number-for-boolean", raw_row(member=1), "member"),
    ],
)
def test_bad_raw_values_are_refused_naming_the_field(mixed, case, row, field):
    answer = mixed[0].post("/predict", json={"rows": [raw_row(), row]})
    assert answer.status_code == 422, case
    assert f"rows[1].{field}" in [problem["field"] for problem in answer.json()["detail"]], answer.json()


@pytest.mark.parametrize(
    ("case", "row", "field"),
    [
        ("number-for-category", raw_row(island=3), "island"),
        ("null-where-never-empty", raw_row(code=None), "code"),
        ("blank-where-never-empty", raw_row(code="  "), "code"),
        ("text-for-number", raw_row(depth="18.5"), "depth"),
        ("number-for-boolean", raw_row(member=1), "member"),
    ],
)
def test_bad_raw_cells_in_columns_are_refused_naming_column_and_row(mixed, case, row, field):
    answer = mixed[0].post("/predict", json={"columns": as_columns([raw_row(), raw_row(), row])})
    assert answer.status_code == 422, case
    assert [problem["field"] for problem in answer.json()["detail"]] == [f"columns.{field}[2]"], answer.json()


def test_the_docs_list_known_categories_without_refusing_others(mixed):
    client, _, schema, _ = mixed
    properties = client.get("/openapi.json").json()["components"]["schemas"]["Row"]["properties"]
    island = properties["island"]
    assert island["examples"] == schema.categories["island"]
    assert "enum" not in json.dumps(island)
    assert "Biscoe" in island["description"] and "rare category" in island["description"]
    assert {"type": "null"} in island["anyOf"]  # the contract allows it empty
    assert properties["member"]["type"] == "boolean"
    metadata = client.get("/metadata").json()
    assert metadata["nullable"] == {"island": True, "code": False, "member": False, "bill length": False, "depth": True}
    assert metadata["feature_types"]["code"] == "categorical"


def test_scikit_learn_serves_raw_rows_when_onnx_cannot(start, mixed, mixed_project, tmp_path, monkeypatch):
    _, _, schema, model = mixed
    for name in ("data", "models"):
        shutil.copytree(mixed_project / name, tmp_path / name)
    shutil.copy(mixed_project / "data-contract.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(export, "convert", lambda *_: (_ for _ in ()).throw(ValueError("cannot convert")))
    export.run()
    rows = [raw_row(), raw_row(island=None, code="999")]
    with start(tmp_path) as (client, ready):
        assert ready.json() == {"ready": True, "runtime": "sklearn"}
        answer = client.post("/predict", json={"rows": rows})
        assert answer.status_code == 200, answer.text
        assert_same_predictions(answer.json()["predictions"], offline(model, pd.DataFrame(rows), schema))
        assert client.post("/predict", json={"columns": as_columns(rows)}).json() == answer.json()
        assert client.post("/predict", json={"rows": [raw_row(code=7)]}).status_code == 422
