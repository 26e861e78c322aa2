"""Saved plans (`plan --out FILE`, `apply FILE`): their own versioned schema.

Independent of `plan --format json` (the user-facing output may change; a saved
plan must not). Pure: bytes in, bytes out; reading and writing the file, and the
digest of the inputs, are the caller's (`certplan.ops.planfiles`).

    {"kind": "certplan-saved-plan", "version": 2,
     "lineage": ..., "serial": ..., "inputs_sha256": ...,
     "generated_at": RFC 3339, "ari_refreshed": bool, "warnings": [...],
     "changes": [{"name", "action", "reasons", "domains", "ca", "key", "renew_at",
                  "not_after", "install_targets", "revoke", "delete_files"}, ...]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from certplan.core.plan import Action, Change, Plan
from certplan.model.errors import CertplanError, StalePlanError
from certplan.model.timefmt import iso

KIND = "certplan-saved-plan"
VERSION = 2


@dataclass(frozen=True)
class Stamp:
    """What a saved plan was made against: the state's lineage and serial, and the
    SHA-256 of certplan.toml and the spec files."""

    lineage: str | None
    serial: int
    inputs_sha256: str


def _parse_ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a time")
    return datetime.fromisoformat(value)


def _change_doc(c: Change) -> dict[str, Any]:
    return {"name": c.name, "action": c.action.value, "reasons": list(c.reasons),
            "domains": list(c.domains), "ca": c.ca, "key": c.key,
            "renew_at": iso(c.renew_at), "not_after": iso(c.not_after),
            "install_targets": list(c.install_targets), "revoke": c.revoke,
            "delete_files": c.delete_files, "delete_paths": list(c.delete_paths),
            "revoke_serial": c.revoke_serial}


def _change(data: dict[str, Any]) -> Change:
    return Change(
        name=str(data["name"]), action=Action(data["action"]),
        reasons=tuple(str(r) for r in data["reasons"]),
        domains=tuple(str(d) for d in data["domains"]),
        ca=data["ca"], key=data["key"],
        renew_at=_parse_ts(data["renew_at"]), not_after=_parse_ts(data["not_after"]),
        install_targets=tuple(int(i) for i in data["install_targets"]),
        revoke=bool(data["revoke"]), delete_files=bool(data["delete_files"]),
        delete_paths=tuple(str(p) for p in data["delete_paths"]),
        revoke_serial=None if data["revoke_serial"] is None else str(data["revoke_serial"]),
    )


def encode_plan(plan: Plan, stamp: Stamp) -> bytes:
    doc = {
        "kind": KIND, "version": VERSION,
        "lineage": stamp.lineage, "serial": stamp.serial, "inputs_sha256": stamp.inputs_sha256,
        "generated_at": iso(plan.now), "ari_refreshed": plan.ari_refreshed,
        "warnings": list(plan.warnings),
        "changes": [_change_doc(c) for c in plan.changes],
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def decode_plan(data: bytes, now: Stamp, shown: str) -> Plan:
    """The saved plan in `data` (from the file `shown`); StalePlanError if the state
    or the inputs moved on since it was made (`now` is what they are now)."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CertplanError(f"{shown}: not a saved plan (invalid JSON)") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise CertplanError(f"{shown}: not a saved plan (made by `certplan plan --out`)")
    if doc.get("version") != VERSION:
        raise CertplanError(f"{shown}: saved plan version {doc.get('version')} is not "
                            f"supported (this certplan writes version {VERSION}); run "
                            f"`certplan plan --out` again")
    if doc.get("lineage") != now.lineage:
        raise StalePlanError(f"{shown}: saved plan is stale: it was made for another state "
                             f"(lineage {doc.get('lineage')}, now {now.lineage})")
    if doc.get("serial") != now.serial:
        raise StalePlanError(f"{shown}: saved plan is stale: the state moved on since it was "
                             f"made (serial {doc.get('serial')}, now {now.serial}); "
                             f"run `certplan plan` again")
    if doc.get("inputs_sha256") != now.inputs_sha256:
        raise StalePlanError(f"{shown}: saved plan is stale: certplan.toml or the specs "
                             f"changed since it was made; run `certplan plan` again")
    try:
        changes = tuple(_change(c) for c in doc["changes"])
        generated = _parse_ts(doc["generated_at"])
        warnings = tuple(str(w) for w in doc["warnings"])
        if generated is None:
            raise ValueError("generated_at is missing")
    except (KeyError, TypeError, ValueError) as exc:
        raise CertplanError(f"{shown}: saved plan is damaged ({exc})") from None
    return Plan(now=generated, changes=changes, noops=(), warnings=warnings,
                ari_refreshed=bool(doc.get("ari_refreshed")))
