"""After a reload: prove with a TLS handshake that the server presents the new
certificate. A reload is asynchronous (nginx swaps its workers), and a server
can accept a reload yet keep serving the old files; only a handshake tells."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from certplan.model.errors import InstallError
from certplan.model.hostport import parse_hostport


@contextmanager
def handshake(host: str, port: int, server_name: str, timeout: float) -> Iterator[ssl.SSLSocket]:
    """A fresh TLS handshake asking for `server_name`, nothing verified: the callers
    compare what is presented with what certplan installed or recorded."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            yield tls


def served_leaf(host: str, port: int, server_name: str, timeout: float) -> bytes:
    """DER of the leaf certificate presented to a fresh handshake (not verified:
    we compare it byte for byte with what we installed)."""
    with handshake(host, port, server_name, timeout) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise OSError("the server presented no certificate")
    return der


def presented_chain(tls: ssl.SSLSocket) -> list[bytes]:
    """DER of every certificate the server sent, leaf first, as sent (unverified).
    Public as SSLSocket.get_unverified_chain from Python 3.13; 3.10 to 3.12 have the
    same method on the socket's internal SSL object."""
    public = getattr(tls, "get_unverified_chain", None)
    if public is not None:
        return [bytes(der) for der in public() or []]
    import _ssl

    internal = getattr(tls, "_sslobj", None)
    certs = internal.get_unverified_chain() if internal is not None else None
    return [cert.public_bytes(_ssl.ENCODING_DER) for cert in certs or []]


def wait_served(address: str, name: str, leaf_der: bytes, deadline: float,
                clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], None] = time.sleep) -> None:
    """Poll handshakes to `address` (HOST:PORT, SNI `name`) until the new leaf is
    served, or InstallError."""
    host, port = parse_hostport(address)
    interval, last = 0.02, "nothing answered"
    while True:
        try:
            if served_leaf(host, port, name, max(0.2, min(5.0, deadline - clock()))) \
                    == leaf_der:
                return
            last = "it still presents another certificate"
        except (OSError, ssl.SSLError) as exc:
            last = f"handshake failed: {exc}"
        if clock() + interval > deadline:
            raise InstallError(f"verify {address} (SNI {name}): the new certificate is "
                               f"not served after the reload; {last}")
        sleep(interval)
        interval = min(interval * 1.5, 0.5)
