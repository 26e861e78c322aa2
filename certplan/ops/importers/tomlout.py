"""TOML text for the tables an import writes (strings, numbers, booleans, lists and
tables of those): specs and certplan.toml additions, read back by tomllib."""

from __future__ import annotations

import json
import re
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def value(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | float):
        return repr(item)
    if isinstance(item, str):
        # a JSON string is a TOML basic string (json.dumps never writes "\/")
        return json.dumps(item, ensure_ascii=False)
    if isinstance(item, list):
        return "[" + ", ".join(value(v) for v in item) + "]"
    if isinstance(item, dict):
        return "{ " + ", ".join(f"{key(k)} = {value(v)}" for k, v in item.items()) + " }"
    raise TypeError(f"cannot write {type(item).__name__} as TOML")


def table(header: str, items: dict[str, Any], *, inline_tables: bool = True) -> list[str]:
    """`[header]` (or `[[header]]` when header starts with '[') and its plain keys;
    nested tables are written inline when `inline_tables`, else left to the caller."""
    lines = [f"[{header}]"]
    for name, item in items.items():
        if isinstance(item, dict) and not inline_tables:
            continue
        lines.append(f"{key(name)} = {value(item)}")
    return lines


def spec_text(spec: dict[str, Any], comment: str) -> str:
    """One `[[certificate]]` with its challenge (and per-domain overrides) and installs."""
    head = {k: v for k, v in spec.items() if k not in ("challenge", "install")}
    challenge = dict(spec["challenge"])
    overrides = challenge.pop("domains", {})
    lines = [f"# {comment}", *table("[certificate]", head), "",
             *table("certificate.challenge", challenge)]
    for domain, rule in overrides.items():
        lines += ["", *table(f"certificate.challenge.domains.{key(domain)}", rule)]
    for target in spec.get("install", []):
        lines += ["", *table("[certificate.install]", target)]
    return "\n".join(lines) + "\n"


def config_tables(cas: dict[str, dict[str, Any]], providers: dict[str, dict[str, Any]],
                  comment: str) -> str:
    """`[ca.NAME]` and `[providers.NAME]` tables to append to certplan.toml."""
    lines = ["", f"# {comment}"]
    for name, items in cas.items():
        lines += ["", *table(f"ca.{key(name)}", items)]
    for name, items in providers.items():
        lines += ["", *table(f"providers.{key(name)}", items)]
    return "\n".join(lines) + "\n"
