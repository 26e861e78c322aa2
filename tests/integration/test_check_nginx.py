"""`certplan check` against a certificate issued by real Pebble and served by real
nginx: each way a site can be unhealthy gives its own reason line and exit 1; a
healthy one exits 0. nginx is pointed at other files (another certificate, the leaf
without its intermediate) by rewriting its conf and reloading, as an operator would."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.apply_project import CertplanProject, spec_toml
from tests.servers.nginx import NginxServer
from tests.servers.pebble import pebble  # noqa: F401 - fixture (one per module)

pytestmark = pytest.mark.integration

NAME, DOMAIN = "www", "www.check.example"


def issued(project: CertplanProject, site: NginxServer) -> dict:
    project.write_spec("www.toml", spec_toml(NAME, [DOMAIN], site.webroot, site))
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    return project.state(NAME)


def check(project: CertplanProject, *args: str) -> tuple[int, list[str]]:
    res = project.run("check", "--no-refresh", *args)
    assert "Traceback" not in res.stderr, res.stderr
    return res.returncode, res.stdout.splitlines()


def reasons(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(f"{NAME}: ") and ": ok (" not in line]


def at(value: str, delta: datetime.timedelta) -> str:
    moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00")) + delta
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def serve(site: NginxServer, cert_pem: bytes, key_pem: bytes) -> None:
    """Point nginx's TLS server at other files and reload; wait until they are served."""
    cert, key = site.prefix / "ssl" / "other.pem", site.prefix / "ssl" / "other.key"
    cert.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    key.chmod(0o600)
    conf = site.conf.read_text()
    conf = conf.replace(f"ssl_certificate {site.cert_path};", f"ssl_certificate {cert};")
    conf = conf.replace(f"ssl_certificate_key {site.key_path};", f"ssl_certificate_key {key};")
    site.conf.write_text(conf)
    site.reload()
    leaf = x509.load_pem_x509_certificate(cert_pem)
    want = leaf.public_bytes(serialization.Encoding.DER)
    deadline = time.monotonic() + 5
    while site.served_certificate(DOMAIN) != want:
        assert time.monotonic() < deadline, "nginx did not pick up the new files"
        time.sleep(0.05)


def other_certificate(names: list[str], days: float) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def test_healthy_site_exits_0_with_and_without_probe(project: CertplanProject,
                                                       site: NginxServer) -> None:
    state = issued(project, site)
    code, lines = check(project, "--probe")
    assert code == 0, lines
    assert lines[0].startswith(f"{NAME}: ok (expires ")
    assert lines[-1] == "Check: 1 certificate, 0 failing, endpoints probed."
    res = project.run("check", "--no-refresh", "--probe", "--format", "json")
    doc = json.loads(res.stdout)
    assert res.returncode == 0 and doc["ok"] is True
    (entry,) = doc["certificates"]
    assert entry["serial"] == state["certificate"]["serial"]
    assert entry["probed"] == [f"127.0.0.1:{site.https_port} (SNI {DOMAIN})"]
    assert entry["not_after"].endswith("Z") and entry["findings"] == []


def test_expired(project: CertplanProject, site: NginxServer) -> None:
    state = issued(project, site)
    code, lines = check(project, "--at", at(state["certificate"]["not_after"],
                                            datetime.timedelta(hours=1)))
    assert code == 1
    assert reasons(lines) == [f"{NAME}: expired "
                              f"{state['certificate']['not_after'][:16].replace('T', ' ')} UTC"]


def test_near_expiry(project: CertplanProject, site: NginxServer) -> None:
    state = issued(project, site)
    not_after = state["certificate"]["not_after"]
    # Pebble's certificates live for years: 10 days before expiry is long before the
    # renewal time, so only the warning shows; --warn-days 5 makes it healthy
    ten_days_before = at(not_after, -datetime.timedelta(days=10))
    code, lines = check(project, "--at", ten_days_before, "--warn-days", "30",
                        "--grace", "100000d")
    assert code == 1
    (line,) = reasons(lines)
    assert line.startswith(f"{NAME}: expires ") and "in 10.0 days (warning at 30.0 days)" in line
    code, lines = check(project, "--at", ten_days_before, "--warn-days", "5",
                        "--grace", "100000d")
    assert code == 0, lines


