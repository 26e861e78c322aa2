"""Text that people write into specs: no control or invisible formatting characters.

A name, domain, path or command holding a newline, a NUL, an escape sequence or a
right-to-left override can make two different values print alike in a plan, or
mean something else to the shell or the file system than it shows. Such values
are refused wherever they sit, before any model sees them.
"""

from __future__ import annotations

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


# TOML refuses raw control characters in strings except tabs (and newlines in
# multi-line strings); any other reaches a value only through an escape.
_TOML_SUSPECT = re.compile(r"[\\\t\x7f-\x9f]|\"\"\"|'''")


def may_hold_control(toml_text: str) -> bool:
    """Whether some value parsed from this TOML text may hold a control character
    (False: none can, and `control_problems` need not walk it)."""
    return _TOML_SUSPECT.search(toml_text) is not None


def control_problems(data: Any, where: str) -> list[tuple[str, str]]:
    """(field path, message) for every string in `data` (keys included) that holds a
    control character."""
    return list(_walk(data, where))


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
