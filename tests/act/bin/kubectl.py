#!/usr/bin/env python3
"""Stand-in for kubectl against one cluster: Deployments with their revision history, Services, pods as processes.

The cluster lives in $ACT_RECORD.kube/cluster.json. `apply -f` takes manifests as the API
server does: a Deployment whose pod template changed gets a new revision (a ReplicaSet);
applying a template an older ReplicaSet already has makes that one the newest revision again,
and an unchanged template changes nothing. `rollout status` starts the newest revision's pod
(the image from the docker stand-in's registry, one process standing for the replicas) and
waits for its readinessProbe, as the real command waits for the rollout; `rollout undo
[--to-revision=N]` puts an earlier revision's template back. `port-forward service/NAME L:P`
carries 127.0.0.1:L to the pod behind the Service's port P. `get deployment -o jsonpath`
answers the paths the workflow reads. Every call is recorded in $ACT_RECORD; a call this
stand-in does not know fails, so a workflow that starts using another command fails its test.
Waits are capped by ACT_WAIT_LIMIT seconds in tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import network  # noqa: E402
from standins import option, registry  # noqa: E402

RECORD = Path(os.environ["ACT_RECORD"])
CLUSTER = RECORD.with_suffix(".kube")
STATE = CLUSTER / "cluster.json"
REVISION = "deployment.kubernetes.io/revision"


def record(args: list[str], **details) -> None:
    with RECORD.open("a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": "kubectl", "args": args, **details}) + "\n")


def template_hash(template: dict) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def deployment_object(cluster: dict, name: str) -> dict:
    deployment = cluster["deployments"][name]
    current = max(deployment["replicasets"], key=lambda rs: rs["revision"])
    manifest = json.loads(json.dumps(deployment["manifest"]))
    manifest["metadata"].setdefault("annotations", {})[REVISION] = str(current["revision"])
    manifest["spec"]["template"] = current["template"]
    return manifest


def jsonpath(obj: dict, expression: str) -> str:
    """kubectl's -o jsonpath for plain paths: '{.a.b\\.c[0].d} {.e}'."""

    def value(path: str):
        found = obj
        for part in re.split(r"(?<!\\)\.", path.strip(".")):
            key, _, index = part.replace("\\.", ".").partition("[")
            found = found.get(key, {}) if isinstance(found, dict) else {}
            if index:
                position = int(index.rstrip("]"))
                found = found[position] if isinstance(found, list) and position < len(found) else {}
        return "" if found in ({}, None) else str(found)

    return re.sub(r"\{([^{}]*)\}", lambda match: value(match.group(1)), expression)


def apply(args: list[str], cluster: dict) -> int:
    paths = []
    for index, arg in enumerate(args):
        if arg == "-f":
            target = Path(args[index + 1])
            paths += sorted(target.glob("*.yaml")) if target.is_dir() else [target]
    if not paths:
        print("error: must specify one of -f and -k", file=sys.stderr)
        return 1
    for path in paths:
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not document:
                continue
            kind, name = document["kind"], document["metadata"]["name"]
            if kind == "Deployment":
                print(apply_deployment(cluster, name, document))
            else:
                known = cluster["objects"].setdefault(kind, {})
                verb = "created" if name not in known else "unchanged" if known[name] == document else "configured"
                known[name] = document
                print(f"{kind.lower()}/{name} {verb}")
    return 0


def apply_deployment(cluster: dict, name: str, manifest: dict) -> str:
    template = manifest["spec"]["template"]
    if not template["spec"]["containers"][0].get("image"):
        raise SystemExit(f'The Deployment "{name}" is invalid: spec.template.spec.containers[0].image: Required value')
    deployment = cluster["deployments"].get(name)
    if deployment is None:
        rs = {"revision": 1, "template": template, "hash": template_hash(template)}
        cluster["deployments"][name] = {"manifest": manifest, "replicasets": [rs]}
        return f"deployment.apps/{name} created"
    deployment["manifest"] = manifest
    sets = deployment["replicasets"]
    newest = max(sets, key=lambda rs: rs["revision"])
    if newest["template"] == template:
        return f"deployment.apps/{name} unchanged"
    same = [rs for rs in sets if rs["template"] == template]
    if same:
        same[0]["revision"] = newest["revision"] + 1
    else:
        sets.append({"revision": newest["revision"] + 1, "template": template, "hash": template_hash(template)})
    return f"deployment.apps/{name} configured"


def pod_dir(name: str, rs: dict) -> Path:
    return CLUSTER / "pods" / f"{name}-{rs['hash']}"


def ensure_pod(name: str, rs: dict) -> Path:
    """The revision's pod (one process for the replicas), started from its image if it is not running."""
    folder = pod_dir(name, rs)
    if not network.alive(folder / "pid"):
        image = rs["template"]["spec"]["containers"][0]["image"]
        store = registry()
        try:
            digest = store.resolve(image)
        except SystemExit:
            return folder  # ErrImagePull: the pod never starts, the rollout never completes
        port = network.free_port()
        store.start_process(digest, folder, port)
        (folder / "port").write_text(str(port))
    return folder


