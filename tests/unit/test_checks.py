"""The pure judge behind `certplan check` (certplan.core.checks): each way a
certificate can need attention is its own finding with a stable code; the next
renewal is the plan's; output is escaped. The real endpoints are in
tests/integration/test_check_nginx.py."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certplan.core.checks import CheckReport, check_all, render_json, render_text, warn_margin
from certplan.core.plan import make_plan
from certplan.model.crypto import cert_info_from
from certplan.model.installed import Observed
from certplan.model.observed import Observations
from certplan.model.probed import Probed
from certplan.model.project import Desired
from certplan.model.records import CertRecord, InstallRecord, Revocation
from tests.unit.test_plan import DAY, NOW, desired, open_order, record, sha, target

HOUR = timedelta(hours=1)


def judge(d: Desired, rec: CertRecord | None, now: datetime = NOW, *,
          seen: dict[tuple[str, int], Observed] | None = None, **kw: Any) -> list[str]:
    records = {d.spec.name: rec} if rec is not None else {}
    if seen is None:  # every target as recorded
        seen = {(d.spec.name, i): Observed.of({p: sha(p) for p in t.files().values()})
                for i, t in enumerate(d.spec.install)}
    plan = make_plan([d], records, Observations(installs=seen), now)
    report = check_all([d], records, plan, seen, now, **kw)
    return [f.code for c in report.certificates for f in c.findings]


def test_warn_margin_default_scales_down_for_short_lifetimes() -> None:
    d = desired()
    assert warn_margin(record(d).certificate, None) == timedelta(days=7)  # type: ignore[arg-type]
    six = record(d, lifetime=6 * DAY).certificate
    assert warn_margin(six, None) == timedelta(hours=36)  # type: ignore[arg-type]
    assert warn_margin(six, timedelta(days=3)) == timedelta(days=3)  # type: ignore[arg-type]


def test_healthy() -> None:
    d = desired(install=[target(1)])
    assert judge(d, record(d)) == []


def test_lifecycle_findings() -> None:
    d = desired()
    rec = record(d, not_before=NOW - 85 * DAY)  # 90 days: expires in 5 days
    assert judge(d, rec) == ["expires_soon", "renewal_overdue"]
    assert judge(d, rec, warn=timedelta(days=4)) == ["renewal_overdue"]
    assert judge(d, rec, NOW + 6 * DAY) == ["expired"]  # nothing else once expired
    # due at 60 days (1/3 left); within the grace period the scheduled apply has time
    due = record(d, not_before=NOW - 60 * DAY)
    assert judge(d, due, NOW + HOUR) == []
    assert judge(d, due, NOW + 2 * HOUR) == ["renewal_overdue"]
    assert judge(d, due, NOW + HOUR, grace=timedelta(0)) == ["renewal_overdue"]


def test_not_issued_revoked_and_unreadable() -> None:
    d = desired()
    assert judge(d, None) == ["not_issued"]
    pending = record(d, cert=False, pending_order=open_order(d))
    records = {"www": pending}
    plan = make_plan([d], records, Observations(), NOW)
    (c,) = check_all([d], records, plan, {}, NOW).certificates
    assert c.findings[0].message.startswith("no certificate issued yet (an order is open since")
    revoked = record(d, revoked=Revocation(revoked_at=NOW, reason="keyCompromise",
                                           serial="0a1b2c"))
    assert judge(d, revoked) == ["revoked"]
    plan = make_plan([d], {}, Observations(), NOW, broken={"www": "not JSON"})
    report = check_all([d], {}, plan, {}, NOW, broken={"www": "not JSON"})
    assert [(c.name, [f.code for f in c.findings]) for c in report.certificates] == [
        ("www", ["state_unreadable"])]


def test_install_findings() -> None:
    d = desired(install=[target(1), target(2), target(3), target(4)])
    rec = record(d)
    installs = list(rec.installs)
    installs[1] = installs[1].model_copy(update={"status": "failed", "fingerprint": None,
                                                 "parts": {}})
    installs[2] = installs[2].model_copy(update={"serial": "99"})
    rec = rec.model_copy(update={"installs": installs[:3]})
    seen = {("www", i): Observed.of({p: sha(p) for p in t.files().values()})
            for i, t in enumerate(d.spec.install)}
    seen[("www", 0)] = Observed.of({"/srv/t1/site.key": sha("/srv/t1/site.key"),
                                    "/srv/t1/fullchain.pem": "changed"})
    records = {"www": rec}
    plan = make_plan([d], records, Observations(installs=seen), NOW)
    (c,) = check_all([d], records, plan, seen, NOW).certificates
    assert [(f.code, f.message) for f in c.findings] == [
        ("install_drift", "install[0]: /srv/t1/fullchain.pem drifted (changed on disk)"),
        ("install_failed", "install[1]: the last install failed (2026-05-02 00:00 UTC)"),
        ("install_serial", "install[2]: holds serial 99, state records serial 0a1b2c"),
        ("install_missing", "install[3]: never installed")]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer: str, key: Any, signer: Any, *, names: list[str] | None = None,
          ca: bool = False, days: int = 90) -> x509.Certificate:
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(NOW - DAY).not_valid_after(NOW + days * DAY)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                            critical=False)
    return b.sign(signer, hashes.SHA256())


def chain() -> tuple[x509.Certificate, x509.Certificate, x509.Certificate]:
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("Test Root", "Test Root", root_key, root_key, ca=True, days=3650)
    mid = _cert("Test Intermediate", "Test Root", mid_key, root_key, ca=True, days=1000)
    leaf = _cert("example.com", "Test Intermediate", leaf_key, mid_key,
                 names=["example.com", "*.example.com"])
    return leaf, mid, root


def pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def probed(*certs: x509.Certificate, sni: str = "www.example.com") -> Probed:
    return Probed("127.0.0.1:443", sni, chain=tuple(cert_info_from(c) for c in certs))


def probe_codes(served: Probed) -> list[str]:
    leaf, mid, root = chain_now
    d = desired()
    rec = record(d)
    facts = rec.certificate.model_copy(update={  # type: ignore[union-attr]
        "serial": format(leaf.serial_number, "x"), "not_after": leaf.not_valid_after_utc,
        "chain_pem": pem(leaf, mid, root)})
    rec = rec.model_copy(update={"certificate": facts})
    return judge(d, rec, probes={("www", 0): served}, warn=timedelta(0))


chain_now = chain()


def test_probe_findings() -> None:
    leaf, mid, root = chain_now
    assert probe_codes(probed(leaf, mid)) == []
    assert probe_codes(probed(leaf, mid, root)) == []
    assert probe_codes(probed(leaf)) == ["probe_incomplete_chain"]
    assert probe_codes(probed(leaf, mid, sni="example.org")) == ["probe_name_mismatch"]
    assert probe_codes(probed(leaf, mid, sni="a.b.example.com")) == ["probe_name_mismatch"]
    other, _, _ = chain()  # same names, another serial
    assert probe_codes(probed(other, mid)) == ["probe_other_certificate"]
    key = ec.generate_private_key(ec.SECP256R1())
    sooner = _cert("example.com", "x", key, key, names=["example.com", "*.example.com"], days=1)
    assert probe_codes(probed(sooner)) == ["probe_other_certificate", "probe_expires_earlier"]
    failed = Probed("127.0.0.1:443", "www.example.com", error="handshake failed: refused")
    assert probe_codes(failed) == ["probe_failed"]


def test_text_and_json_output_escaped() -> None:
    d = desired(install=[target(1)])
    rec = record(d, not_before=NOW - 89 * DAY)
    evil = rec.installs[0].model_copy(update={"serial": "\x1b[31mred"})
    rec = rec.model_copy(update={"installs": [evil]})
    records = {"www": rec}
    plan = make_plan([d], records, Observations(), NOW)
    report = check_all([d], records, plan, {}, NOW)
    text = render_text(report)
    assert "\x1b" not in text and "holds serial \\x1b[31mred" in text
    assert text.splitlines()[-1] == "Check: 1 certificate, 1 failing (3 findings)."
    doc = json.loads(render_json(report))
    assert doc["ok"] is False and doc["checked_at"] == "2026-06-01T00:00:00Z"
    assert [f["code"] for f in doc["certificates"][0]["findings"]] == [
        "expires_soon", "renewal_overdue", "install_serial"]
    ok = render_text(replace(report, certificates=()))
    assert ok == "No certificates.\nCheck: 0 certificates, 0 failing.\n"
    assert CheckReport(NOW, ()).ok


def test_failed_install_record_shape() -> None:
    """A failed install as apply records it (no fingerprint, no parts) is its own finding."""
    d = desired(install=[target(1)])
    failed = InstallRecord(installer="files", digest=d.spec.install[0].digest(),
                           status="failed", serial="0a1b2c", installed_at=NOW - DAY)
    assert judge(d, record(d, installs=[failed])) == ["install_failed"]


def test_targets_name_their_steps_and_endpoint() -> None:
    """What plans list and what `check --probe` asks: a files target's verify address;
    an ssh target's commands run on its host, and ":PORT" is that host."""
    from certplan.installers.files import FilesTarget
    from certplan.installers.ssh_target import SshTarget

    files = FilesTarget(key_file="/k", fullchain_file="/f", check="nginx -t",
                        verify="127.0.0.1:8443", verify_name="www.example.com")
    assert files.steps() == [("check", "nginx -t"),
                             ("verify", "handshake 127.0.0.1:8443 (SNI www.example.com)")]
    assert files.tls_endpoint() == ("127.0.0.1:8443", "www.example.com")
    bare = FilesTarget(key_file="/k")
    assert bare.steps() == [] and bare.tls_endpoint() is None
    ssh = SshTarget(type="ssh", host="2001:db8::5", key_file="/k", fullchain_file="/f",
                    check="nginx -t", reload="nginx -s reload", verify=":443")
    assert ssh.steps() == [("check", "nginx -t (on 2001:db8::5)"),
                           ("reload", "nginx -s reload (on 2001:db8::5)"),
                           ("verify", "handshake [2001:db8::5]:443")]
    assert ssh.tls_endpoint() == ("[2001:db8::5]:443", None)
