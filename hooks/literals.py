"""A Jinja filter that writes an answer as a quoted string literal, readable and valid in TOML, YAML and Python.

Jinja's ``tojson`` escapes every character outside ASCII: an accented name comes out as
``\\u00e9`` and an emoji as a JSON surrogate pair (``\\ud83d\\ude80``), which TOML refuses
and Python reads as two broken characters. ``quoted`` keeps every printable character as it
is and escapes only what one of the three formats would misread: quotes, backslashes,
control characters (DEL and the C1 range included, which TOML forbids raw) and the Unicode
line separators (YAML folds them as line breaks). The escapes it writes (``\\"``, ``\\\\``,
``\\n``, ``\\uXXXX``) mean the same in a TOML basic string, a YAML double-quoted scalar and
a Python string literal.
"""

from __future__ import annotations

import json
import re

from jinja2 import Environment
from jinja2.ext import Extension

# What json.dumps leaves raw but one of TOML, YAML or Python would misread.
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")


def quoted(value: object) -> str:
    text = json.dumps(str(value), ensure_ascii=False)
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


class QuotedLiterals(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["quoted"] = quoted
