"""ACME client layer (certbot's acme library underneath). Imported by apply only.

`import certplan.ca` pulls in acme and requests (~0.4 s): keep it out of
modules the CLI imports at startup.
"""

from certplan.ca.certs import ari_cert_id, choose_chain, split_pem_chain
from certplan.ca.client import AcmeClient, DirectoryMeta, ReplacesRejected
from certplan.ca.network import jwk_and_alg
from certplan.ca.orders import AriInfo, Order, PendingChallenge

__all__ = [
    "AcmeClient", "AriInfo", "DirectoryMeta", "Order", "PendingChallenge", "ReplacesRejected",
    "ari_cert_id", "choose_chain", "jwk_and_alg", "split_pem_chain",
]
