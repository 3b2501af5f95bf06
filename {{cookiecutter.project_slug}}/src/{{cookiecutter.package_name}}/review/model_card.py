"""The model card: what a released model is, how well it does, what it was trained on, and its limits.

The facts come from the pipeline's outputs (``models/metadata.json``, ``params.yaml``'s
quality bounds, ``models/serving.json``); intended use and limitations come from the
owners' ``MODEL_CARD.md``, which no program can know. The deploy workflow publishes the
card as the notes of the model's GitHub Release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..core import paths
from ..core.errors import MissingOutputError
from ..core.params import Params
from ..core.records import ModelRecord, ServingRecord

PROJECT = {{ cookiecutter.project_name | quoted }}
DESCRIPTION = {{ cookiecutter.description | quoted }}


def _notes(path: Path) -> str:
    """The owners' sections of MODEL_CARD.md: everything from its first ``##`` heading on."""
    if not path.is_file():
        raise MissingOutputError(f"{path}: not found; it holds the intended use and limitations for the model card")
    text = path.read_text(encoding="utf-8")
    start = text.find("\n## ")
    return text[start + 1 :].strip() if start >= 0 else text.strip()


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _metrics(metadata: ModelRecord, params: Params) -> str:
    lines = ["| metric | value | bound |", "| --- | ---: | --- |"]
    for name, value in metadata.metrics.items():
        bounds = []
        if name in params.quality.minimum:
            bounds.append(f"≥ {params.quality.minimum[name]}")
        if name in params.quality.maximum:
            bounds.append(f"≤ {params.quality.maximum[name]}")
        lines.append(f"| {name} | {_number(value)} | {', '.join(bounds) or '-'} |")
    return "\n".join(lines)


def _data(metadata: ModelRecord) -> str:
    data, features = metadata.data, metadata.features
    lines = [
        f"- Source: {data.source}",
        f"- SHA-256 of the data: `{data.sha256}`",
        f"- Rows: {data.rows} ({data.train_rows} to train, {data.test_rows} to test)",
        f"- Target: `{metadata.target}`"
        + (f", classes {', '.join(f'`{label}`' for label in metadata.labels)}" if metadata.labels else ""),
        "",
        f"<details><summary>{len(features)} features, in the order the model takes them</summary>",
        "",
        ", ".join(f"`{name}`" for name in features),
        "",
        "</details>",
    ]
    return "\n".join(lines)


def build(
    metadata: ModelRecord,
    params: Params,
    notes: str,
    version: str,
    pull_request: str | None = None,
    image: str | None = None,
    serving: ServingRecord | None = None,
) -> str:
    """The card as Markdown."""
    runtime = serving.runtime if serving else "sklearn"
    facts = [
        ("Version", f"`{version}`"),
        ("Model file SHA-256", f"`{metadata.model_sha256}`"),
        ("Trained", f"{metadata.trained_at} from commit `{metadata.git_commit or 'unknown'}`"),
        ("Task", metadata.task),
        ("Serving runtime", runtime),
    ]
    if pull_request:
        facts.append(("Reviewed in", pull_request))
    if image:
        facts.append(("Image", f"`{image}`"))
    sections = [
        f"# {PROJECT} {version}",
        DESCRIPTION,
        "\n".join(["| | |", "| --- | --- |", *(f"| {name} | {value} |" for name, value in facts)]),
        f"## Metrics on the test split ({metadata.data.test_rows} rows)\n\n{_metrics(metadata, params)}",
        f"## Training data\n\n{_data(metadata)}",
        "## Parameters\n\n```yaml\n" + yaml.safe_dump(metadata.params, sort_keys=False).rstrip() + "\n```",
        notes,
        "## Libraries\n\n"
        + "\n".join(["| library | version |", "| --- | --- |"])
        + "\n"
        + "\n".join(f"| {name} | {value} |" for name, value in metadata.libraries.items()),
        f"<!-- model-sha256: {metadata.model_sha256} -->",
    ]
    return "\n\n".join(sections) + "\n"


def write(
    output: Path,
    params: Params,
    version: str,
    pull_request: str | None = None,
    image: str | None = None,
    metadata_path: Path = paths.METADATA_PATH,
    notes_path: Path = paths.MODEL_CARD_PATH,
    serving_path: Path = paths.SERVING_PATH,
) -> str:
    """Write the card for the model the pipeline last produced; return its text."""
    metadata = ModelRecord.read(metadata_path)
    serving = ServingRecord.read(serving_path) if serving_path.is_file() else None
    card = build(metadata, params, _notes(notes_path), version, pull_request, image, serving)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(card, encoding="utf-8")
    return card
