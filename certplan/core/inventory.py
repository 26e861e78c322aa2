"""The `list` view: one row per certificate, spec'd or recorded, and its renderers.

Pure like the plan renderers: the rows come from the project, the state and a
plan made for them; `LIST_RENDERERS` turns them into the text `list` prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from tabulate import tabulate

from certplan.core.plan import Action, Plan
from certplan.model.project import Project
from certplan.model.records import CertRecord
from certplan.model.timefmt import minutes

Row = dict[str, Any]
COLUMNS = (("name", "name"), ("main_domain", "main domain"), ("key", "key"), ("sans", "SANs"),
           ("ca", "CA"), ("created", "created"), ("next_renewal", "next renewal"),
           ("expires", "expires"), ("status", "status"))


def rows(project: Project, records: Mapping[str, CertRecord], plan: Plan) -> list[Row]:
    """One row per certificate, spec'd or recorded, in name order."""
    by_name = {c.name: c for c in plan.changes + plan.noops}
    wanted = project.by_name()
    out = []
    for name in sorted(set(records) | set(wanted)):
        rec = records.get(name)
        desired = wanted.get(name)
        domains = desired.spec.domains if desired else (rec.domains if rec else [])
        cert = rec.certificate if rec else None
        change = by_name.get(name)
        status = "ok" if change is None or change.action is Action.NOOP else change.action.value
        if cert is not None and plan.now >= cert.not_after:
            status = "expired"
        if rec is not None and rec.revoked is not None and cert is not None \
                and rec.revoked.serial == cert.serial:
            status = "revoked"
        out.append({
            "name": name,
            "main_domain": domains[0] if domains else None,
            "key": rec.key_type if rec else (desired.spec.key if desired else None),
            "sans": list(domains[1:]),
            "ca": rec.ca if rec else (desired.spec.ca[0] if desired else None),
            "created": minutes(rec.created_at) if rec else None,
            "issued": minutes(cert.issued_at) if cert else None,
            "next_renewal": minutes(change.renew_at) if change else None,
            "expires": minutes(cert.not_after) if cert else None,
            "serial": cert.serial if cert else None,
            "status": status,
        })
    return out


def render_table(data: list[Row]) -> str:
    if not data:
        return "No certificates.\n"
    table = [[", ".join(r[key]) if key == "sans" else r[key] for key, _ in COLUMNS]
             for r in data]
    return str(tabulate(table, headers=[title for _, title in COLUMNS])) + "\n"


def render_json(data: list[Row]) -> str:
    return json.dumps(data, indent=2) + "\n"


LIST_RENDERERS: dict[str, Callable[[list[Row]], str]] = {
    "table": render_table, "json": render_json}
