"""Pieces both readers share: certificate names, challenge tables, install tables,
key types, and reading the other client's files."""

from __future__ import annotations

import grp
import os
import re
import stat
from pathlib import Path
from typing import Any, get_args

from certplan.model.crypto import describe_key, load_key
from certplan.model.errors import CertplanError
from certplan.model.spec import KeyType

Rule = dict[str, Any]
KINDS = ("key_file", "cert_file", "chain_file", "fullchain_file")


def cert_name(domain: str, taken: set[str]) -> str:
    """A spec name from the main domain ("*.a.org" -> "wildcard.a.org"), unique in `taken`."""
    base = domain.lower().replace("*.", "wildcard.", 1)
    base = re.sub(r"[^a-z0-9._-]", "-", base).strip("-._")[:60] or "imported"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def key_type_of(key_pem: bytes, source: str) -> str:
    """certplan's name of the key's type; CertplanError if certplan cannot use it."""
    kind = describe_key(load_key(key_pem, source=source))
    if kind not in get_args(KeyType):
        raise CertplanError(f"{source}: key type {kind} is not one certplan issues "
                            f"({', '.join(get_args(KeyType))})")
    return kind


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def challenge_table(domains: list[str], rules: list[Rule]) -> Rule:
    """One rule for the certificate, with per-domain overrides where a name differs."""
    table = dict(rules[0])
    overrides = {d: r for d, r in zip(domains, rules, strict=True) if r != rules[0]}
    if overrides:
        table["domains"] = overrides
    return table


def files_target(files: dict[str, str], *, reload: str | None = None,
                 check: str | None = None) -> dict[str, Any] | None:
    """A `files` install table for the paths the other client installed to, keeping
    the modes and group the files have now (so that a server reading the key as a
    group keeps reading it). None when there is no path."""
    paths = {k: p for k, p in files.items() if p}
    if not paths:
        return None
    table: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for kind in KINDS:  # one file, one kind: a path named twice keeps its last kind
        if kind in paths:
            if paths[kind] in seen:
                table.pop(seen[paths[kind]])
            seen[paths[kind]] = kind
            table[kind] = paths[kind]
    key_stat = _stat(table.get("key_file"))
    if key_stat is not None and stat.S_IMODE(key_stat.st_mode) & 0o077:
        table["key_mode"] = f"{stat.S_IMODE(key_stat.st_mode):04o}"
        table["allow_shared_key"] = True
    cert_stat = next((s for k in KINDS[1:] if (s := _stat(table.get(k))) is not None), None)
    if cert_stat is not None and stat.S_IMODE(cert_stat.st_mode) != 0o644:
        table["cert_mode"] = f"{stat.S_IMODE(cert_stat.st_mode):04o}"
    for st in (key_stat, cert_stat):
        if st is not None and st.st_gid != os.getgid():
            table["group"] = _group_name(st.st_gid)
            break
    if check:
        table["check"] = check
    if reload:
        table["reload"] = reload
    return table


def _stat(path: str | None) -> os.stat_result | None:
    if not path:
        return None
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
