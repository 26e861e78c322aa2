"""What a validator is handed, and what it must do.

apply groups the challenges of one order by the challenge spec that covers
each name, builds one validator per group, and then, for every group:
present() all, check() all, answers the CA, waits, and cleanup() in finally.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Protocol


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


class Validator(Protocol):
    """Proves control of names. Every method takes all challenges of its group."""

    challenge_type: str  # the ACME challenge type it answers: "http-01" or "dns-01"

    def present(self, challenges: list[Challenge]) -> None:
        """Make every challenge answerable (write token files, add TXT records)."""

    def check(self, challenges: list[Challenge], deadline: float) -> None:
        """Verify, before the CA is told, that each challenge is visible.

        `deadline` is a time.monotonic() value. Raise ChallengeError naming each
        name that is not ready, and why."""

    def cleanup(self, challenges: list[Challenge]) -> None:
        """Undo present(): remove exactly what present() added. Must not raise
        for a challenge that was never presented."""
