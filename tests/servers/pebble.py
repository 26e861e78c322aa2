"""Pebble (Let's Encrypt's test CA) as a real process on free loopback ports.

`start_pebble()` writes a listener certificate and a config file into a work
folder, starts pebble-challtestsrv as a mock DNS server answering 127.0.0.1
for every name (unless another resolver is given, e.g. BIND), then starts
pebble with real validation (PEBBLE_VA_NOSLEEP=1, default nonce rejection)
and waits for "Listening on". Everything is stopped by PID.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import ssl
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers.ports import (
    free_port,
    http_get,
    stop,
    wait_for_dns,
    wait_for_line,
    wait_for_port,
    wait_until,
)


@dataclass
class PebbleServer:
    """A running Pebble; `http_port` is where its validator dials for http-01."""

    directory_url: str
    ca_bundle: str            # the listener certificate (trust it for the ACME API)
    http_port: int
    tls_port: int
    management_url: str
    dns_port: int | None      # challtestsrv's DNS port (None with an external resolver)
    dns_management_url: str | None
    workdir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    alternate_roots: int = 0

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def _get(self, path: str) -> str:
        ctx = ssl.create_default_context(cafile=self.ca_bundle)
        with urllib.request.urlopen(self.management_url + path, context=ctx, timeout=5) as r:
            return str(r.read().decode("ascii"))

    def root_pem(self, index: int | None = None) -> str:
        """One root (index) or all roots concatenated (default root first)."""
        if index is not None:
            return self._get(f"/roots/{index}")
        return "".join(self._get(f"/roots/{i}") for i in range(self.alternate_roots + 1))

    def intermediate_pem(self, index: int = 0) -> str:
        return self._get(f"/intermediates/{index}")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop(proc)
        for proc in self.procs:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        self.procs.clear()

    def log(self) -> str:
        path = self.workdir / "pebble.log"
        return path.read_text(errors="replace") if path.exists() else ""


def write_listener_cert(workdir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 (Pebble's own TLS)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble listener")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = workdir / "listener.pem", workdir / "listener.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path


def start_challtestsrv(workdir: Path,
                       dns_port: int | None) -> tuple[subprocess.Popen[bytes], int, int]:
    """pebble-challtestsrv answering A 127.0.0.1 (and no AAAA) for every name, its own
    challenge listeners off; ready once it answers a real DNS query.
    Returns (process, DNS port, management port)."""
    dns_port, mgmt_port = dns_port or free_port(), free_port()
    log = open(workdir / "challtestsrv.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        ["pebble-challtestsrv", "-http01", "", "-https01", "", "-tlsalpn01", "",
         "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
         "-dns01", f"127.0.0.1:{dns_port}", "-management", f"127.0.0.1:{mgmt_port}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    log.close()
    try:
        wait_for_port(mgmt_port, proc=proc)
        wait_for_dns(dns_port, "ready.example.test", "127.0.0.1", proc=proc)
    except Exception:
        stop(proc)
        raise
    return proc, dns_port, mgmt_port


def _pebble_env(nonce_reject: int | None, alternate_roots: int, chain_length: int | None,
                authz_reuse: int | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PEBBLE_VA_NOSLEEP"] = "1"
    for var, value in (("PEBBLE_WFE_NONCEREJECT", nonce_reject),
                       ("PEBBLE_ALTERNATE_ROOTS", alternate_roots or None),
                       ("PEBBLE_CHAIN_LENGTH", chain_length),
                       ("PEBBLE_AUTHZREUSE", authz_reuse)):
        if value is None:
            env.pop(var, None)
        else:
            env[var] = str(value)
    return env


def start_pebble(workdir: Path, *, http_port: int | None = None, dns_port: int | None = None,
                 dns_server: str | None = None, nonce_reject: int | None = None,
                 validity_seconds: int | None = None, eab: dict[str, str] | None = None,
                 alternate_roots: int = 0, chain_length: int | None = None,
                 authz_reuse: int | None = None, pebble_binary: str = "pebble",
                 timeout: float = 20.0) -> PebbleServer:
    """Start pebble (and challtestsrv unless `dns_server="HOST:PORT"` is given).

    `dns_port` is challtestsrv's DNS port (a free one when None).
    `eab` maps kid -> base64url HMAC key and makes EAB required.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = write_listener_cert(workdir)
    http_port = http_port or free_port()
    tls_port, listen_port, mgmt_port = free_port(), free_port(), free_port()
    cfg: dict[str, Any] = {
        "listenAddress": f"127.0.0.1:{listen_port}",
        "managementListenAddress": f"127.0.0.1:{mgmt_port}",
        "certificate": str(cert_path), "privateKey": str(key_path),
        "httpPort": http_port, "tlsPort": tls_port, "ocspResponderURL": "",
        "externalAccountBindingRequired": bool(eab),
    }
    if eab:
        cfg["externalAccountMACKeys"] = dict(eab)
    if validity_seconds is not None:
        cfg["certificateValidityPeriod"] = validity_seconds
    (workdir / "pebble-config.json").write_text(json.dumps({"pebble": cfg}, indent=2))

    procs: list[subprocess.Popen[bytes]] = []
    dns_mgmt_url: str | None = None
    if dns_server is None:
        dns_proc, dns_port, dns_mgmt = start_challtestsrv(workdir, dns_port)
        procs.append(dns_proc)
        dns_server = f"127.0.0.1:{dns_port}"
        dns_mgmt_url = f"http://127.0.0.1:{dns_mgmt}"
    else:
        dns_port = None
    log_path = workdir / "pebble.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed right after the process has it
    proc = subprocess.Popen(
        [pebble_binary, "-config", str(workdir / "pebble-config.json"),
         "-dnsserver", dns_server],
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
        env=_pebble_env(nonce_reject, alternate_roots, chain_length, authz_reuse))
    log.close()
    procs.append(proc)
    server = PebbleServer(
        directory_url=f"https://127.0.0.1:{listen_port}/dir", ca_bundle=str(cert_path),
        http_port=http_port, tls_port=tls_port,
        management_url=f"https://127.0.0.1:{mgmt_port}", dns_port=dns_port,
        dns_management_url=dns_mgmt_url, workdir=workdir, procs=procs,
        alternate_roots=alternate_roots)
    try:
        wait_for_line(log_path, "Listening on", timeout=timeout, proc=proc)
        wait_for_port(listen_port, timeout=timeout, proc=proc)
        wait_until(lambda: _directory_ready(server), "pebble directory", timeout, proc)
        wait_until(lambda: server.root_pem(), "pebble management", timeout, proc)
    except Exception:
        server.stop()
        raise
    return server


def _directory_ready(server: PebbleServer) -> None:
    """The ACME directory answers over TLS with its newNonce URL."""
    status, body = http_get(server.directory_url, cafile=server.ca_bundle)
    if status != 200 or "newNonce" not in json.loads(body):
        raise RuntimeError(f"directory answered HTTP {status}")


PebbleFactory = Callable[..., PebbleServer]


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    """One Pebble with default settings per test module."""
    server = start_pebble(tmp_path_factory.mktemp("pebble"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pebble_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleFactory]:
    """Start Pebbles with custom settings: `pebble_factory(nonce_reject=50)`."""
    started: list[PebbleServer] = []

    def make(**kwargs: Any) -> PebbleServer:
        server = start_pebble(tmp_path_factory.mktemp("pebble"), **kwargs)
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()
