"""acme.sh's configuration files: `KEY='value'` lines, read without running them.

acme.sh writes `_setopt FILE KEY = "'VALUE'"` lines and sources the files with the
shell; a value saved with base64 sits between `__ACME_BASE64__START_` and
`__ACME_BASE64__END_`. Here each line is parsed as data: single-quoted, double-
quoted or bare values, `export ` prefixes and comments; nothing is executed.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from certplan.model.errors import CertplanError

B64_START = "__ACME_BASE64__START_"
B64_END = "__ACME_BASE64__END_"
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def _unquote(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw.split(" #", 1)[0].strip()


def decode_value(value: str) -> str:
    """A value as acme.sh reads it back: base64 between the markers decoded."""
    if value.startswith(B64_START) and value.endswith(B64_END):
        inner = value[len(B64_START):len(value) - len(B64_END)]
        try:
            return base64.b64decode(inner, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return value
    return value


def parse_shell_conf(text: str) -> dict[str, str]:
    """KEY -> value (the last assignment wins, as when the shell sources the file)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match:
            out[match.group(1)] = decode_value(_unquote(match.group(2)))
    return out


def read_shell_conf(path: Path) -> dict[str, str]:
    """The file's assignments; {} when it does not exist."""
    try:
        return parse_shell_conf(path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CertplanError(f"{path}: cannot read: {exc.strerror or exc}") from None
