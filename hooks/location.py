"""A Jinja extension that tells the hooks where the template checkout is, as an absolute path.

cookiecutter records the template as the user typed it (``_template``), which may be a path
relative to a folder the hooks never see, and runs hooks in the new project's folder. It
renders the hooks from within the template's folder, though (that is how it finds
``hooks/``), so ``{{ template_root() }}`` read at that moment is the template's root. This
module's own location is the fallback: it is imported from the template, but only once per
process, so it can be stale when one process bakes two templates.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment
from jinja2.ext import Extension

IMPORTED_FROM = Path(__file__).resolve().parents[1]


def template_root() -> str:
    here = Path.cwd().resolve()
    return str(here if (here / "hooks" / Path(__file__).name).is_file() else IMPORTED_FROM)


class TemplateRoot(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["template_root"] = template_root
