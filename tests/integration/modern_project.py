"""A certplan project for the issue-5 integration tests (ARI, EAB, chains, fallback,
revocation, accounts): http-01 standalone on the port Pebble's validator dials,
installs into plain files, the CLI run as its own process."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.integration.apply_project import CertplanProject
from tests.servers.pebble import PebbleServer
from tests.servers.project_config import pebble_config

PEBBLE26 = "/opt/pebble26/usr/bin/pebble"
EMAIL = "test@example.test"


def make_project(root: Path, pebble: PebbleServer, *, email: str = EMAIL,
                 ca_extra: str = "", extra: str = "") -> CertplanProject:
    """`[ca.pebble]` with `ca_extra` lines added; `extra` appended (more [ca.X] tables)."""
    root.mkdir(parents=True, exist_ok=True)
    project = CertplanProject(root, pebble)
    write_config(project, email=email, ca_extra=ca_extra, extra=extra)
    (root / "specs").mkdir(exist_ok=True)
    (root / "out").mkdir(exist_ok=True)
    return project


def write_config(project: CertplanProject, *, email: str = EMAIL, ca_extra: str = "",
                 extra: str = "") -> None:
    pebble = project.pebble
    (project.root / "certplan.toml").write_text(pebble_config(
        pebble.directory_url, pebble.ca_bundle, pebble.http_port, email=email,
        resolvers=[f"127.0.0.1:{pebble.dns_port}"], ca_extra=ca_extra, extra=extra))


def standalone_spec(project: CertplanProject, name: str, domains: list[str],
                    extra: str = "") -> None:
    """One certificate, proven by the built-in http-01 server, installed into out/."""
    out = project.root / "out"
    project.write_spec(f"{name}.toml", "\n".join([
        "[[certificate]]", f'name = "{name}"', f"domains = {json.dumps(domains)}", extra,
        "[certificate.challenge]", 'type = "http-01"', "standalone = true",
        f'listen = "127.0.0.1:{project.pebble.http_port}"',
        "[[certificate.install]]",
        f'key_file = "{out / (name + ".key")}"',
        f'fullchain_file = "{out / (name + ".fullchain.pem")}"',
    ]) + "\n")


def installed_chain(project: CertplanProject, name: str) -> list[x509.Certificate]:
    pem = (project.root / "out" / f"{name}.fullchain.pem").read_bytes()
    return x509.load_pem_x509_certificates(pem)


def issuer_cn(cert: x509.Certificate) -> str:
    return str(cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def order_ids(output: str) -> list[str]:
    """Order IDs (last path segment) of the `NAME: order URL for ...` log lines."""
    return re.findall(r": order https://\S+/([^/\s]+) for ", output)


def assert_clean_failure(res: object, *secrets: str) -> str:
    """Exit 1, no traceback, no secret: returns stdout + stderr for further checks."""
    out = res.stdout + res.stderr  # type: ignore[attr-defined]
    assert res.returncode == 1, out  # type: ignore[attr-defined]
    assert "Traceback" not in out, out
    for secret in secrets:
        assert secret not in out
    return str(out)
