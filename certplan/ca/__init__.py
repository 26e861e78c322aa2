"""ACME client layer (certbot's acme library underneath). Used by apply.

Names are loaded lazily: `certplan.ca.certs` (ari_cert_id, choose_chain) needs
only cryptography, so the planner may use it; the client classes pull in acme
and requests (~0.4 s) only when first touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certplan.ca.account import AcmeAccount, TermsNotAgreed, ca_refused
    from certplan.ca.certs import ari_cert_id, choose_chain
    from certplan.ca.client import AcmeClient, DirectoryMeta, ReplacesRejected
    from certplan.ca.network import jwk_and_alg
    from certplan.ca.orders import Order, PendingChallenge

_WHERE = {
    "AcmeAccount": "account", "TermsNotAgreed": "account", "ca_refused": "account",
    "ari_cert_id": "certs", "choose_chain": "certs",
    "AcmeClient": "client", "DirectoryMeta": "client", "ReplacesRejected": "client",
    "jwk_and_alg": "network",
    "Order": "orders", "PendingChallenge": "orders",
}

__all__ = [
    "AcmeAccount", "AcmeClient", "DirectoryMeta", "Order", "PendingChallenge",
    "ReplacesRejected", "TermsNotAgreed",
    "ari_cert_id", "ca_refused", "choose_chain", "jwk_and_alg",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'certplan.ca' has no attribute {name!r}")
    return getattr(importlib.import_module(f"certplan.ca.{_WHERE[name]}"), name)
