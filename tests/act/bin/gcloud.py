#!/usr/bin/env python3
"""Stand-in for the Google Cloud CLI's Cloud Run commands: services, revisions, traffic, a local proxy.

Services live in $ACT_RECORD.gcloud/services.json. `run deploy` makes a new revision from an
image in the docker stand-in's registry, starts it (a process on a loopback port) and, once
it listens on its port (Cloud Run's default startup probe), sends it all traffic; a revision
that never listens fails the deploy and traffic stays where it was. `run services describe`
and `run revisions describe` answer the `--format='value(...)'` paths the workflow reads,
`run services update-traffic --to-revisions REV=100` moves traffic, and `run services proxy`
carries 127.0.0.1:PORT to the revision that serves. Each call runs as the service account
that google-github-actions/auth (its stand-in) wrote credentials for, and is recorded in
$ACT_RECORD with that account; without credentials it fails as the real CLI does. Waits are
capped by ACT_WAIT_LIMIT seconds in tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import network  # noqa: E402
from standins import option, registry  # noqa: E402

RECORD = Path(os.environ["ACT_RECORD"])
STATE_DIR = RECORD.with_suffix(".gcloud")
STATE = STATE_DIR / "services.json"
STARTUP_SECONDS = 240.0  # Cloud Run's default startup probe gives a container this long


def account() -> str | None:
    """The service account the credentials file impersonates (what `gcloud auth list` would show)."""
    path = os.environ.get("CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE") or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path or not Path(path).is_file():
        return None
    url = json.loads(Path(path).read_text()).get("service_account_impersonation_url", "")
    found = re.search(r"serviceAccounts/([^:]+):generateAccessToken", url)
    return found.group(1) if found else None


def value(obj: dict, fmt: str | None) -> str:
    """--format='value(a.b[0].c)'."""
    found = re.fullmatch(r"value\((.+)\)", fmt or "")
    if found is None:
        raise SystemExit(f"gcloud stand-in: unexpected --format {fmt}")
    current = obj
    for part in found.group(1).split("."):
        key, _, index = part.partition("[")
        current = current.get(key) if isinstance(current, dict) else None
        if index and isinstance(current, list):
            position = int(index.rstrip("]"))
            current = current[position] if position < len(current) else None
    return "" if current is None else str(current)


def ensure_running(revision: dict) -> Path:
    folder = STATE_DIR / "revisions" / revision["name"]
    if not network.alive(folder / "pid"):
        port = network.free_port()
        registry().start_process(revision["digest"], folder, port)
        (folder / "port").write_text(str(port))
    return folder


def deploy(args: list[str], services: dict, who: str) -> int:
    name, region, image = args[2], option(args, "--region"), option(args, "--image")
    store = registry()
    try:
        digest = store.resolve(image)
    except SystemExit:
        print(f"ERROR: (gcloud.run.deploy) Image '{image}' not found.", file=sys.stderr)
        return 1
    service = services.setdefault(name, {"region": region, "revisions": [], "traffic": []})
    number = len(service["revisions"]) + 1
    suffix = hashlib.sha256(f"{name}{number}{digest}".encode()).hexdigest()[:3]
    revision = {"name": f"{name}-{number:05d}-{suffix}", "image": image, "digest": digest, "account": who}
    service["revisions"].append(revision)
    print(f"Deploying container to Cloud Run service [{name}] in region [{region}]", file=sys.stderr)
    folder = ensure_running(revision)
    port = int((folder / "port").read_text())
    deadline = time.monotonic() + network.wait_limit(STARTUP_SECONDS)
    while not network.listening(port):
        if time.monotonic() > deadline or not network.alive(folder / "pid"):
            print(
                f"ERROR: (gcloud.run.deploy) Revision '{revision['name']}' is not ready and cannot serve traffic. "
                "The user-provided container failed to start and listen on the port defined provided by the "
                "PORT=8000 environment variable.",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.3)
    service["traffic"] = [{"revisionName": revision["name"], "percent": 100}]
    print(
        f"Service [{name}] revision [{revision['name']}] has been deployed and is serving 100 percent of traffic.",
        file=sys.stderr,
    )
    return 0


def run(args: list[str], services: dict, who: str) -> int:
    if args[1] == "deploy":
        return deploy(args, services, who)
    group, verb = args[1], args[2]
    name = args[3] if len(args) > 3 else ""
    if group == "revisions" and verb == "describe":
        for service in services.values():
            for revision in service["revisions"]:
                if revision["name"] == name:
                    image_name = re.split(r"[@:](?=[^/]*$)", revision["image"])[0]
                    described = {
                        "metadata": {"name": name},
                        "spec": {"containers": [{"image": revision["image"]}]},
                        "status": {"imageDigest": f"{image_name}@{revision['digest']}"},
                    }
                    print(value(described, option(args, "--format")))
                    return 0
        print(f"ERROR: (gcloud.run.revisions.describe) Cannot find revision [{name}].", file=sys.stderr)
        return 1
    if group != "services" or (name not in services and verb in ("describe", "proxy", "update-traffic")):
        if group == "services" and verb in ("describe", "proxy", "update-traffic"):
            print(f"ERROR: (gcloud.run.services.{verb}) Cannot find service [{name}]", file=sys.stderr)
            return 1
        print(f"gcloud stand-in: unexpected call {args}", file=sys.stderr)
        return 2
    service = services[name]
    if verb == "describe":
        print(value({"metadata": {"name": name}, "status": {"traffic": service["traffic"]}}, option(args, "--format")))
        return 0
    if verb == "update-traffic":
        wanted = option(args, "--to-revisions") or ""
        revision_name, _, percent = wanted.partition("=")
        if revision_name not in {revision["name"] for revision in service["revisions"]} or percent != "100":
            print(f"ERROR: (gcloud.run.services.update-traffic) Revision [{revision_name}] not found.", file=sys.stderr)
            return 1
        service["traffic"] = [{"revisionName": revision_name, "percent": 100}]
        print(f"Traffic: 100% {revision_name}", file=sys.stderr)
        return 0
    if verb == "proxy":
        (serving,) = [r for r in service["revisions"] if r["name"] == service["traffic"][0]["revisionName"]]
        folder = ensure_running(serving)
        local = int(option(args, "--port") or 8080)
        banner = f"Proxying to Cloud Run service [{name}] in region [{service['region']}]\nhttp://127.0.0.1:{local}"
        return network.forward(local, int((folder / "port").read_text()), banner)
    print(f"gcloud stand-in: unexpected call {args}", file=sys.stderr)
    return 2


def main() -> int:
    args = sys.argv[1:]
    who = account()
    with RECORD.open("a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": "gcloud", "args": args, "account": who}) + "\n")
    if args[:2] == ["auth", "configure-docker"]:
        print(f"Adding credentials for: {args[2]}", file=sys.stderr)
        return 0 if who else 1
    if who is None:
        command = ".".join(["gcloud", *args[:3]])
        print(
            f"ERROR: ({command}) You do not currently have an active account selected. Please run: gcloud auth login",
            file=sys.stderr,
        )
        return 1
    if args[:1] != ["run"]:
        print(f"gcloud stand-in: unexpected call {args}", file=sys.stderr)
        return 2
    services = network.load(STATE, {})
    status = run(args, services, who)
    if args[1:3] != ["services", "proxy"]:
        network.save(STATE, services)
    return status


if __name__ == "__main__":
    sys.exit(main())
