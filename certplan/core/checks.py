"""`certplan check`: is every certificate healthy now? Pure: `now`, the plan, what the
installers observed and what the endpoints presented all come in.

A finding is one reason a certificate needs attention, with a stable code for tools.
The next renewal is the plan's (core/policy.py through make_plan), so `check`,
`list` and `plan` never disagree about it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from certplan.core.plan import Action, Change, Plan, drift_reason
from certplan.core.policy import moment
from certplan.model.crypto import CertInfo, covers, split_pem_certs
from certplan.model.installed import Observed
from certplan.model.probed import Probed
from certplan.model.project import Desired
from certplan.model.records import CertFacts, CertRecord

DEFAULT_WARN = timedelta(days=7)
DEFAULT_GRACE = timedelta(hours=2)


@dataclass(frozen=True)
class Finding:
    code: str  # stable, for tools: "expired", "expires_soon", "probe_incomplete_chain", ...
    message: str


@dataclass(frozen=True)
class CertCheck:
    name: str
    findings: tuple[Finding, ...]
    serial: str | None = None
    not_after: datetime | None = None
    renew_at: datetime | None = None
    probed: tuple[str, ...] = ()  # the endpoints asked, "HOST:PORT (SNI name)"

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class CheckReport:
    now: datetime
    certificates: tuple[CertCheck, ...]
    probe: bool = False

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.certificates)


def warn_margin(cert: CertFacts, warn: timedelta | None) -> timedelta:
    """How close to expiry is too close: `warn` as given; by default 7 days, but at
    most a quarter of the lifetime (a 6-day certificate warns 1.5 days ahead)."""
    if warn is not None:
        return warn
    return min(DEFAULT_WARN, (cert.not_after - cert.not_before) / 4)


def _left(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def _lifecycle(cert: CertFacts, change: Change | None, now: datetime,
               warn: timedelta | None, grace: timedelta) -> list[Finding]:
    if now >= cert.not_after:
        return [Finding("expired", f"expired {moment(cert.not_after)}")]
    out = []
    margin = warn_margin(cert, warn)
    if cert.not_after - now <= margin:
        out.append(Finding("expires_soon", f"expires {moment(cert.not_after)}, in "
                                           f"{_left(cert.not_after - now)} (warning at "
                                           f"{_left(margin)})"))
    if change is not None and change.renew_at is not None and change.action is Action.RENEW \
            and now >= change.renew_at + grace:
        out.append(Finding("renewal_overdue",
                           f"not renewed although due since {moment(change.renew_at)}: "
                           f"{change.reason}"))
    return out


def _installs(d: Desired, rec: CertRecord, cert: CertFacts,
              seen: Mapping[tuple[str, int], Observed]) -> list[Finding]:
    out = []
    for i, _target in enumerate(d.spec.install):
        done = rec.installs[i] if i < len(rec.installs) else None
        label = f"install[{i}]"
        if done is None:
            out.append(Finding("install_missing", f"{label}: never installed"))
        elif done.status == "failed":
            out.append(Finding("install_failed", f"{label}: the last install failed "
                                                 f"({moment(done.installed_at)})"))
        elif done.serial is not None and done.serial != cert.serial:
            out.append(Finding("install_serial", f"{label}: holds serial {done.serial}, state "
                                                 f"records serial {cert.serial}"))
        elif (drift := drift_reason(done, seen.get((d.spec.name, i)))) is not None:
            out.append(Finding("install_drift", f"{label}: {drift}"))
    return out


def _intermediates(chain_pem: str) -> list[CertInfo]:
    """The CA's intermediates as recorded: every certificate after the leaf that is
    not self-signed (a root is not sent; clients have it)."""
    from certplan.model.crypto import cert_info_from

    out = []
    for pem in split_pem_certs(chain_pem.encode())[1:]:
        cert = x509.load_pem_x509_certificate(pem)
        if cert.issuer != cert.subject:
            out.append(cert_info_from(cert))
    return out


def _names(info: CertInfo) -> str:
    names = info.sans or ([info.subject_cn] if info.subject_cn else [])
    return ", ".join(names) or "no name"


def _probe(label: str, probed: Probed, cert: CertFacts) -> list[Finding]:
    where = f"{label}: {probed.address} (SNI {probed.server_name})"
    if probed.error is not None or not probed.chain:
        return [Finding("probe_failed", f"{where}: {probed.error or 'no certificate'}")]
    leaf, out = probed.chain[0], []
    if leaf.serial != cert.serial:
        out.append(Finding("probe_other_certificate",
                           f"{where} serves another certificate: serial {leaf.serial} "
                           f"(issuer {leaf.issuer_cn or leaf.issuer}), state records serial "
                           f"{cert.serial}"))
    names = leaf.sans or ([leaf.subject_cn] if leaf.subject_cn else [])
    if not covers(names, probed.server_name):
        out.append(Finding("probe_name_mismatch",
                           f"{where}: name mismatch: the served certificate is for "
                           f"{_names(leaf)}, not {probed.server_name}"))
    if leaf.not_after < cert.not_after:
        out.append(Finding("probe_expires_earlier",
                           f"{where}: the served certificate expires "
                           f"{moment(leaf.not_after)}, before the recorded one "
                           f"({moment(cert.not_after)})"))
    if leaf.serial == cert.serial:
        sent = {c.fingerprint for c in probed.chain[1:]}
        missing = [c for c in _intermediates(cert.chain_pem) if c.fingerprint not in sent]
        if missing:
            out.append(Finding("probe_incomplete_chain",
                               f"{where}: incomplete chain: the server does not send "
                               f"{', '.join(c.subject_cn or c.fingerprint for c in missing)} "
                               f"(sent {len(probed.chain)} certificate(s))"))
    return out


def _one(d: Desired, rec: CertRecord | None, change: Change | None, now: datetime,
         seen: Mapping[tuple[str, int], Observed], probes: Mapping[tuple[str, int], Probed],
         warn: timedelta | None, grace: timedelta) -> CertCheck:
    name = d.spec.name
    cert = rec.certificate if rec is not None else None
    if rec is None or cert is None:
        why = "no certificate issued yet"
        if rec is not None and rec.pending_order is not None:
            why += f" (an order is open since {moment(rec.pending_order.created_at)})"
        return CertCheck(name, (Finding("not_issued", why),))
    findings = []
    if rec.revoked is not None and rec.revoked.serial == cert.serial:
        findings.append(Finding("revoked", f"serial {cert.serial} was revoked "
                                           f"{moment(rec.revoked.revoked_at)}"))
    findings += _lifecycle(cert, change, now, warn, grace)
    findings += _installs(d, rec, cert, seen)
    asked = []
    for (who, i), probed in sorted(probes.items()):
        if who == name:
            asked.append(f"{probed.address} (SNI {probed.server_name})")
            findings += _probe(f"install[{i}]", probed, cert)
    return CertCheck(name, tuple(findings), cert.serial, cert.not_after,
                     change.renew_at if change is not None else None, tuple(asked))


def check_all(desired: Sequence[Desired], records: Mapping[str, CertRecord], plan: Plan,
              seen: Mapping[tuple[str, int], Observed], now: datetime, *,
              probes: Mapping[tuple[str, int], Probed] | None = None,
              warn: timedelta | None = None, grace: timedelta = DEFAULT_GRACE,
              broken: Mapping[str, str] | None = None, probe: bool = False) -> CheckReport:
    """Every certificate the specs declare (and every state record that does not
    load), with what is wrong with it now."""
    changes = {c.name: c for c in plan.changes + plan.noops}
    broken = broken or {}
    out = [CertCheck(name, (Finding("state_unreadable", f"its state record does not load: "
                                                        f"{why}"),))
           for name, why in broken.items()]
    for d in desired:
        if d.spec.name not in broken:
            out.append(_one(d, records.get(d.spec.name), changes.get(d.spec.name), now, seen,
                            probes or {}, warn, grace))
    return CheckReport(now, tuple(sorted(out, key=lambda c: c.name)), probe)


# -- output ----------------------------------------------------------------------------------

JSON_FORMAT_VERSION = 1


def summary(report: CheckReport) -> str:
    failing = [c for c in report.certificates if not c.ok]
    found = sum(len(c.findings) for c in failing)
    n = len(report.certificates)
    return (f"Check: {n} certificate{'s' if n != 1 else ''}, {len(failing)} failing"
            + (f" ({found} finding{'s' if found != 1 else ''})" if failing else "")
            + (", endpoints probed" if report.probe else "") + ".")


def render_text(report: CheckReport) -> str:
    """One line per finding ("NAME: reason"), one per healthy certificate, a summary.
    State and endpoints supply the text: control characters are shown, never sent."""
    from certplan.core.escape import plain

    lines = []
    for c in report.certificates:
        for f in c.findings:
            lines.append(plain(f"{c.name}: {f.message}"))
        if c.ok:
            when = f"expires {moment(c.not_after)}" if c.not_after else "no certificate"
            if c.renew_at is not None:
                when += f", next renewal {moment(c.renew_at)}"
            lines.append(plain(f"{c.name}: ok ({when})"))
    if not report.certificates:
        lines.append("No certificates.")
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def report_json(report: CheckReport) -> dict[str, object]:
    from certplan.model.timefmt import iso_z

    return {
        "format_version": JSON_FORMAT_VERSION,
        "checked_at": iso_z(report.now),
        "ok": report.ok,
        "probe": report.probe,
        "certificates": [{
            "certificate": c.name, "ok": c.ok, "serial": c.serial,
            "not_after": iso_z(c.not_after), "renew_at": iso_z(c.renew_at),
            "probed": list(c.probed),
            "findings": [{"code": f.code, "message": f.message} for f in c.findings],
        } for c in report.certificates],
    }


def render_json(report: CheckReport) -> str:
    import json

    return json.dumps(report_json(report), indent=2, sort_keys=True) + "\n"


CHECK_RENDERERS = {"text": render_text, "json": render_json}
