"""The `list` and `show` views: recorded certificates, their schedule and status."""

from __future__ import annotations

from typing import Any

from certplan.core.plan import Action, Plan
from certplan.model.project import Project
from certplan.model.records import CertRecord
from certplan.model.timefmt import minutes
from certplan.store.files import dump_json


def rows(project: Project, records: dict[str, CertRecord], plan: Plan) -> list[dict[str, Any]]:
    """One row per certificate, spec'd or recorded, in name order."""
    by_name = {c.name: c for c in plan.changes + plan.noops}
    names = sorted(set(records) | set(project.by_name()))
    out = []
    for name in names:
        rec = records.get(name)
        desired = project.by_name().get(name)
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
            "ca": rec.ca if rec else (desired.spec.ca or [""])[0] if desired else None,
            "created": minutes(rec.created_at) if rec else None,
            "issued": minutes(cert.issued_at) if cert else None,
            "next_renewal": minutes(change.renew_at) if change else None,
            "expires": minutes(cert.not_after) if cert else None,
            "serial": cert.serial if cert else None,
            "status": status,
        })
    return out


def show(record: CertRecord) -> str:
    """Everything recorded for one certificate: state is public, so all of it."""
    return dump_json(record).decode()

