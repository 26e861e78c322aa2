"""Free loopback ports and waiting for servers; shared by the server fixtures.

A server is ready when it answers a real query of its own protocol (an HTTP
request, a TLS handshake, a DNS query), not when its port accepts a connection:
`wait_until` retries such a probe until it succeeds or the server exits."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (DNS servers need both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        try:
            with socket.socket(socket.AF_INET, other) as s2:
                s2.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free loopback port")


def wait_for_port(port: int, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def wait_until(probe: Callable[[], object], what: str, timeout: float = 15.0,
               proc: subprocess.Popen | None = None) -> None:
    """Call `probe` until it returns without raising; RuntimeError with its last error."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: server exited early with code {proc.returncode}")
        try:
            probe()
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not answering after {timeout}s: {exc!r}") from None
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def http_get(url: str, cafile: str | None = None, timeout: float = 2.0) -> tuple[int, bytes]:
    """One GET; an HTTP error status is an answer too (the server is up)."""
    ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def dns_answers(port: int, name: str, address: str = "127.0.0.1") -> list[str]:
    """A records of `name` from the DNS server at address:port (UDP, no recursion)."""
    import dns.message
    import dns.query
    import dns.rdatatype

    response = dns.query.udp(dns.message.make_query(name, "A"), address, port=port, timeout=1)
    return [rr.to_text() for rrset in response.answer if rrset.rdtype == dns.rdatatype.A
            for rr in rrset]


def wait_for_dns(port: int, name: str, expect: str, timeout: float = 15.0,
                 proc: subprocess.Popen | None = None) -> None:
    """Until the DNS server at 127.0.0.1:port answers A `expect` for `name`."""
    def probe() -> None:
        if expect not in (got := dns_answers(port, name)):
            raise RuntimeError(f"answered {got}")
    wait_until(probe, f"DNS on 127.0.0.1:{port}", timeout, proc)


def wait_for_line(logfile: Path, needle: str, timeout: float = 15.0,
                  proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if logfile.exists() and needle in logfile.read_text(errors="replace"):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early; log:\n{logfile.read_text(errors='replace')}")
        time.sleep(0.02)
    raise RuntimeError(f"{needle!r} not seen in {logfile} after {timeout}s")


def stop(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """Stop a server by PID: SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
