"""The alert rules (monitoring/alerts.yml) read series the service exports, and the Kubernetes manifest holds
the same rules. `promtool test rules monitoring/alerts.test.yml` checks what they compute (the template's
tests run it)."""

import re
from pathlib import Path

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.package_name }}.core.params import load_params
from {{ cookiecutter.package_name }}.core.records import ServingRecord
from {{ cookiecutter.package_name }}.serving import service
from {{ cookiecutter.package_name }}.serving.runtime import Features

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALERTS = PROJECT_ROOT / "monitoring/alerts.yml"
PROMETHEUS_RULE = PROJECT_ROOT / "k8s/monitoring/prometheus-rule.yaml"
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[\[{]")  # a metric's name before its labels or range


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]


def exported_series(task: str) -> set[str]:
    """The names of the series the service exports for a model of this task (a small one: the names do not
    depend on its features or classes)."""
    features = Features(["city", "age"], {"city": "categorical", "age": "numeric"}, {"city": True, "age": True}, {})
    serving = ServingRecord(
        model_sha256="0" * 64,
        task=task,
        features=features.names,
        feature_types=features.types,
        nullable=features.nullable,
        runtime="onnx",
        classes=["no", "yes"] if task == "classification" else [],
        prediction_deciles=[1.0],
    )
    registry = service._Metrics.create(features, serving, Path("serving.json")).registry
    text = generate_latest(registry).decode()
    names = {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
    # The server's series are labelled by route and status: none exists before a request. Name them by kind.
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    for family in registry.collect():
        if not family.samples:
            names |= {family.name + suffix for suffix in suffixes[family.type]}
    return names


def test_every_series_an_alert_reads_is_one_the_service_exports():
    task = load_params(PROJECT_ROOT / "params.yaml").task
    exported = exported_series(task)
    for rule in rules():
        read = set(SELECTOR.findall(rule["expr"]))
        assert read, f"{rule['alert']}: no series found in its expression"
        unknown = read - exported
        assert not unknown, (
            f"{rule['alert']} in monitoring/alerts.yml reads {sorted(unknown)}, which the service does not export "
            f"for a {task} model; the series are listed in "
            "src/{{ cookiecutter.package_name }}/serving/traffic.py"
        )


def test_the_kubernetes_prometheus_rule_holds_the_groups_of_alerts_yml(note):
    if not PROMETHEUS_RULE.parent.parent.is_dir():
        note("alerts: no k8s/ folder (the project does not deploy to Kubernetes), so no PrometheusRule to compare")
        return
    manifest = yaml.safe_load(PROMETHEUS_RULE.read_text(encoding="utf-8"))
    assert (manifest["apiVersion"], manifest["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert manifest["spec"]["groups"] == yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"], (
        "k8s/monitoring/prometheus-rule.yaml holds other rules than monitoring/alerts.yml: copy alerts.yml from "
        "its `groups:` line on under `spec:` in prometheus-rule.yaml, each line indented by two more spaces, "
        "then `kubectl apply -f k8s/monitoring/`"
    )
