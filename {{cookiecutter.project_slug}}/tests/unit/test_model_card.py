"""The model card, built from a real pipeline run on small data and the owners' notes."""

import dataclasses
import json

import pytest

from {{ cookiecutter.package_name }}.core import paths
from {{ cookiecutter.package_name }}.core.errors import MissingOutputError
from {{ cookiecutter.package_name }}.core.records import ServingRecord
from {{ cookiecutter.package_name }}.review import model_card

NOTES = "# Model card notes\n\nIntro for the owners.\n\n## Intended use\n\nScoring test rows.\n"


@pytest.fixture
def trained(trained_outputs, workdir):
    trained_outputs.quality.minimum.update({"accuracy": 0.5})
    (workdir / "MODEL_CARD.md").write_text(NOTES)
    return trained_outputs


def test_the_card_holds_the_facts_and_the_owners_notes(trained, workdir):
    card = model_card.write(workdir / "card.md", trained, "v1.2.0", pull_request="#7", image="ghcr.io/o/p@sha256:ab")
    metadata = json.loads((workdir / "models/metadata.json").read_text())
    assert card.startswith(f"# {model_card.PROJECT} v1.2.0\n")
    assert f"| Model file SHA-256 | `{metadata['model_sha256']}` |" in card
    assert f"<!-- model-sha256: {metadata['model_sha256']} -->" in card
    assert "| Reviewed in | #7 |" in card and "`ghcr.io/o/p@sha256:ab`" in card
    assert f"| accuracy | {metadata['metrics']['accuracy']:.4f} | ≥ 0.5 |" in card
    assert f"SHA-256 of the data: `{metadata['data']['sha256']}`" in card
    assert "n_estimators: 10" in card
    assert "## Intended use\n\nScoring test rows." in card and "Intro for the owners" not in card
    assert (workdir / "card.md").read_text() == card


def test_the_runtime_comes_from_the_serving_record(trained, workdir):
    served = ServingRecord.read(workdir / paths.SERVING_PATH)
    assert "| Serving runtime | onnx |" in model_card.write(workdir / "card.md", trained, "v1")
    dataclasses.replace(served, runtime="sklearn", fallback_reason="ValueError: cannot convert").write(
        workdir / paths.SERVING_PATH
    )
    assert "| Serving runtime | sklearn |" in model_card.write(workdir / "card.md", trained, "v1")


def test_without_the_owners_notes_the_card_is_not_written(trained, workdir):
    (workdir / "MODEL_CARD.md").unlink()
    with pytest.raises(MissingOutputError, match=r"MODEL_CARD\.md: not found"):
        model_card.write(workdir / "card.md", trained, "v1")
    assert not (workdir / "card.md").exists()