def rollout(args: list[str], cluster: dict) -> int:
    target = args[2] if len(args) > 2 else ""
    kind, _, name = target.partition("/")
    if kind not in ("deployment", "deploy", "deployments") or name not in cluster["deployments"]:
        print(f'Error from server (NotFound): deployments.apps "{name}" not found', file=sys.stderr)
        return 1
    deployment = cluster["deployments"][name]
    sets = deployment["replicasets"]
    if args[1] == "undo":
        wanted = option(args, "--to-revision")
        ordered = sorted(sets, key=lambda rs: rs["revision"])
        if wanted in (None, "0"):
            if len(ordered) < 2:
                print(f"error: no rollout history found for deployment {name}", file=sys.stderr)
                return 1
            chosen = ordered[-2]
        else:
            matches = [rs for rs in sets if rs["revision"] == int(wanted)]
            if not matches:
                print(f"error: unable to find specified revision {wanted} in history", file=sys.stderr)
                return 1
            chosen = matches[0]
        if chosen is ordered[-1]:
            print(f"deployment.apps/{name} skipped rollback (current template already matches revision {wanted})")
            return 0
        chosen["revision"] = ordered[-1]["revision"] + 1
        print(f"deployment.apps/{name} rolled back")
        return 0
    if args[1] == "status":
        timeout = option(args, "--timeout") or "0s"
        seconds = float(timeout[:-1]) * {"s": 1, "m": 60, "h": 3600}[timeout[-1]] if timeout != "0s" else 600.0
        newest = max(sets, key=lambda rs: rs["revision"])
        probe = newest["template"]["spec"]["containers"][0].get("readinessProbe", {}).get("httpGet", {})
        folder = ensure_pod(name, newest)
        print(f'Waiting for deployment "{name}" rollout to finish: 0 of 1 updated replicas are available...')
        deadline = time.monotonic() + network.wait_limit(seconds)
        while time.monotonic() < deadline:
            port = int((folder / "port").read_text()) if (folder / "port").exists() else None
            ready = port is not None and (network.http_ok(port, probe["path"]) if probe else network.listening(port))
            if ready:
                for rs in sets:  # the rolling update is done: the other revisions scale to zero
                    if rs is not newest:
                        registry().stop(pod_dir(name, rs))
                print(f'deployment "{name}" successfully rolled out')
                return 0
            time.sleep(0.5)
        print("error: timed out waiting for the condition", file=sys.stderr)
        return 1
    print(f"kubectl stand-in: unexpected call {args}", file=sys.stderr)
    return 2


def port_forward(args: list[str], cluster: dict) -> int:
    kind, _, name = args[1].partition("/")
    local, _, remote = args[2].partition(":")
    service = cluster["objects"].get("Service", {}).get(name)
    if kind not in ("service", "svc") or service is None:
        print(f'Error from server (NotFound): services "{name}" not found', file=sys.stderr)
        return 1
    (port,) = [p for p in service["spec"]["ports"] if str(p["port"]) == (remote or local)]
    selector = service["spec"]["selector"]
    for deployment_name, deployment in cluster["deployments"].items():
        labels = deployment["manifest"]["spec"]["template"]["metadata"]["labels"]
        if all(labels.get(key) == value for key, value in selector.items()):
            for rs in sorted(deployment["replicasets"], key=lambda rs: -rs["revision"]):
                folder = pod_dir(deployment_name, rs)
                if network.alive(folder / "pid"):
                    container = rs["template"]["spec"]["containers"][0]
                    named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
                    target = port.get("targetPort", port["port"])
                    container_port = named.get(target, target)
                    banner = f"Forwarding from 127.0.0.1:{local} -> {container_port}"
                    return network.forward(int(local), int((folder / "port").read_text()), banner)
    print("error: unable to forward port because pod is not running. Current status=Pending", file=sys.stderr)
    return 1


def main() -> int:
    args = sys.argv[1:]
    config = os.environ.get("KUBECONFIG", "")
    if not config or not Path(config).is_file() or not Path(config).read_text().strip():
        print(
            "The connection to the server localhost:8080 was refused - did you specify the right host or port?",
            file=sys.stderr,
        )
        return 1
    cluster = network.load(STATE, {"deployments": {}, "objects": {}})
    record(args)
    if args[:1] == ["apply"]:
        status = apply(args, cluster)
    elif args[:2] == ["get", "deployment"]:
        name = args[2]
        if name not in cluster["deployments"]:
            if "--ignore-not-found" in args:
                return 0
            print(f'Error from server (NotFound): deployments.apps "{name}" not found', file=sys.stderr)
            return 1
        output = option(args, "-o") or ""
        if not output.startswith("jsonpath="):
            print(f"kubectl stand-in: unexpected output {output}", file=sys.stderr)
            return 2
        print(jsonpath(deployment_object(cluster, name), output.removeprefix("jsonpath=")), end="")
        return 0
    elif args[:1] == ["rollout"] and args[1:2] in (["status"], ["undo"]):
        status = rollout(args, cluster)
    elif args[:1] == ["port-forward"]:
        return port_forward(args, cluster)
    else:
        print(f"kubectl stand-in: unexpected call {args}", file=sys.stderr)
        return 2
    network.save(STATE, cluster)
    return status


if __name__ == "__main__":
    sys.exit(main())
