"""Text that people write into specs: no control or invisible formatting characters.

A name, domain, path or command holding a newline, a NUL, an escape sequence or a
right-to-left override can make two different values print alike in a plan, or
mean something else to the shell or the file system than it shows. Such values
are refused wherever they sit, before any model sees them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

# C0 controls (newline and tab included), DEL and C1 controls: the fast test
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def bad_character(value: str, formatting: bool = True) -> str | None:
    """What is wrong with `value` ("U+000A at position 4"), or None when it is clean.
    `formatting`: also refuse invisible formatting characters (not for domain names:
    IDNA decides about those, and the plan shows their A-labels)."""
    found = _CONTROL.search(value)
    if found is not None:
        return f"control character U+{ord(found.group()):04X} at position {found.start()}"
    if formatting and not value.isascii():
        for i, char in enumerate(value):
            if unicodedata.category(char) == "Cf":  # bidi overrides, zero-width, ...
                return f"invisible formatting character U+{ord(char):04X} at position {i}"
    return None


# In JSON text (ensure_ascii off): an escape that may stand for a control character,
# or a raw DEL or C1 character. Also hit by an escaped backslash before b/f/n/r/t/u
# ("C:\\new"): then the full walk decides.
_SUSPECT = re.compile(r"\\[bfnrtu]|[\x7f-\x9f]")


def control_problems(data: Any, where: str) -> list[tuple[str, str]]:
    """(field path, message) for every string in `data` (keys included) that holds a
    control character. Quick for clean data: one JSON encoding (C) and one search."""
    try:
        clean = _SUSPECT.search(json.dumps(data, ensure_ascii=False)) is None
    except (TypeError, ValueError):  # TOML dates and times: not JSON; walk it
        clean = False
    return [] if clean else list(_walk(data, where))


def _walk(data: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(data, str):
        bad = bad_character(data, formatting=False)
        if bad is not None:
            yield where, f"{bad} (names, domains, paths and commands must be printable)"
    elif isinstance(data, dict):
        for key, value in data.items():
            name = str(key)
            shown = name if bad_character(name, formatting=False) is None else repr(name)
            path = f"{where}.{shown}".lstrip(".")
            yield from _walk(key, path)
            yield from _walk(value, path)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _walk(item, f"{where}[{i}]")
