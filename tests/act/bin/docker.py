#!/usr/bin/env python3
"""Stand-in for the docker CLI: a registry in a folder, and containers as processes on the host.

No container engine runs here. `docker buildx build` does what the project's Dockerfile
does, on the host: the build stage's COPY sources go to build/ and are installed into a
virtual environment (the Dockerfile's two `pip install`s), the final stage's COPY sources go to
root/, and the ENV and CMD are kept. The digest is the hash of all of that. `docker run`
copies root/ as the container's filesystem and starts the CMD there with the image's
environment, so a smoke test talks to the project's real `serve` command. Tags live in
tags.json; `buildx imagetools create` retags by digest, as the registry does. Every call is
recorded in $ACT_RECORD. ACT_DOCKER_TAMPER=1 flips a byte of each model file when a
container starts: an image whose model does not match its record; ACT_DOCKER_TAMPER=v0.2.0
does it only to containers of images labelled with that version. The gcloud and kubectl
stand-ins start their revisions and pods with `start_process`, the same way.
"""

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

RECORD = Path(os.environ["ACT_RECORD"])
STORE = RECORD.with_suffix(".docker")
TAGS = STORE / "tags.json"


def option_values(args: list[str], name: str) -> list[str]:
    values = []
    for index, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            values.append(arg.split("=", 1)[1])
        elif arg == name and index + 1 < len(args):
            values.append(args[index + 1])
    return values


def record(**call) -> None:
    with RECORD.open("a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": "docker", **call}) + "\n")


def tags() -> dict[str, str]:
    return json.loads(TAGS.read_text()) if TAGS.exists() else {}


def resolve(reference: str) -> str:
    """IMAGE@sha256:... or IMAGE:tag -> the digest of an image in the store."""
    if "@" in reference:
        digest = reference.split("@", 1)[1]
        if (STORE / "images" / digest.replace(":", "-")).is_dir():
            return digest
    elif reference in tags():
        return tags()[reference]
    raise SystemExit(f"ERROR: {reference}: not found")


def dockerfile_stages(path: Path) -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), one list per stage."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def copy_sources(stage: list[str], context: Path, target: Path) -> None:
    """COPY as docker does: a folder's contents into the destination, a file into it or as it."""
    for instruction in stage:
        words = shlex.split(instruction)
        if words[0].upper() != "COPY" or any(word.startswith("--from") for word in words):
            continue
        *sources, destination = [word for word in words[1:] if not word.startswith("--")]
        into = target / destination
        for source in sources:
            found = context / source
            if not found.exists():
                raise SystemExit(f'ERROR: failed to compute cache key: "/{source}": not found')
            if found.is_dir():
                shutil.copytree(found, into, dirs_exist_ok=True)
            else:
                path = into / found.name if destination.endswith("/") else into
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(found, path)


def environment(stage: list[str]) -> dict[str, str]:
    env = {}
    for instruction in stage:
        if instruction.upper().startswith("ENV "):
            for pair in shlex.split(instruction[4:]):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def digest_of(folder: Path, extra: str) -> str:
    hasher = hashlib.sha256(extra.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "venv" not in p.relative_to(folder).parts):
        hasher.update(str(path.relative_to(folder)).encode())
        hasher.update(path.read_bytes())
    return "sha256:" + hasher.hexdigest()


