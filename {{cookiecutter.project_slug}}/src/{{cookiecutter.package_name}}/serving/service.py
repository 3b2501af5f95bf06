"""The prediction service: FastAPI on uvicorn, serving the verified model over HTTP.

Endpoints: ``POST /predict`` (a batch of one or more raw rows), ``GET /health`` (the process is
alive), ``GET /ready`` (200 only once the model is loaded and its SHA-256 verified),
``GET /metadata`` (the model's record, with each feature's type, categories and whether it may
be empty), ``GET /metrics`` (Prometheus), ``/docs`` (OpenAPI).

A row is the raw row, as the training table held it, one key per feature: a number for a
numeric feature, text for a categorical one, ``true``/``false`` for a boolean one, and
``null`` for an empty cell where the data contract allows empty cells in that feature
(``models/serving.json`` records which). The fitted pipeline prepares the row itself (imputes,
encodes), exactly as in training and in ``predict``.

A batch comes row by row, ``{"rows": [{feature: value, ...}, ...]}``, or column by column,
``{"columns": {feature: [value, ...], ...}}``: one list per feature, one value per row, the
same values and rules, the same answer. Columns are the cheap form for large batches: no
name is repeated per row (100 rows of the sample table take a third of the bytes) and each
column is checked as one typed list, not an object per row (validated 3 times faster).

Categories: the OpenAPI schema lists each categorical feature's known categories (the data
contract's) as examples, not as an enum. Text that is not among them is accepted and scored
like a category seen too rarely in training (no category of its own): a new value in
production gets an answer, never a refusal; it shows up in monitoring, not as errors. A JSON
number for a categorical feature is refused: ``7``, ``7.0`` and ``"007"`` would name one
category or three, so codes are sent as text, exactly as the table writes them.

Start-up: the request schema is built from ``models/metadata.json`` and
``models/serving.json`` (features, types, categories, example row), so without them the
service refuses to start. The model file itself is loaded and verified in the background:
until then, and for good if it is missing or its hash differs from the record (tampered),
``/ready`` answers 503 with the reason and ``/predict`` answers 503.

Bad input never reaches the model: the body is refused with 413 above ``max_body_bytes``
(before it is read), 415 without a JSON content type, and 422 for malformed JSON, a missing
or extra feature, a value of the wrong kind (text for a numeric feature, a number for a
categorical one, ``1`` for a boolean one), ``null`` or blank text where the contract allows
no empty cell, ``NaN`` or ``Infinity`` (JSON has no such numbers; Python's parser accepts the
literals, the schema refuses them), an empty batch or one above ``max_rows``, columns of
different lengths, both forms or neither. Each 422 names the field and the reason, a cell by
its row and feature: ``rows[3].island`` or ``columns.island[3]``.

Slow clients cannot hold it: a request must arrive whole within a deadline (408 otherwise,
see :mod:`.connections`), idle connections are closed, and beyond a number of open
connections a request gets 503 at once (:func:`serve`).

What the service reports: ``/metrics`` holds the server's requests and latency by route and
status, and the model's traffic (rows, predicted classes or the prediction's histogram, empty
cells, unknown categories and refused cells by feature: see :mod:`.traffic`), with labels from
the model's record only. The sampled log of scored rows (off by default, see :mod:`.row_log`)
writes a share of the rows with their answer, model version and request id as JSON lines.

The request path is kept short: ``async def`` endpoints and an onnxruntime session on one
thread, run on the event loop (no hop to a thread pool), ``POST /predict`` called by the
service's middleware without the router's layers, the body parsed and validated by pydantic's
JSON parser in one step, the answers written as JSON without an object per row. Neither pandas nor
scikit-learn is imported unless scikit-learn serves the model (see :mod:`.runtime`).
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run time,
# and the request model is built inside create_app.
import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, create_model
from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from .. import __version__
from ..core.errors import ArtifactError
from ..core.records import ModelRecord, ServingRecord
from . import runtime
from .row_log import RowLog, check_exclude
from .runtime import Features, Predictor
from .settings import Settings
from .traffic import ModelTraffic

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # an incoming X-Request-ID outside this is replaced
LISTED_CATEGORIES = 50  # a feature's description names at most this many; its examples hold them all

log = logging.getLogger(__name__)


def load_predictor(settings: Settings) -> Predictor:
    """The model of the serving record, only if its file matches the recorded SHA-256."""
    return runtime.load(settings.metadata_path, settings.serving_path, settings.model_path, settings.onnx_path)


# --- the request -----------------------------------------------------------------------------

_NOT_BLANK = StringConstraints(pattern=r"\S")  # blank text is an empty cell, like null


def _key(index: int) -> str:
    """A feature's field in the models (its name is the alias: names need not be identifiers)."""
    return f"f{index}"


