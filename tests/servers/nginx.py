"""nginx as a real process from a private prefix, on free loopback ports.

`start_nginx(workdir)` writes conf/nginx.conf (pid, logs and all five temp paths
under the prefix), a self-signed placeholder certificate, and a webroot served
over plain HTTP; then runs `nginx -p DIR -c conf/nginx.conf -g 'daemon off;'`
and waits for both ports. Workers run as `nobody` (as in production), so the
prefix and webroot are made world-traversable: give a workdir whose parents
others can traverse (the `nginx` fixture uses a fresh folder under /tmp; pytest's
own tmp folders are 0700).
"""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers.ports import free_port, http_get, stop, wait_for_port, wait_until

TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass
class NginxServer:
    pid: int
    http_port: int
    https_port: int
    prefix: Path
    conf: Path
    webroot: Path
    cert_path: Path
    key_path: Path
    proc: subprocess.Popen[bytes] = field(repr=False)

    @property
    def base_command(self) -> str:
        return f"nginx -p {self.prefix} -c {self.conf}"

    @property
    def check_command(self) -> str:
        return f"{self.base_command} -t"

    @property
    def reload_command(self) -> str:
        return f"{self.base_command} -s reload"

    def reload(self) -> None:
        res = subprocess.run(self.reload_command.split(), capture_output=True, timeout=30)
        if res.returncode != 0:
            raise RuntimeError(f"nginx reload failed: {res.stderr.decode(errors='replace')}")

    def served_certificate(self, server_name: str = "localhost") -> bytes:
        """DER of the leaf certificate nginx presents in a fresh TLS handshake."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.https_port), timeout=5) as sock:
            with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
                der = tls.getpeercert(binary_form=True)
        if der is None:
            raise RuntimeError("nginx presented no certificate")
        return der

    def served_serial(self, server_name: str = "localhost") -> str:
        """Serial (lower-case hex) of the certificate served now."""
        cert = x509.load_der_x509_certificate(self.served_certificate(server_name))
        return format(cert.serial_number, "x")

    def error_log(self) -> str:
        """nginx's start-up output and its error log."""
        logs = [self.prefix / "logs" / "stderr.log", self.prefix / "logs" / "error.log"]
        return "".join(p.read_text(errors="replace") for p in logs if p.exists())

    def stop(self) -> None:
        stop(self.proc)


def self_signed(cert_path: Path, key_path: Path, name: str = "localhost") -> str:
    """Write a placeholder certificate and key (key 0600); returns its serial in hex."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return format(cert.serial_number, "x")


def _conf(prefix: Path, http_port: int, https_port: int, webroot: Path, cert: Path,
          key: Path, user: str) -> str:
    temps = "\n".join(f"    {t}_temp_path {prefix}/tmp/{t};" for t in TEMP_PATHS)
    return f"""user {user};
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/logs/access.log;
{temps}
    default_type text/plain;
    server {{
        listen 127.0.0.1:{http_port};
        server_name _;
        root {webroot};
    }}
    server {{
        listen 127.0.0.1:{https_port} ssl;
        server_name _;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {webroot};
    }}
}}
"""


def start_nginx(workdir: Path, *, https_port: int | None = None, http_port: int | None = None,
                webroot: Path | None = None, cert_path: Path | None = None,
                key_path: Path | None = None, user: str = "nobody nogroup",
                timeout: float = 10.0) -> NginxServer:
    """Start nginx under `workdir` (its prefix) with a placeholder certificate."""
    prefix = workdir.resolve()
    for sub in ("conf", "logs", "tmp", "ssl"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    webroot = webroot or prefix / "www"
    webroot.mkdir(parents=True, exist_ok=True)
    for folder in (prefix, webroot):
        os.chmod(folder, 0o755)
    cert_path = cert_path or prefix / "ssl" / "fullchain.pem"
    key_path = key_path or prefix / "ssl" / "key.pem"
    self_signed(cert_path, key_path)
    http_port, https_port = http_port or free_port(), https_port or free_port()
    conf = prefix / "conf" / "nginx.conf"
    conf.write_text(_conf(prefix, http_port, https_port, webroot, cert_path, key_path, user))
    log = open(prefix / "logs" / "stderr.log", "wb")  # noqa: SIM115 - handed to the process
    proc = subprocess.Popen(["nginx", "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    server = NginxServer(proc.pid, http_port, https_port, prefix, conf, webroot, cert_path,
                         key_path, proc)
    try:
        wait_for_port(http_port, timeout=timeout, proc=proc)
        wait_for_port(https_port, timeout=timeout, proc=proc)
        # ready when it answers HTTP and completes a TLS handshake
        wait_until(lambda: http_get(f"http://127.0.0.1:{http_port}/"), "nginx http", timeout,
                   proc)
        wait_until(server.served_certificate, "nginx https", timeout, proc)
    except Exception:
        server.stop()
        raise RuntimeError(f"nginx did not start:\n{server.error_log()}") from None
    return server


@pytest.fixture
def nginx() -> Iterator[NginxServer]:
    """A fresh nginx on free ports, in a world-traversable folder under /tmp."""
    workdir = Path(tempfile.mkdtemp(prefix="certplan-nginx-"))
    server = start_nginx(workdir)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
