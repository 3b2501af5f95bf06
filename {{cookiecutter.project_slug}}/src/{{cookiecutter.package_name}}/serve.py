"""The prediction service: FastAPI on uvicorn, serving the verified model over HTTP.

Endpoints: ``POST /predict`` (a batch of one or more rows), ``GET /health`` (the process is
alive), ``GET /ready`` (200 only once the model is loaded and its SHA-256 verified),
``GET /metadata`` (the model's record), ``GET /metrics`` (Prometheus), ``/docs`` (OpenAPI).

Start-up: the request schema is built from ``models/metadata.json`` (the features, in
training order) and ``models/serving.json`` (runtime, example row), so without them the
service refuses to start. The model file itself is loaded and verified in the background:
until then, and for good if it is missing or its hash differs from the record (tampered),
``/ready`` answers 503 with the reason and ``/predict`` answers 503.

Bad input never reaches the model: the body is refused with 413 above ``max_body_bytes``
(before it is read), 415 without a JSON content type, and 422 for malformed JSON, a missing,
extra or non-numeric feature, ``null``, ``NaN`` or ``Infinity`` (JSON has no such numbers;
Python's parser accepts the literals, the schema refuses them), an empty batch or one above
``max_rows``. Each 422 names the field (``rows[3].mean radius``) and the reason.

The request path is kept short: ``async def`` endpoints and an onnxruntime session on one
thread, run on the event loop (no hop to a thread pool), responses serialised once.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run time,
# and the request model is built inside create_app.
import asyncio
import json
import logging
import re
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from . import __version__, artifact, export
from .errors import ArtifactError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_ROWS = 1000
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # an incoming X-Request-ID outside this is replaced

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    metadata_path: Path = artifact.METADATA_PATH
    serving_path: Path = export.SERVING_PATH
    model_path: Path = artifact.MODEL_PATH
    onnx_path: Path = export.ONNX_PATH
    max_rows: int = DEFAULT_MAX_ROWS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


class OnnxPredictor:
    runtime = "onnx"

    def __init__(self, session: Any, task: str, classes: list) -> None:
        self._session, self._task = session, task
        self._output = ["probabilities"] if task == "classification" else [session.get_outputs()[0].name]
        self._classes = np.array(classes, dtype=object)
        self._keys = [f"probability_{label}" for label in classes]

    def predict(self, matrix: np.ndarray) -> list[dict[str, Any]]:
        (values,) = self._session.run(self._output, {export.INPUT_NAME: matrix})
        if self._task == "classification":
            labels = self._classes[values.argmax(axis=1)].tolist()
            rows = values.tolist()
            return [
                {"prediction": label, **dict(zip(self._keys, row, strict=True))}
                for label, row in zip(labels, rows, strict=True)
            ]
        return [{"prediction": value} for value in values.reshape(-1).tolist()]


class SklearnPredictor:
    runtime = "sklearn"

    def __init__(self, model: Any, features: list[str], task: str) -> None:
        self._model, self._features, self._task = model, features, task

    def predict(self, matrix: np.ndarray) -> list[dict[str, Any]]:
        import pandas as pd

        from .predict import predict_frame

        frame = pd.DataFrame(matrix, columns=self._features)
        return predict_frame(self._model, frame, self._task).to_dict(orient="records")


def load_predictor(settings: Settings) -> OnnxPredictor | SklearnPredictor:
    """The model of the serving record, only if its file matches the recorded SHA-256."""
    metadata = artifact.read_metadata(settings.metadata_path)
    serving = export.read_record(settings.serving_path)
    if serving.get("model_sha256") != metadata.get("model_sha256"):
        raise ArtifactError(
            f"{settings.serving_path} was exported from another model than {settings.metadata_path} records; "
            "run `dvc repro` (or `dvc pull`)"
        )
    if serving.get("runtime") == "onnx":
        content = artifact.verified_bytes(settings.onnx_path, serving.get("onnx_sha256"), settings.serving_path)
        return OnnxPredictor(export.session(content), serving["task"], serving["classes"])
    model, _ = artifact.load_verified(settings.model_path, settings.metadata_path)
    return SklearnPredictor(model, metadata["features"], metadata["task"])


def request_model(features: list[str], example: dict[str, float], max_rows: int) -> type[BaseModel]:
    """The body of ``POST /predict``, derived from the training features: ``{"rows": [{feature: number}]}``."""
    row = create_model(
        "Row",
        __config__=ConfigDict(
            extra="forbid", strict=True, allow_inf_nan=False, json_schema_extra={"examples": [example]}
        ),
        **{f"f{index}": (float, Field(alias=name)) for index, name in enumerate(features)},
    )
    return create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"rows": [example]}]}),
        rows=(Annotated[list[row], Field(min_length=1, max_length=max_rows)], ...),
    )


class Prediction(BaseModel):
    model_config = ConfigDict(extra="allow")
    prediction: float | int | str = Field(description="the predicted value or class label")


class PredictResponse(BaseModel):
    model_version: str
    predictions: list[Prediction] = Field(
        description="one per row, in order; classification adds probability_<label> for each class"
    )


class Problem(BaseModel):
    field: str
    type: str
    msg: str


class Problems(BaseModel):
    detail: list[Problem] | str


def _field(location: tuple | list) -> str:
    """('body', 'rows', 3, 'mean radius') -> 'rows[3].mean radius'."""
    name = ""
    for part in location[1:] if location and location[0] == "body" else location:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name or "body"


def _problems(errors: list[dict]) -> JSONResponse:
    # The offending input is not echoed: it may be NaN, which JSON cannot carry, or large.
    problems = [{"field": _field(error["loc"]), "type": error["type"], "msg": error["msg"]} for error in errors]
    return JSONResponse({"detail": problems}, status_code=422)


async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    return _problems(exc.errors())


class _Observe:
    """Request id, one JSON log line and Prometheus metrics per request; the body limit; 415 for non-JSON."""

    def __init__(self, app: Any, requests: Counter, latency: Histogram, max_body_bytes: int, paths: set[str]) -> None:
        self.app, self.requests, self.latency, self.max_body_bytes = app, requests, latency, max_body_bytes
        self.paths = paths  # metric labels: a route's path, never an arbitrary one (unbounded label values)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        status = 500

        async def send_with_id(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        limit, received = self.max_body_bytes, 0

        async def receive_with_limit() -> dict:
            # A body sent in chunks, without Content-Length, is counted as it arrives.
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, f"request body above the limit of {limit} bytes")
            return message

        try:
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            declared = headers.get(b"content-length", b"0")
            if not declared.isdigit() or int(declared) > limit:  # refused before the body is read
                problem = [{"field": "body", "type": "too_large", "msg": f"above the limit of {limit} bytes"}]
                await JSONResponse({"detail": problem}, status_code=413)(scope, receive, send_with_id)
            elif scope["method"] == "POST" and scope["path"] == "/predict" and content_type != b"application/json":
                problem = [{"field": "content-type", "type": "unsupported_media_type", "msg": "use application/json"}]
                await JSONResponse({"detail": problem}, status_code=415)(scope, receive, send_with_id)
            else:
                await self.app(scope, receive_with_limit, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", None)
            route = route or (scope["path"] if scope["path"] in self.paths else "unmatched")
            self.requests.labels(route, str(status)).inc()
            self.latency.labels(route, str(status)).observe(seconds)
            state = scope.get("state") or {}
            line = {
                "event": "request",
                "request_id": request_id,
                "method": scope["method"],
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            }
            if "rows" in state:
                line["rows"] = state["rows"]
            log.info(json.dumps(line))


class _Model:
    """What the endpoints read: the predictor once verified, or why there is none."""

    def __init__(self) -> None:
        self.predictor: OnnxPredictor | SklearnPredictor | None = None
        self.problem = "loading"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application; reads the model's records now, loads and verifies the model at start-up."""
    settings = settings or Settings()
    metadata = artifact.read_metadata(settings.metadata_path)
    serving = export.read_record(settings.serving_path)
    features: list[str] = metadata["features"]
    example = serving.get("example") or dict.fromkeys(features, 0.0)
    body_model = request_model(features, example, settings.max_rows)
    model = _Model()
    public = {
        "model_version": metadata.get("model_version"),
        "package_version": __version__,
        "git_commit": metadata.get("git_commit"),
        "trained_at": metadata.get("trained_at"),
        "task": metadata.get("task"),
        "target": metadata.get("target"),
        "features": features,
        "labels": serving.get("classes") or metadata.get("labels"),
        "metrics": metadata.get("metrics"),
        "runtime": serving.get("runtime"),
        "fallback_reason": serving.get("fallback_reason"),
        "parity": serving.get("parity"),
        "model_sha256": metadata.get("model_sha256"),
        "onnx_sha256": serving.get("onnx_sha256"),
        "limits": {"max_rows": settings.max_rows, "max_body_bytes": settings.max_body_bytes},
    }
    model_version = json.dumps(metadata.get("model_version"))

    def load() -> None:
        try:
            predictor = load_predictor(settings)
            predictor.predict(np.array([[float(example[name]) for name in features]]))  # first call warms up
        except Exception as exc:  # any failure keeps the service unready, with the reason
            model.problem = f"model refused: {exc}"
            log.error(json.dumps({"event": "model_refused", "reason": str(exc)}))
            return
        model.predictor, model.problem = predictor, ""
        log.info(json.dumps({"event": "model_ready", "runtime": predictor.runtime, "model": public["model_version"]}))

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        loading = asyncio.create_task(asyncio.to_thread(load))
        yield
        await asyncio.shield(loading)

    app = FastAPI(
        title=f"{__package__} prediction service",
        version=__version__,
        description=f"Model {public['model_version']} ({public['task']}, served by {public['runtime']}).",
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, _invalid_request)
    registry = CollectorRegistry()
    requests = Counter("http_requests", "HTTP requests by route and status", ["route", "status"], registry=registry)
    latency = Histogram(
        "http_request_duration_seconds",
        "Time from request to response by route and status",
        ["route", "status"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    rows_counter = Counter("predicted_rows", "Rows predicted", registry=registry)
    app.state.model = model

    not_ready = {503: {"model": Problems, "description": "the model is not loaded and verified"}}

    # The body is parsed and validated in one step by pydantic's JSON parser (several times faster than
    # json.loads, then validation); the OpenAPI schema says what FastAPI would have said.
    body_schema = body_model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = {"PredictRequest": body_schema, **body_schema.pop("$defs", {})}
    request_body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
    }

    @app.post(
        "/predict",
        response_model=None,
        openapi_extra={"requestBody": request_body},
        responses={
            200: {"model": PredictResponse},
            413: {"model": Problems, "description": "body above the size limit"},
            415: {"model": Problems, "description": "not application/json"},
            422: {"model": Problems, "description": "invalid rows: each problem names the field"},
            **not_ready,
        },
    )
    async def predict(request: Request) -> Response:
        """Predict for a batch of rows (one or more); each row has every training feature as a number."""
        predictor = model.predictor
        if predictor is None:
            return JSONResponse({"detail": model.problem}, status_code=503)
        try:
            rows = body_model.model_validate_json(await request.body()).rows
        except ValidationError as exc:
            return _problems([{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_input=False)])
        matrix = np.array([tuple(row.__dict__.values()) for row in rows], dtype=np.float64)
        request.state.rows = len(rows)
        rows_counter.inc(len(rows))
        content = '{"model_version":' + model_version + ',"predictions":' + json.dumps(predictor.predict(matrix)) + "}"
        return Response(content, media_type="application/json")

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        return app.openapi_schema

    app.openapi = openapi

    @app.get("/health")
    async def health() -> Response:
        """The process is alive (it may still be loading the model: see /ready)."""
        return JSONResponse({"status": "alive"})

    @app.get("/ready", responses=not_ready)
    async def ready() -> Response:
        """200 once the model is loaded and its SHA-256 verified; 503 with the reason otherwise."""
        if model.predictor is None:
            return JSONResponse({"ready": False, "detail": model.problem}, status_code=503)
        return JSONResponse({"ready": True, "runtime": model.predictor.runtime})

    @app.get("/metadata")
    async def metadata_endpoint() -> Response:
        """The served model's record: version, commit, metrics, runtime, hashes."""
        return JSONResponse({**public, "ready": model.predictor is not None})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    paths = {route.path for route in app.routes}
    app.add_middleware(
        _Observe, requests=requests, latency=latency, max_body_bytes=settings.max_body_bytes, paths=paths
    )
    return app


def serve(host: str, port: int, settings: Settings, log_level: str = "info") -> None:
    """Run the service until SIGINT or SIGTERM; in-flight requests finish first."""
    import uvicorn

    logging.basicConfig(level=log_level.upper(), format="%(message)s")
    app = create_app(settings)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # one JSON line per request comes from the app instead
        server_header=False,
        timeout_graceful_shutdown=30,
    )