def _cell(kind: str, nullable: bool, categories: list[str]) -> tuple[Any, str]:
    """The type of one feature's value and its description."""
    empty = "; null (or blank text) when empty" if kind == "categorical" else "; null when empty"
    empty = empty if nullable else "; never empty (the data contract allows no empty cell)"
    if kind == "categorical":
        listed = ", ".join(categories[:LISTED_CATEGORIES]) + (", ..." if len(categories) > LISTED_CATEGORIES else "")
        description = f"text, one of the known categories ({listed}); other text is scored like a rare category" + empty
        return (str | None if nullable else Annotated[str, _NOT_BLANK]), description
    if kind == "boolean":
        return (bool | None if nullable else bool), "true or false" + empty
    return (float | None if nullable else float), "a number" + empty


def _every_feature(example: dict[str, Any]) -> Any:
    """The schema of a row or of the columns: every feature required, none with a default.

    In the model every feature has a default, so that pydantic never reports one as missing: its
    "missing" error copies the whole enclosing object, once per missing feature, which takes
    seconds for a large body. The service reports missing features itself (:func:`_missing`)."""

    def extra(schema: dict[str, Any]) -> None:
        for feature in schema["properties"].values():
            feature.pop("default", None)
        schema["required"] = list(schema["properties"])
        schema["examples"] = [example]

    return extra


def _one_form(schema: dict[str, Any]) -> None:
    """The body holds rows or columns, exactly one of them (neither is null: absent is not null)."""
    for form in ("rows", "columns"):
        schema["properties"][form].pop("default", None)
    schema["oneOf"] = [{"required": ["rows"]}, {"required": ["columns"]}]


def request_model(features: Features, example: dict[str, Any], max_rows: int) -> type[BaseModel]:
    """The body of ``POST /predict``, derived from the features: ``{"rows": [{feature: value}, ...]}``, or the
    same values column by column, ``{"columns": {feature: [value, ...]}}``: one list per feature, one value per
    row. Both are validated in one step by pydantic's JSON parser; a column of numbers is a list of floats, so
    a batch as columns is checked cell by cell without a Python object per row."""
    # Field name -> (type, field): the types come from the data contract, known only at run time.
    rows_field: dict[str, Any] = {}
    columns_field: dict[str, Any] = {}
    for index, name in enumerate(features.names):
        categories = features.categories.get(name, [])
        cell, description = _cell(features.types[name], features.nullable[name], categories)
        examples = categories or None
        rows_field[_key(index)] = (cell, Field(None, alias=name, description=description, examples=examples))
        # `cell` is a type made at run time from the contract, which mypy cannot follow.
        column = Annotated[list[cell], Field(min_length=1, max_length=max_rows)]  # type: ignore[valid-type]
        columns_field[_key(index)] = (column, Field(None, alias=name, description=f"one value per row: {description}"))
    cells = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    row = create_model("Row", __config__=ConfigDict(**cells, json_schema_extra=_every_feature(example)), **rows_field)
    columns_example = {name: [value] for name, value in example.items()}
    columns = create_model(
        "Columns", __config__=ConfigDict(**cells, json_schema_extra=_every_feature(columns_example)), **columns_field
    )
    return create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid", strict=True, json_schema_extra=_one_form),
        rows=(
            Annotated[list[row], Field(min_length=1, max_length=max_rows)],
            Field(default=None, description=f"the batch row by row: 1 to {max_rows} rows"),
        ),
        columns=(
            columns,
            Field(
                default=None,
                description=f"the batch column by column: every feature, each a list of 1 to {max_rows} values, "
                "all of the same length (the number of rows); cheaper than rows for large batches",
            ),
        ),
    )


