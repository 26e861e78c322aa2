"""Helpers of the fault-injection tests: run the real `python -m certplan` as its own
process and SIGKILL it at a named crash point (certplan.engine.crashpoints), then
look at what is left: state, keystore, installed files, the served certificate and
what Pebble saw."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certplan.engine.crashpoints import ENV
from tests.integration.apply_project import REPO, CertplanProject


def run_killed_at(project: CertplanProject, point: str, *args: str) -> str:
    """Run certplan with the crash point armed; assert it died of SIGKILL there.
    Returns what it printed before."""
    env = dict(project.env, **{ENV: point})
    res = subprocess.run(project.command(*args), text=True, capture_output=True, cwd=REPO,
                         env=env, timeout=120, stdin=subprocess.DEVNULL)
    out = res.stdout + res.stderr
    assert res.returncode == -signal.SIGKILL, f"not killed at {point}: {out}"
    return out


def new_orders(output: str) -> list[str]:
    """URLs of the orders a run created (its `NAME: order URL for ...` lines)."""
    return re.findall(r": order (https://\S+) for ", output)


def resumed_orders(output: str) -> list[str]:
    return re.findall(r": resuming order (https://\S+) ", output)


def pebble_orders(log: str) -> int:
    """How many orders Pebble created (its log has one line per new order)."""
    return len(re.findall(r"Added order", log))


def same_public_key(key_pem: bytes, cert_pem: bytes) -> bool:
    key = serialization.load_pem_private_key(key_pem, password=None)
    cert = x509.load_pem_x509_certificates(cert_pem)[0]
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)


def serial_of(cert_pem: bytes) -> str:
    return format(x509.load_pem_x509_certificates(cert_pem)[0].serial_number, "x")


def keystore_pair(project: CertplanProject, name: str) -> tuple[bytes, bytes]:
    folder = project.root / ".certplan" / "certs" / name / "current"
    return (folder / "key.pem").read_bytes(), (folder / "fullchain.pem").read_bytes()


def pending_key(project: CertplanProject, name: str) -> Path:
    return project.root / ".certplan" / "certs" / name / "pending.key.pem"
