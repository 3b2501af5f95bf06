"""A Jinja extension that keeps a rejected answer's message free of tracebacks.

When ``pre_gen_project`` rejects an answer, it has already printed one line per problem;
cookiecutter then logs its own ``FailedHookException`` with a full traceback, which buries
those lines. cookiecutter loads the extensions named in ``cookiecutter.json`` in-process
(with the template folder on ``sys.path``), so this one can drop the traceback from that
single log record and leave everything else as it is.
"""

from __future__ import annotations

import logging

from jinja2 import Environment
from jinja2.ext import Extension

HOOKS_LOGGER = "cookiecutter.hooks"


def _without_traceback(record: logging.LogRecord) -> bool:
    if record.getMessage().startswith("Stopping generation because"):
        record.exc_info = None
        record.exc_text = None
    return True


class QuietHookFailure(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        logger = logging.getLogger(HOOKS_LOGGER)
        if _without_traceback not in logger.filters:
            logger.addFilter(_without_traceback)