def request_examples(example: dict[str, Any]) -> dict[str, Any]:
    """Named examples of the body, one per form, as the API docs show them."""
    return {
        "rows": {"summary": "rows: one object per row", "value": {"rows": [example]}},
        "columns": {
            "summary": "columns: one list per feature, one value per row",
            "value": {"columns": {name: [value] for name, value in example.items()}},
        },
    }


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


def _problems(errors: Sequence[Any]) -> JSONResponse:
    # The offending input is not echoed: it may be NaN, which JSON cannot carry, or large.
    problems = [{"field": _field(error["loc"]), "type": error["type"], "msg": error["msg"]} for error in errors]
    return JSONResponse({"detail": problems}, status_code=422)


async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    return _problems(exc.errors())


Endpoint = Callable[[Request], Awaitable[Response]]


class _Observe:
    """Request id, one JSON log line and Prometheus metrics per request; the body limit; 415 for non-JSON.

    ``direct`` maps a POST path to its endpoint, called here rather than through Starlette's exception
    middleware, FastAPI's router and its request handler: ``POST /predict``, whose endpoint takes the
    request and returns the response itself, so those layers have nothing to do but cost about a tenth of
    a 100-row request. The route stays registered with FastAPI (the OpenAPI document describes it, and a
    request this path does not take still reaches it), and while FastAPI's own OpenTelemetry traces a
    request, the request goes through the router, which names the route on the span.
    """

    def __init__(
        self,
        app: Any,
        requests: Counter,
        latency: Histogram,
        max_body_bytes: int,
        paths: set[str],
        direct: dict[str, Endpoint],
    ) -> None:
        self.app, self.requests, self.latency, self.max_body_bytes = app, requests, latency, max_body_bytes
        self.paths = paths  # metric labels: a route's path, never an arbitrary one (unbounded label values)
        self.direct = direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id  # the sampled log of rows names it
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        limit, received = self.max_body_bytes, 0

        async def receive_with_limit() -> Message:
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
            elif scope["method"] == "POST" and scope["path"] in self.direct and "fastapi.telemetry" not in scope:
                await _answer(self.direct[scope["path"]], scope, receive_with_limit, send_with_id)
            else:
                await self.app(scope, receive_with_limit, send_with_id)
        except ClientDisconnect:
            # The body never arrived whole: the read deadline passed (the client got 408, see
            # .connections) or the client went away (499, as proxies log it). Nothing left to answer.
            from .connections import TIMED_OUT  # uvicorn's protocol: loaded by `serve` already

            status = 408 if TIMED_OUT in (scope.get("state") or {}) else 499
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


