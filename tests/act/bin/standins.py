"""What the gcloud and kubectl stand-ins share: reading a CLI option, and the docker stand-in's image store."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def registry() -> ModuleType:
    """The docker stand-in, whose image store the deploys pull from."""
    spec = importlib.util.spec_from_file_location("docker_stand_in", HERE / "docker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def option(args: list[str], name: str) -> str | None:
    """The value of ``--name value`` or ``--name=value``, or None."""
    for index, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and index + 1 < len(args):
            return args[index + 1]
    return None
