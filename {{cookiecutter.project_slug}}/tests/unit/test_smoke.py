"""The smoke test against a stand-in service that answers like the real one, right or wrong, and against
the real one (in-process); on a raw table with text categories, codes, yes/no and empty cells."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.serving import service, smoke

ROWS = 20


class Service:
    """A local HTTP server with /ready, /metadata and /predict answers set by each test."""

    def __init__(self, sha256: str, predictions: list[dict], ready: int = 200):
        self.sha256, self.predictions, self.ready = sha256, predictions, ready
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def answer(self, status: int, body: dict) -> None:
                content = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def do_GET(self):
                if self.path == "/ready":
                    self.answer(stand_in.ready, {"ready": stand_in.ready == 200, "detail": "model refused"})
                else:
                    self.answer(200, {"model_sha256": stand_in.sha256})

            def do_POST(self):
                rows = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["rows"]
                self.answer(200, {"model_version": "x", "predictions": stand_in.predictions[: len(rows)]})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def workdir(mixed_outputs):
    return mixed_outputs


@pytest.fixture
def recorded(mixed_outputs):
    return smoke.cases(rows=ROWS, output=mixed_outputs / "cases.json")


@pytest.fixture
def stand_in(recorded):
    served = Service(recorded["model_sha256"], [dict(p) for p in recorded["predictions"]])
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_the_cases_are_test_rows_with_the_verified_models_predictions(recorded, workdir):
    metadata = json.loads((workdir / "models/metadata.json").read_text())
    assert recorded["model_sha256"] == metadata["model_sha256"]
    assert len(recorded["rows"]) == len(recorded["predictions"]) == ROWS
    assert set(recorded["rows"][0]) == set(metadata["features"])
    assert {"prediction", "probability_Adelie", "probability_Gentoo"} <= set(recorded["predictions"][0])
    # Raw rows, as a client sends them: text categories and codes, true/false, null for an empty cell.
    values = [value for row in recorded["rows"] for value in row.values()]
    assert {type(value) for value in values} == {str, bool, float, type(None)}
    assert all(isinstance(row["code"], str) and len(row["code"]) == 3 for row in recorded["rows"])


def test_the_real_service_answers_the_cases_as_offline(recorded):
    with TestClient(service.create_app()) as client:
        while client.get("/ready").json().get("detail") == "loading":
            pass
        answer = client.post("/predict", json={"rows": recorded["rows"]})
    assert answer.status_code == 200, answer.text
    assert smoke._differences(recorded["predictions"], answer.json()["predictions"]) == []


def test_a_service_that_answers_as_offline_passes(stand_in, workdir):
    assert f"{ROWS} rows answered as offline" in smoke.check(stand_in.url, workdir / "cases.json", timeout=5)


def test_a_difference_beyond_the_tolerance_fails_and_names_the_row(stand_in, workdir):
    stand_in.predictions[2]["probability_Gentoo"] += 10 * smoke.TOLERANCE
    with pytest.raises(smoke.SmokeError, match="row 2 probability_Gentoo"):
        smoke.check(stand_in.url, workdir / "cases.json", timeout=5)


def test_on_a_tie_either_label_is_right(stand_in, workdir):
    cases = json.loads((workdir / "cases.json").read_text())
    tie = {"probability_Adelie": 0.5, "probability_Chinstrap": 0.5, "probability_Gentoo": 0.0}
    cases["predictions"][0].update({"prediction": "Adelie", **tie})
    (workdir / "cases.json").write_text(json.dumps(cases))
    near = {"probability_Adelie": 0.4999999, "probability_Chinstrap": 0.5000001, "probability_Gentoo": 0.0}
    stand_in.predictions[0].update({"prediction": "Chinstrap", **near})
    smoke.check(stand_in.url, workdir / "cases.json", timeout=5)
    stand_in.predictions[1]["prediction"] = "Unknown"
    with pytest.raises(smoke.SmokeError, match="row 1 prediction"):
        smoke.check(stand_in.url, workdir / "cases.json", timeout=5)


def test_another_model_fails(stand_in, workdir):
    stand_in.sha256 = "0" * 64
    with pytest.raises(smoke.SmokeError, match="serves model 0000"):
        smoke.check(stand_in.url, workdir / "cases.json", timeout=5)


def test_a_service_that_never_gets_ready_fails_with_its_reason(stand_in, workdir):
    stand_in.ready = 503
    with pytest.raises(smoke.SmokeError, match=r"did not answer 200 within 1 s; last answer: 503 .*model refused"):
        smoke.check(stand_in.url, workdir / "cases.json", timeout=1)


def test_the_command_exits_1_and_says_why(stand_in, workdir, capsys):
    stand_in.sha256 = "0" * 64
    assert smoke.main([stand_in.url, "--cases", str(workdir / "cases.json"), "--timeout", "5"]) == 1
    assert "smoke: failed: the service serves model 0000" in capsys.readouterr().err