def build(args: list[str]) -> int:
    context = Path(args[-1])
    stages = dockerfile_stages(context / "Dockerfile")
    scratch = STORE / "building"
    shutil.rmtree(scratch, ignore_errors=True)
    for stage, folder in ((stages[0], "build"), (stages[-1], "root")):
        (scratch / folder).mkdir(parents=True)
        copy_sources(stage, context, scratch / folder)
    cmd = next(json.loads(i[4:]) for i in reversed(stages[-1]) if i.upper().startswith("CMD "))
    image = {"cmd": cmd, "env": environment(stages[-1]), "labels": option_values(args, "--label")}
    digest = digest_of(scratch, json.dumps(image))
    (scratch / "image.json").write_text(json.dumps(image))
    final = STORE / "images" / digest.replace(":", "-")
    shutil.rmtree(final, ignore_errors=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch.rename(final)
    # The build stage's two installs, with the interpreter the job set up (created in place: a
    # virtual environment's scripts name its folder): the locked packages, each checked against
    # its hash, then the project with the locked build backend and no index.
    venv, uv = str(final / "venv"), shutil.which("uv")
    subprocess.run([uv, "venv", "--quiet", venv, "--python", shutil.which("python3")], check=True)
    locked = str(final / "build" / "requirements.lock.txt")
    install = [uv, "pip", "install", "--quiet", "--python", venv, "--no-deps"]
    subprocess.run([*install, "--require-hashes", "-r", locked], check=True)
    subprocess.run([*install, "--no-build-isolation", "--no-index", str(final / "build")], check=True)
    known = tags()
    for tag in option_values(args, "--tag"):
        known[tag] = digest
    TAGS.write_text(json.dumps(known, indent=1))
    for metadata in option_values(args, "--metadata-file"):
        Path(metadata).write_text(json.dumps({"containerimage.digest": digest}))
    record(action="build", tags=option_values(args, "--tag"), digest=digest, pushed="--push" in args)
    return 0


def tampered(image: dict) -> bool:
    wanted = os.environ.get("ACT_DOCKER_TAMPER", "")
    return wanted == "1" or (wanted != "" and f"org.opencontainers.image.version={wanted}" in image["labels"])


def start_process(digest: str, container: Path, port: int | None = None) -> bool:
    """Start the image's CMD in a fresh copy of its files under ``container``; True if its model was tampered.

    ``port``: listen on 127.0.0.1:port instead of the CMD's 0.0.0.0:8000, as a container in
    its own network namespace would look from a host that reaches it through a forward.
    """
    image_dir = STORE / "images" / digest.replace(":", "-")
    image = json.loads((image_dir / "image.json").read_text())
    stop(container)
    shutil.rmtree(container, ignore_errors=True)
    shutil.copytree(image_dir / "root", container / "fs")
    spoiled = tampered(image)
    if spoiled:
        for model in [*container.glob("fs/models/*.skops"), *container.glob("fs/models/onnx/*.onnx")]:
            content = bytearray(model.read_bytes())
            content[len(content) // 2] ^= 0xFF
            model.write_bytes(bytes(content))
    command = list(image["cmd"])
    if port is not None:
        command[command.index("--port") + 1] = str(port)
        command[command.index("--host") + 1] = "127.0.0.1"
    env = {**os.environ, **image["env"]}
    env["PATH"] = os.pathsep.join([str(image_dir / "venv" / "bin"), os.environ["PATH"]])
    log = (container / "log").open("w")
    process = subprocess.Popen(
        command, cwd=container / "fs", env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    (container / "pid").write_text(str(process.pid))
    return spoiled


def run(args: list[str]) -> int:
    name, image_ref = option_values(args, "--name")[0], args[-1]
    digest = resolve(image_ref)
    for publish in option_values(args, "--publish"):
        host_port, container_port = publish.split(":")[-2:]
        if host_port != container_port:
            raise SystemExit("docker stand-in: a port is published to the same port number on the host")
    # Each job has a fresh runner, where no container of that name exists yet.
    spoiled = start_process(digest, STORE / "containers" / name)
    record(action="run", name=name, image=image_ref, digest=digest, tampered=spoiled)
    print(hashlib.sha256(name.encode()).hexdigest())
    return 0


def stop(container: Path) -> None:
    """Stop a container's process and wait for it to exit (it frees its port)."""
    pid_file = container / "pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)
    except ProcessLookupError:
        pass


def main() -> int:
    args = sys.argv[1:]
    STORE.mkdir(parents=True, exist_ok=True)
    if args[:1] == ["login"]:
        if not sys.stdin.read().strip():
            print("Error: Cannot perform an interactive login from a non TTY device", file=sys.stderr)
            return 1
        record(action="login", registry=args[1])
        print("Login Succeeded")
        return 0
    if args[:2] == ["buildx", "build"]:
        return build(args[2:])
    if args[:3] == ["buildx", "imagetools", "create"]:
        source, target = args[-1], option_values(args, "--tag")[0]
        known = tags()
        known[target] = resolve(source)
        TAGS.write_text(json.dumps(known, indent=1))
        record(action="retag", tag=target, source=source, digest=known[target])
        return 0
    if args[:1] == ["run"]:
        return run(args[1:])
    if args[:1] == ["logs"]:
        log = STORE / "containers" / args[1] / "log"
        print(log.read_text() if log.exists() else "", end="")
        return 0
    print(f"docker stand-in: unexpected call {args}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
