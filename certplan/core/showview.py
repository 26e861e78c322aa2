"""The readable `show NAME`: one certificate as a person reads it. Pure: the record,
its spec and the change a plan made for it come in (the next renewal is therefore
the plan's, from core/policy.py). Everything from state or a CA is escaped like
plan output: a record from git can hold terminal escapes."""

from __future__ import annotations

from datetime import datetime

from certplan.core.escape import plain
from certplan.core.plan import Action, Change
from certplan.core.policy import moment
from certplan.model.project import Desired
from certplan.model.records import CertRecord, InstallRecord

WIDTH = 14  # label column


def _span(delta_seconds: float) -> str:
    days = delta_seconds / 86400
    return f"{days:.1f} days" if abs(days) >= 2 else f"{delta_seconds / 3600:.1f} hours"


def _validity(rec: CertRecord, now: datetime) -> str:
    cert = rec.certificate
    assert cert is not None
    life = _span((cert.not_after - cert.not_before).total_seconds())
    left = (cert.not_after - now).total_seconds()
    state = f"{_span(left)} left" if left > 0 else f"EXPIRED {_span(-left)} ago"
    return f"{moment(cert.not_before)} .. {moment(cert.not_after)} ({life}; {state})"


def _renewal(change: Change | None) -> list[tuple[str, str]]:
    if change is None:
        return []
    out = []
    if change.renew_at is not None:
        why = f" ({change.renew_why})" if change.renew_why else ""
        out.append(("next renewal", f"{moment(change.renew_at)}{why}"))
    if change.action is Action.NOOP:
        out.append(("plan", "nothing to do"))
    else:
        out.append(("plan", f"{change.action.value}: {change.reason}"))
    return out


def _install(i: int, done: InstallRecord | None, desired: Desired | None) -> list[str]:
    label = f"install[{i}]"
    target = desired.spec.install[i] if desired and i < len(desired.spec.install) else None
    if done is None:
        lines = [f"{label}: not installed yet"]
    else:
        what = "installed" if done.status == "installed" else "FAILED"
        lines = [f"{label}: {done.installer}, {what} {moment(done.installed_at)}, serial "
                 f"{done.serial or '(not recorded)'}, fingerprint {done.fingerprint or '-'}"]
        lines += [f"    {part}  sha256 {digest}" for part, digest in sorted(done.parts.items())]
    if target is not None:
        lines += [f"    {step}: {what}" for step, what in target.steps()]
    elif desired is not None:
        lines.append("    (no longer in the spec)")
    return lines


def render_show(rec: CertRecord, change: Change | None, desired: Desired | None,
                now: datetime) -> str:
    rows: list[tuple[str, str]] = [
        ("certificate", rec.name), ("domains", ", ".join(rec.domains)), ("key", rec.key_type),
        ("CA", f"{rec.ca} ({rec.ca_directory})"),
        ("account", rec.account_url or "-"), ("profile", rec.profile or "(CA default)"),
        ("created", moment(rec.created_at)), ("renewals", str(rec.renewals)),
    ]
    cert = rec.certificate
    if cert is None:
        rows.append(("certificate", "none issued yet"))
    else:
        rows += [("issuer", cert.issuer), ("serial", cert.serial),
                 ("valid", _validity(rec, now)), ("issued", moment(cert.issued_at)),
                 ("fingerprint", f"sha256 {cert.fingerprint_sha256}")]
    rows += _renewal(change)
    if rec.pending_order is not None:
        o = rec.pending_order
        rows.append(("open order", f"{o.url} ({o.ca}, since {moment(o.created_at)})"))
    if rec.revoked is not None:
        r = rec.revoked
        rows.append(("revoked", f"serial {r.serial} {moment(r.revoked_at)} ({r.reason})"))
    how = [w for w, on in (("revoke", rec.on_remove.revoke),
                           ("delete installed files", rec.on_remove.delete_files)) if on]
    rows.append(("on remove", ", ".join(how) or "keep certificate and files"))
    if desired is None:
        rows.append(("spec", "none: the next apply stops managing it"))
    lines = [f"{label + ':':{WIDTH}}{value}" for label, value in rows]
    count = max(len(rec.installs), len(desired.spec.install) if desired else 0)
    for i in range(count):
        lines += _install(i, rec.installs[i] if i < len(rec.installs) else None, desired)
    return "".join(plain(line) + "\n" for line in lines)
