"""The `list` view: one row per certificate, spec'd or recorded, and its renderers.

Pure like the plan renderers: the rows come from the project, the state and a
plan made for them (so `list` and `plan` agree on the next renewal: both are
make_plan's, from core/policy.py); `LIST_RENDERERS` turns them into the text
`list` prints. Times stay datetimes in the rows: the table shows minutes, JSON
RFC 3339 with "Z". State and CA text is escaped like plan output (core/escape).
The readable `show` view is certplan.core.showview.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from tabulate import tabulate

from certplan.core.escape import plain
from certplan.core.plan import Action, Plan
from certplan.model.project import Project
from certplan.model.records import CertRecord
from certplan.model.timefmt import iso_z, minutes

Row = dict[str, Any]
COLUMNS = (("name", "name"), ("main_domain", "main domain"), ("key", "key"), ("sans", "SANs"),
           ("ca", "CA"), ("created", "created"), ("next_renewal", "next renewal"),
           ("expires", "expires"), ("status", "status"))
TIMES = ("created", "issued", "next_renewal", "expires")


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
            "created": rec.created_at if rec else None,
            "issued": cert.issued_at if cert else None,
            "next_renewal": change.renew_at if change else None,
            "renewal_rule": change.renew_why if change else None,
            "expires": cert.not_after if cert else None,
            "serial": cert.serial if cert else None,
            "status": status,
        })
    return out


def _cell(key: str, value: Any) -> Any:
    if key in TIMES:
        return minutes(value)
    if key == "sans":
        value = ", ".join(value)
    return plain(value) if isinstance(value, str) else value


def render_table(data: list[Row]) -> str:
    if not data:
        return "No certificates.\n"
    table = [[_cell(key, r[key]) for key, _ in COLUMNS] for r in data]
    return str(tabulate(table, headers=[title for _, title in COLUMNS])) + "\n"


def json_rows(data: list[Row]) -> list[Row]:
    """The rows with every time as RFC 3339 in UTC ("2026-12-24T13:05:00Z")."""
    return [{k: iso_z(v) if k in TIMES else v for k, v in r.items()} for r in data]


def render_json(data: list[Row]) -> str:
    return json.dumps(json_rows(data), indent=2) + "\n"


LIST_RENDERERS: dict[str, Callable[[list[Row]], str]] = {
    "table": render_table, "json": render_json}
