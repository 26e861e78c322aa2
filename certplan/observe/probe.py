"""Ask a TLS endpoint what it serves (`certplan check --probe`): the whole chain as sent.

The handshake is installers/verify.py's, the one apply's verify uses; here the
chain is kept and read, not compared byte for byte. Nothing is verified on the
wire: the caller compares what was presented with what state records.
"""

from __future__ import annotations

import ssl

from cryptography import x509

from certplan.installers.verify import handshake, presented_chain
from certplan.model.crypto import cert_info_from
from certplan.model.hostport import parse_hostport
from certplan.model.probed import Probed


def probe(address: str, server_name: str, timeout: float = 5.0) -> Probed:
    """One handshake to `address` (HOST:PORT) asking for `server_name`."""
    try:
        host, port = parse_hostport(address)
        with handshake(host, port, server_name, timeout) as tls:
            ders = presented_chain(tls)
    except (OSError, ssl.SSLError, ValueError) as exc:
        return Probed(address, server_name, error=f"handshake failed: {exc}")
    if not ders:
        return Probed(address, server_name, error="the server presented no certificate")
    try:
        chain = tuple(cert_info_from(x509.load_der_x509_certificate(d)) for d in ders)
    except ValueError as exc:
        return Probed(address, server_name, error=f"the server sent an unreadable "
                                                  f"certificate: {exc}")
    return Probed(address, server_name, chain=chain)
