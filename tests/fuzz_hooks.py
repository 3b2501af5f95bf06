"""Schemathesis hooks for the prediction service's fuzz (tests/test_serve.py).

JSON Schema cannot say that lists have equal length, and ``POST /predict``'s columns must:
one value per row in every column (ragged columns get a 422 naming them). A body generated
as valid has its columns cut to the shortest one, so "valid" means what the service accepts;
bodies generated as invalid are left as they are.
"""

import schemathesis
from schemathesis import GenerationMode


@schemathesis.hook
def map_case(context, case):
    body = case.body
    positive = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
    if positive and isinstance(body, dict) and isinstance(body.get("columns"), dict):
        columns = body["columns"]
        if columns and all(isinstance(values, list) for values in columns.values()):
            rows = min(len(values) for values in columns.values())
            case.body = {**body, "columns": {name: values[:rows] for name, values in columns.items()}}
    return case