async def _answer(endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
    """Call an endpoint of ``_Observe.direct``; the body limit's 413 is answered as FastAPI's handler would."""
    try:
        response = await endpoint(Request(scope, receive))
    except HTTPException as exc:
        response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    await response(scope, receive, send)


class _Model:
    """What the endpoints read: the predictor once verified, or why there is none."""

    def __init__(self) -> None:
        self.predictor: Predictor | None = None
        self.problem = "loading"


@dataclass(frozen=True)
class _Records:
    """What the service reads at start-up: the model's record and its serving record."""

    metadata: ModelRecord
    serving: ServingRecord
    features: Features
    example: dict[str, Any]  # a row of the request, in feature order

    @classmethod
    def read(cls, settings: Settings) -> "_Records":
        metadata = ModelRecord.read(settings.metadata_path)
        serving = ServingRecord.read(settings.serving_path)
        features = Features.of(serving)
        example = features.ordered(serving.example or dict.fromkeys(features.names))
        return cls(metadata, serving, features, example)

    def public(self, settings: Settings) -> dict[str, Any]:
        """The model's record as ``/metadata`` shows it."""
        metadata, serving, features = self.metadata, self.serving, self.features
        return {
            "model_version": metadata.model_version,
            "package_version": __version__,
            "git_commit": metadata.git_commit,
            "trained_at": metadata.trained_at,
            "task": metadata.task,
            "target": metadata.target,
            "features": features.names,
            "feature_types": features.types,
            "nullable": features.nullable,
            "categories": features.categories,
            "labels": serving.classes or metadata.labels,
            "metrics": metadata.metrics,
            "runtime": serving.runtime,
            "fallback_reason": serving.fallback_reason,
            "parity": serving.parity,
            "model_sha256": metadata.model_sha256,
            "onnx_sha256": serving.onnx_sha256,
            "limits": {
                "max_rows": settings.max_rows,
                "max_body_bytes": settings.max_body_bytes,
                "request_timeout": settings.request_timeout,
            },
        }


@dataclass(frozen=True)
class _Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    traffic: ModelTraffic  # what the model is asked and answers (see .traffic)

    @classmethod
    def create(cls, features: Features, serving: ServingRecord, serving_path: Path) -> "_Metrics":
        """The registry of ``/metrics`` for the model of a serving record."""
        registry = CollectorRegistry()
        requests = Counter("http_requests", "HTTP requests by route and status", ["route", "status"], registry=registry)
        latency = Histogram(
            "http_request_duration_seconds",
            "Time from request to response by route and status",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        task, deciles = serving.task, serving.prediction_deciles
        if task == "regression" and not deciles:
            raise ArtifactError(f"{serving_path}: no prediction_deciles; it predates this code: run `dvc repro`")
        traffic = ModelTraffic(features, task, serving.classes, deciles)
        registry.register(traffic)
        return cls(registry, requests, latency, traffic)


def _lifespan(
    settings: Settings, model: _Model, records: _Records, row_log: RowLog | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Load and verify the model in the background; the service answers /health meanwhile."""
    example = {name: [value] for name, value in records.example.items()}

    def load() -> None:
        try:
            predictor = load_predictor(settings)
            predictor.predict(example)  # the first call warms up
        except Exception as exc:  # any failure keeps the service unready, with the reason
            model.problem = f"model refused: {exc}"
            log.error(json.dumps({"event": "model_refused", "reason": str(exc)}))
            return
        model.predictor, model.problem = predictor, ""
        version = records.metadata.model_version
        log.info(json.dumps({"event": "model_ready", "runtime": predictor.runtime, "model": version}))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(asyncio.to_thread(load))
        yield
        await asyncio.shield(loading)
        if row_log is not None:
            row_log.close()

    return lifespan


NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": Problems, "description": "the model is not loaded and verified"}
}


def _add_predict(
    app: FastAPI,
    body_model: type[BaseModel],
    max_rows: int,
    model: _Model,
    records: _Records,
    traffic: ModelTraffic,
    row_log: RowLog | None,
) -> Endpoint:
    # The body is parsed and validated in one step by pydantic's JSON parser (several times faster than
    # json.loads, then validation); the OpenAPI schema says what FastAPI would have said (see _document).
    names = records.features.names
    head = b'{"model_version":' + json.dumps(records.metadata.model_version).encode() + b',"predictions":'
    request_body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
    }

    async def predict(request: Request) -> Response:
        """Predict for a batch of raw rows (one or more), given row by row (``rows``, see the Row schema) or
        column by column (``columns``, see the Columns schema): every feature, in both forms."""
        predictor = model.predictor
        if predictor is None:
            return JSONResponse({"detail": model.problem}, status_code=503)
        content = await request.body()
        try:
            body: Any = body_model.model_validate_json(content)  # a model made at run time: its fields are the features
        except ValidationError as exc:
            problems = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_input=False)]
            return _refused(problems + _unvalidated(content, names, max_rows), traffic)
        columns, problems = _columns(body, names)
        if problems:
            return _refused(problems, traffic)
        request.state.rows = traffic.observe_inputs(columns)
        scores = predictor.predict(columns)
        if not np.isfinite(scores).all():
            return _refused(_not_finite(scores, "rows" if body.rows is not None else "columns"), traffic)
        traffic.observe_scores(scores)
        if row_log is not None:
            row_log.write(request.state.request_id, columns, predictor.records(scores))
        return Response(b"".join((head, predictor.answers_json(scores), b"}")), media_type="application/json")

    app.router.add_api_route(
        "/predict",
        predict,
        methods=["POST"],
        response_model=None,
        openapi_extra={"requestBody": request_body},
        responses={
            200: {"model": PredictResponse},
            413: {"model": Problems, "description": "body above the size limit"},
            415: {"model": Problems, "description": "not application/json"},
            422: {"model": Problems, "description": "invalid rows or columns: each problem names the field"},
            **NOT_READY,
        },
    )
    return predict


def _refused(problems: list[dict[str, Any]], traffic: ModelTraffic) -> JSONResponse:
    """The 422 answer, counted by the features the problems name (model_invalid_cells_total)."""
    traffic.observe_refusal(problem["loc"] for problem in problems)
    return _problems(problems)


_NO_FORM = {
    "loc": ("body", "rows"),
    "type": "missing",
    "msg": "give the batch as rows ([{feature: value}, ...]) or as columns ({feature: [value, ...]})",
}
_BOTH_FORMS = {"loc": ("body",), "type": "one_form", "msg": "give either rows or columns, not both"}


def _absent(model: BaseModel, names: list[str]) -> list[str]:
    """The features a validated row (or the columns) did not hold (see _every_feature)."""
    given = model.model_fields_set
    return [] if len(given) == len(names) else [name for index, name in enumerate(names) if _key(index) not in given]


def _missing(absent: list[str], where: tuple) -> list[dict[str, Any]]:
    return [{"loc": ("body", *where, name), "type": "missing", "msg": "Field required"} for name in absent]


def _unvalidated(content: bytes, names: list[str], max_rows: int) -> list[dict[str, Any]]:
    """The problems of a refused body that pydantic does not report: missing features (see _every_feature),
    no form at all (e.g. {"row": ...}: besides the extra key, say what is missing), both forms. The body is
    parsed again only on this path, and only rows within the limit are looked at."""
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):  # pydantic named the fault already
        return []
    if not isinstance(body, dict):
        return []
    if "rows" not in body and "columns" not in body:
        return [_NO_FORM]
    if "rows" in body and "columns" in body:
        return [_BOTH_FORMS]
    rows, columns = body.get("rows"), body.get("columns")
    if isinstance(columns, dict):
        return _missing([name for name in names if name not in columns], ("columns",))
    if not isinstance(rows, list) or len(rows) > max_rows:
        return []
    problems = []
    for number, row in enumerate(rows):
        if isinstance(row, dict):
            problems += _missing([name for name in names if name not in row], ("rows", number))
    return problems


def _columns(body: Any, names: list[str]) -> tuple[dict[str, Sequence], list[dict[str, Any]]]:
    """The batch column by column, in feature order, from either form; or the problems of its shape."""
    if body.rows is not None and body.columns is not None:
        return {}, [_BOTH_FORMS]
    if body.rows is not None:
        missing = [
            problem
            for number, row in enumerate(body.rows)
            for problem in _missing(_absent(row, names), ("rows", number))
        ]
        return dict(zip(names, zip(*(row.__dict__.values() for row in body.rows), strict=True), strict=True)), missing
    if body.columns is None:
        return {}, [_NO_FORM]
    if absent := _absent(body.columns, names):
        return {}, _missing(absent, ("columns",))
    columns = dict(zip(names, body.columns.__dict__.values(), strict=True))
    lengths = [len(values) for values in columns.values()]
    common = max(set(lengths), key=lengths.count)  # the length most columns have is taken as the batch's
    ragged = [
        {
            "loc": ("body", "columns", name),
            "type": "ragged_columns",
            "msg": f"{len(values)} values where {lengths.count(common)} of the {len(lengths)} columns hold "
            f"{common}: every column holds one value per row",
        }
        for name, values in columns.items()
        if len(values) != common
    ]
    return columns, ragged


def _not_finite(scores: np.ndarray, form: str) -> list[dict[str, Any]]:
    """A row whose answer is no finite number (finite inputs far beyond the training data can overflow a
    linear model): JSON cannot carry it, and a client must not read Infinity as an answer."""
    rows = np.flatnonzero(~np.isfinite(scores.reshape(len(scores), -1)).all(axis=1))
    message = "the model's answer is not a finite number: the row's values are far outside the training data"
    if form == "columns":  # no field names the row: say which it is
        return [{"loc": ("body", "columns"), "type": "not_finite", "msg": f"row {int(row)}: {message}"} for row in rows]
    return [{"loc": ("body", "rows", int(row)), "type": "not_finite", "msg": message} for row in rows]


def _add_status(app: FastAPI, model: _Model, public: dict[str, Any], registry: CollectorRegistry) -> None:
    @app.get("/health")
    async def health() -> Response:
        """The process is alive (it may still be loading the model: see /ready)."""
        return JSONResponse({"status": "alive"})

    @app.get("/ready", responses=NOT_READY)
    async def ready() -> Response:
        """200 once the model is loaded and its SHA-256 verified; 503 with the reason otherwise."""
        if model.predictor is None:
            return JSONResponse({"ready": False, "detail": model.problem}, status_code=503)
        return JSONResponse({"ready": True, "runtime": model.predictor.runtime})

    @app.get("/metadata")
    async def metadata_endpoint() -> Response:
        """The served model's record: version, commit, metrics, features, runtime, hashes."""
        return JSONResponse({**public, "ready": model.predictor is not None})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _document(app: FastAPI, body_model: type[BaseModel], example: dict[str, Any]) -> None:
    """Put the request model's schema and an example of each form in the OpenAPI document (FastAPI does not
    see the parsed body). Both are added to FastAPI's document, not given to it: it drops every null value,
    and an example's empty cell is one."""
    body_schema = body_model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = {"PredictRequest": body_schema, **body_schema.pop("$defs", {})}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = FastAPI.openapi(app)  # also kept as app.openapi_schema
        document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        body = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
        body["examples"] = request_examples(example)
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application; reads the model's records now, loads and verifies the model at start-up."""
    settings = settings or Settings()
    records = _Records.read(settings)
    public = records.public(settings)
    body_model = request_model(records.features, records.example, settings.max_rows)
    model, metrics = _Model(), _Metrics.create(records.features, records.serving, settings.serving_path)
    check_exclude(settings.row_log, records.features.names)  # also while the log is off: it may be turned on
    row_log = None
    if settings.row_log.share > 0:
        row_log = RowLog(settings.row_log, records.features.names, records.metadata.model_version)
    app = FastAPI(
        title=f"{__package__} prediction service",
        version=__version__,
        description=f"Model {public['model_version']} ({public['task']}, served by {public['runtime']}).",
        lifespan=_lifespan(settings, model, records, row_log),
    )
    app.state.model = model
    # Starlette types a handler as taking any Exception; this one is registered for RequestValidationError alone.
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    predict = _add_predict(app, body_model, settings.max_rows, model, records, metrics.traffic, row_log)
    _add_status(app, model, public, metrics.registry)
    _document(app, body_model, records.example)
    paths = {route.path for route in app.routes if isinstance(route, Route)}  # every route here is one
    app.add_middleware(
        _Observe,
        requests=metrics.requests,
        latency=metrics.latency,
        max_body_bytes=settings.max_body_bytes,
        paths=paths,
        direct={"/predict": predict},
    )
    return app


def serve(host: str, port: int, settings: Settings, log_level: str = "info") -> None:
    """Run the service until SIGINT or SIGTERM; in-flight requests finish first.

    Slow clients are bounded: a request must arrive whole within ``settings.request_timeout``
    (else 408 and the connection is closed), an idle connection is closed after
    ``settings.keep_alive_timeout``, and beyond ``settings.max_connections`` open connections a
    request gets 503 at once instead of waiting.
    """
    import uvicorn

    from . import connections

    logging.basicConfig(level=log_level.upper(), format="%(message)s")
    app = create_app(settings)
    uvicorn.run(
        app,
        host=host,
        port=port,
        http=connections.protocol(settings.request_timeout),  # httptools, with a deadline per request
        ws="none",  # no WebSocket endpoint: an upgrade request is answered as plain HTTP
        # uvicorn annotates whole seconds, but hands the value to asyncio's call_later, which takes any.
        timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]
        limit_concurrency=settings.max_connections + 1,  # uvicorn counts the asking connection too
        log_level=log_level,
        access_log=False,  # one JSON line per request comes from the app instead
        server_header=False,
        timeout_graceful_shutdown=30,
    )
