"""What a TLS endpoint presented when `certplan check --probe` asked it (public facts)."""

from __future__ import annotations

from dataclasses import dataclass

from certplan.model.crypto import CertInfo


@dataclass(frozen=True)
class Probed:
    """One handshake with the endpoint an install target names (`verify`)."""

    address: str  # HOST:PORT as the spec writes it
    server_name: str  # the SNI name asked for
    chain: tuple[CertInfo, ...] = ()  # leaf first, as sent
    error: str | None = None  # why there is no chain (refused, timed out, no TLS, ...)
