"""Saved plans (`plan --out FILE`, `apply FILE`): their own versioned schema.

Independent of `plan --format json` (the user-facing output may change; a saved
plan must not). Pure: bytes in, bytes out; reading and writing the file, and the
digest of the inputs, are the caller's (`certplan.ops.planfiles`).

    {"kind": "certplan-saved-plan", "version": 3,
     "lineage": ..., "serial": ..., "inputs_sha256": ..., "changes_sha256": ...,
     "generated_at": RFC 3339, "ari_refreshed": bool, "probed": bool, "warnings": [...],
     "changes": [{"name", "action", "reasons", "domains", "ca", "key", "renew_at",
                  "not_after", "install_targets", "revoke", "delete_files",
                  "delete_paths", "revoke_serial"}, ...]}

A saved plan is a file anyone with write access to it (or to git) can edit, so
it is bound to its contents twice. `changes_sha256` (SHA-256 over the canonical
JSON of its changes) catches an edit or a damaged copy; it proves nothing
against someone who recomputes it. What binds the file is `match_current`:
apply plans again from the current inputs and carries out a saved change only
if certplan would make exactly that change now, field for field: action,
domains, CA, key, install targets, revoke, delete_files, and every path and
serial a remove touches. Only the explanation may differ (reasons, renew_at,
not_after: ARI windows move and time passes). A change that is due now but not
in the file is left for the next plan; a change in the file that certplan
would not make now refuses the whole file, naming the first difference.

A plan made with `plan --probe` (what verified endpoints serve) is matched
against a plan made now with a probe too, one made without (CI) against one made
without (`probed`; absent in files from before it: false): what an endpoint
serves never refuses a plan that could not know it (see ops.planfiles).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from certplan.core.plan import Action, Change, Plan
from certplan.model.errors import CertplanError, StalePlanError
from certplan.model.timefmt import iso

KIND = "certplan-saved-plan"
VERSION = 3
# what must be identical between a saved change and the one certplan would make now
BINDING = ("action", "domains", "ca", "key", "install_targets", "revoke",
           "delete_files", "delete_paths", "revoke_serial")


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


def changes_digest(changes: list[dict[str, Any]]) -> str:
    canonical = json.dumps(changes, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def encode_plan(plan: Plan, stamp: Stamp) -> bytes:
    changes = [_change_doc(c) for c in plan.changes]
    doc = {
        "kind": KIND, "version": VERSION,
        "lineage": stamp.lineage, "serial": stamp.serial, "inputs_sha256": stamp.inputs_sha256,
        "generated_at": iso(plan.now), "ari_refreshed": plan.ari_refreshed,
        "probed": plan.probed,
        "warnings": list(plan.warnings),
        "changes": changes, "changes_sha256": changes_digest(changes),
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
    if not isinstance(doc.get("changes"), list) or \
            doc.get("changes_sha256") != changes_digest(doc["changes"]):
        raise CertplanError(f"{shown}: field changes_sha256 does not match the changes: the "
                            f"saved plan was edited or damaged after `certplan plan --out` "
                            f"made it; nothing applied")
    try:
        changes = tuple(_change(c) for c in doc["changes"])
        generated = _parse_ts(doc["generated_at"])
        warnings = tuple(str(w) for w in doc["warnings"])
        if generated is None:
            raise ValueError("generated_at is missing")
    except (KeyError, TypeError, ValueError) as exc:
        raise CertplanError(f"{shown}: saved plan is damaged ({exc})") from None
    return Plan(now=generated, changes=changes, noops=(), warnings=warnings,
                ari_refreshed=bool(doc.get("ari_refreshed")), probed=doc.get("probed") is True)


def match_current(saved: Plan, now: Plan, shown: str) -> Plan:
    """The changes of `saved` as certplan would make them now (`now`: planned again
    from the current inputs); CertplanError naming the first saved change that
    certplan would not make now (see the module docstring)."""
    current = {c.name: c for c in now.changes + now.noops}
    out: list[Change] = []
    for i, change in enumerate(saved.changes):
        where = f"{shown}: changes[{i}] ({change.name!r})"
        if any(c.name == change.name for c in out):
            raise CertplanError(f"{where}: a second change for the same certificate; "
                                f"nothing applied")
        fresh = current.get(change.name)
        if fresh is None:
            raise CertplanError(f"{where}: certplan would plan nothing for this name now; "
                                f"nothing applied (run `certplan plan --out` again)")
        for name in BINDING:
            was, is_now = getattr(change, name), getattr(fresh, name)
            if was != is_now:
                raise CertplanError(f"{where}: field {name} is {_shown(was)} in the saved plan "
                                    f"but certplan would plan {_shown(is_now)} now; nothing "
                                    f"applied (run `certplan plan --out` again)")
        out.append(fresh)
    return Plan(now=now.now, changes=tuple(out), noops=(), warnings=now.warnings,
                ari_refreshed=now.ari_refreshed, probed=now.probed)


def _shown(value: Any) -> str:
    if isinstance(value, Action):
        return value.value
    if isinstance(value, tuple):
        return json.dumps(list(value))
    return json.dumps(value)