def test_past_renewal_time_without_renewal(project: CertplanProject,
                                           site: NginxServer) -> None:
    state = issued(project, site)
    plan = project.plan_json()
    (unchanged,) = plan["unchanged"]
    renew_at = unchanged["renew_at"]
    code, lines = check(project, "--at", at(renew_at, datetime.timedelta(hours=3)))
    assert code == 1
    (line,) = reasons(lines)
    assert line.startswith(f"{NAME}: not renewed although due since "
                           f"{renew_at[:16].replace('T', ' ')} UTC: renewal window opened")
    # within the grace period the next scheduled apply still has time
    code, _ = check(project, "--at", at(renew_at, datetime.timedelta(hours=1)))
    assert code == 0
    assert state["certificate"]["serial"]


def test_installed_file_changed(project: CertplanProject, site: NginxServer) -> None:
    issued(project, site)
    site.cert_path.write_bytes(site.cert_path.read_bytes() + b"\n")
    code, lines = check(project)
    assert code == 1
    assert reasons(lines) == [f"{NAME}: install[0]: {site.cert_path} drifted (changed on disk)"]


def test_wrong_certificate_served_that_expires_sooner(project: CertplanProject,
                                                      site: NginxServer) -> None:
    state = issued(project, site)
    serve(site, *other_certificate([DOMAIN], days=2))
    code, lines = check(project, "--probe")
    assert code == 1
    found = reasons(lines)
    where = f"install[0]: 127.0.0.1:{site.https_port} (SNI {DOMAIN})"
    assert len(found) == 2, found
    assert found[0].startswith(f"{NAME}: {where} serves another certificate: serial ")
    assert found[0].endswith(f"state records serial {state['certificate']['serial']}")
    assert found[1].startswith(f"{NAME}: {where}: the served certificate expires ")
    assert "before the recorded one" in found[1]
    # without --probe nothing on the host contradicts state
    assert check(project)[0] == 0


def test_incomplete_chain(project: CertplanProject, site: NginxServer) -> None:
    issued(project, site)
    fullchain = site.cert_path.read_bytes()
    leaf_only = fullchain[:fullchain.index(b"-----END CERTIFICATE-----") + 26]
    serve(site, leaf_only, site.key_path.read_bytes())
    code, lines = check(project, "--probe")
    assert code == 1
    (line,) = reasons(lines)
    assert line.startswith(f"{NAME}: install[0]: 127.0.0.1:{site.https_port} (SNI {DOMAIN}): "
                           f"incomplete chain: the server does not send ")
    assert line.endswith("(sent 1 certificate(s))")


def test_name_mismatch(project: CertplanProject, site: NginxServer) -> None:
    issued(project, site)
    serve(site, *other_certificate(["other.example", "*.other.example"], days=3650 * 3))
    code, lines = check(project, "--probe", "--format", "json")
    assert code == 1
    doc = json.loads("\n".join(lines))
    (entry,) = doc["certificates"]
    codes = [f["code"] for f in entry["findings"]]
    assert codes == ["probe_other_certificate", "probe_name_mismatch"]
    assert entry["findings"][1]["message"].endswith(
        f"name mismatch: the served certificate is for other.example, *.other.example, "
        f"not {DOMAIN}")


def test_endpoint_down(project: CertplanProject, site: NginxServer, tmp_path: Path) -> None:
    issued(project, site)
    site.stop()
    code, lines = check(project, "--probe", "--timeout", "2")
    assert code == 1
    (line,) = reasons(lines)
    assert f"127.0.0.1:{site.https_port} (SNI {DOMAIN}): handshake failed: " in line
