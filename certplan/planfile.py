"""Saved plans (`plan --out FILE`, `apply FILE`): exact, or refused as stale."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from certplan.atomic import atomic_write
from certplan.errors import CertplanError, StalePlanError
from certplan.plan import Action, Change, Plan
from certplan.project import CONFIG_FILE, Project
from certplan.render import plan_json
from certplan.state import State

KIND = "certplan-saved-plan"
VERSION = 1


def inputs_digest(project: Project) -> str:
    """SHA-256 over certplan.toml and every spec file, by relative path and content."""
    h = hashlib.sha256()
    files = [project.root / CONFIG_FILE] + sorted(project.specs_dir.glob("*.toml"))
    for path in files:
        h.update(str(path.relative_to(project.root) if path.is_relative_to(project.root)
                     else path).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def save_plan(path: Path, plan: Plan, state: State, project: Project) -> None:
    doc = {
        "kind": KIND,
        "version": VERSION,
        "lineage": state.lineage,
        "serial": state.serial,
        "inputs_sha256": inputs_digest(project),
        "plan": plan_json(plan),
    }
    atomic_write(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())


def _parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _change(data: dict[str, Any]) -> Change:
    return Change(
        name=data["certificate"], action=Action(data["action"]),
        reasons=tuple(data["reasons"]), domains=tuple(data["domains"]),
        ca=data.get("ca"), key=data.get("key"),
        renew_at=_parse_ts(data.get("renew_at")), not_after=_parse_ts(data.get("not_after")),
        install_targets=tuple(data.get("install_targets", [])),
        revoke=bool(data.get("revoke")), delete_files=bool(data.get("delete_files")),
    )


def load_plan(path: Path, state: State, project: Project) -> Plan:
    """Read a saved plan; StalePlanError if the state or the inputs moved on since."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CertplanError(f"{path}: cannot read the saved plan: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CertplanError(f"{path}: not a saved plan (invalid JSON)") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise CertplanError(f"{path}: not a saved plan (made by `certplan plan --out`)")
    if doc.get("version") != VERSION:
        raise CertplanError(f"{path}: saved plan version {doc.get('version')} is not supported")
    if doc.get("lineage") != state.lineage:
        raise StalePlanError(f"{path}: saved plan is stale: it was made for another state "
                             f"(lineage {doc.get('lineage')}, now {state.lineage})")
    if doc.get("serial") != state.serial:
        raise StalePlanError(f"{path}: saved plan is stale: the state moved on since it was "
                             f"made (serial {doc.get('serial')}, now {state.serial}); "
                             f"run `certplan plan` again")
    if doc.get("inputs_sha256") != inputs_digest(project):
        raise StalePlanError(f"{path}: saved plan is stale: certplan.toml or the specs changed "
                             f"since it was made; run `certplan plan` again")
    try:
        body = doc["plan"]
        changes = tuple(_change(c) for c in body["changes"])
        now = _parse_ts(body["generated_at"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CertplanError(f"{path}: saved plan is damaged ({exc})") from None
    assert now is not None
    return Plan(now=now, changes=changes, noops=(), warnings=tuple(body.get("warnings", [])),
                ari_refreshed=bool(body.get("ari_refreshed")))
