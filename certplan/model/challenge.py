"""One ACME challenge to satisfy, independent of the acme library's types.

Shared by the ACME layer (`ca`, which reads them from the CA) and the
validators (which make them answerable)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Challenge:
    """One challenge to satisfy, independent of the acme library's types."""

    identifier: str          # the name as the CA's authorization states it (no "*.")
    wildcard: bool           # authorization for "*.identifier"
    type: str                # "http-01" or "dns-01"
    token: str               # base64url token from the CA
    key_authorization: str   # token + "." + account key thumbprint

    @property
    def domain(self) -> str:
        """The name as written in the spec ("*.example.com" for a wildcard)."""
        return f"*.{self.identifier}" if self.wildcard else self.identifier

    @property
    def dns_value(self) -> str:
        """The TXT value for dns-01: base64url(SHA-256(key authorization)), unpadded."""
        digest = hashlib.sha256(self.key_authorization.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
