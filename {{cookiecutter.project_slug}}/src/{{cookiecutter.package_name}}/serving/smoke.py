r"""Smoke test of a deployed service: it is ready, serves the released model, and answers as offline.

``cases`` (run where the pipeline ran) takes known rows from the test split, as raw rows
(text categories, true/false, null for an empty cell), and records the model's offline
predictions for them; the file travels with the release. ``check`` asks the
deployed service for the same rows and compares: same model SHA-256 in ``/metadata``, the
same labels, numbers within :data:`TOLERANCE`. ``check`` needs only the standard library,
so the deploy job runs it without installing the project::

    PYTHONPATH=src python -m {{ cookiecutter.package_name }}.serving.smoke \
        http://127.0.0.1:8000 --cases smoke-cases.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..core import paths

ROWS = 20
# Served by ONNX, predicted offline by scikit-learn: the export stage holds them within 1e-5.
TOLERANCE = 1e-4


class SmokeError(Exception):
    """The deployed service is not ready, serves another model, or answers differently."""


def cases(rows: int = ROWS, output: Path = paths.SMOKE_CASES_PATH) -> dict[str, Any]:
    """Record ``rows`` test rows and the verified model's offline predictions for them."""
    from ..core import artifact
    from ..pipeline import export
    from ..pipeline.data import load_part, model_input
    from .predict import predict_frame

    model, metadata = artifact.load_verified()
    test, schema = load_part("test")
    features = test[schema.features].head(rows)
    expected = predict_frame(model, model_input(features, schema), metadata.task)
    recorded = {
        "model_sha256": metadata.model_sha256,
        "rows": export.request_rows(features, schema.feature_types),
        "predictions": expected.to_dict(orient="records"),
    }
    # Floats are written exactly (repr); numpy integers and strings as plain JSON values.
    text = json.dumps(recorded, indent=1, default=lambda value: value.item())
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text + "\n", encoding="utf-8")
    return json.loads(text)


def _request(url: str, body: dict | None = None, timeout: float = 10.0) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the URL is the service under test)
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        with error:  # an error answer holds the connection open until closed
            return error.code, json.loads(error.read() or b"null")


def wait_ready(base_url: str, timeout: float) -> dict:
    """Poll ``/ready`` until it answers 200; raise SmokeError with the last reason after ``timeout`` s."""
    deadline, reason = time.monotonic() + timeout, "no answer"
    while time.monotonic() < deadline:
        try:
            status, body = _request(f"{base_url}/ready", timeout=5)
        except (OSError, ValueError) as error:  # not listening yet, or not JSON
            status, body = 0, {"detail": str(error)}
        if status == 200:
            return body
        reason = f"{status} {body}"
        time.sleep(1)
    raise SmokeError(f"{base_url}/ready did not answer 200 within {timeout:.0f} s; last answer: {reason}")


def _tied(prediction: dict) -> bool:
    """The two likeliest classes within the tolerance: either label is a right answer."""
    top = sorted(value for key, value in prediction.items() if key.startswith("probability_"))[-2:]
    return len(top) == 2 and top[1] - top[0] <= TOLERANCE


def _differences(expected: list[dict], served: list[dict]) -> list[str]:
    if len(served) != len(expected):
        return [f"{len(served)} predictions for {len(expected)} rows"]
    found = []
    for index, (want, got) in enumerate(zip(expected, served, strict=True)):
        for key, value in want.items():
            answer = got.get(key)
            if key == "prediction" and answer != value and _tied(want):
                continue
            if isinstance(value, float) and isinstance(answer, int | float):
                if not math.isclose(value, answer, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
                    found.append(f"row {index} {key}: served {answer}, offline {value}")
            elif answer != value:
                found.append(f"row {index} {key}: served {answer!r}, offline {value!r}")
    return found


def check(base_url: str, cases_path: Path = paths.SMOKE_CASES_PATH, timeout: float = 120.0) -> str:
    """Raise SmokeError unless the service at ``base_url`` serves the recorded model and predictions."""
    base_url = base_url.rstrip("/")
    recorded = json.loads(cases_path.read_text(encoding="utf-8"))
    wait_ready(base_url, timeout)
    status, metadata = _request(f"{base_url}/metadata")
    if status != 200 or metadata.get("model_sha256") != recorded["model_sha256"]:
        served = metadata.get("model_sha256") if isinstance(metadata, dict) else metadata
        raise SmokeError(f"the service serves model {served}, not the released {recorded['model_sha256']}")
    status, answer = _request(f"{base_url}/predict", {"rows": recorded["rows"]})
    if status != 200:
        raise SmokeError(f"POST /predict answered {status}: {answer}")
    differences = _differences(recorded["predictions"], answer["predictions"])
    if differences:
        raise SmokeError(f"{len(differences)} predictions differ from offline: " + "; ".join(differences[:5]))
    return f"{len(recorded['rows'])} rows answered as offline by model {recorded['model_sha256'][:12]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Smoke-test a deployed prediction service.")
    parser.add_argument("url", help="the service's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--cases", type=Path, default=paths.SMOKE_CASES_PATH, help="recorded rows (default: %(default)s)"
    )
    default_timeout = float(os.environ.get("SMOKE_TIMEOUT", "120"))  # a slow cold start may need more
    parser.add_argument("--timeout", type=float, default=default_timeout, help="seconds to wait for /ready")
    args = parser.parse_args(argv)
    try:
        print(f"smoke: {check(args.url, args.cases, args.timeout)}")
    except (SmokeError, OSError, ValueError) as error:  # ValueError: an answer that is not JSON
        print(f"smoke: failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
