"""What an installer is handed, and what it reports about a target.

An installer (certplan.installers) takes Material and reports Installed; asked
again later it reports Observed. Both describe a target as a fingerprint plus
named parts (the files installer: path -> SHA-256), so that the planner can
compare them with the InstallRecord in state and name the part that drifted,
without knowing what a target is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

# the fingerprint of a target of which nothing is there
ABSENT = "absent"


def fingerprint_of(parts: Mapping[str, str | None]) -> str:
    """One short digest over named parts (None: missing); ABSENT when none is there."""
    if not any(parts.values()):
        return ABSENT
    data = "\n".join([f"{name}={value or '-'}" for name, value in sorted(parts.items())])
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def sni_name(domains: list[str]) -> str:
    """The name a verifying handshake asks for: the first name that is not a wildcard
    (apply's verify and the probe before planning ask the same)."""
    plain = [d for d in domains if not d.startswith("*.")]
    return plain[0] if plain else "certplan-verify." + domains[0][2:]


@dataclass(frozen=True)
class Material:
    """A certificate to install: PEM bytes, and the name a verifying handshake asks for."""

    key_pem: bytes
    leaf_pem: bytes
    chain_pem: bytes
    fullchain_pem: bytes
    server_name: str = "localhost"


@dataclass(frozen=True)
class Observed:
    """What is at a target now: a fingerprint, and each part's own (None: missing)."""

    fingerprint: str
    parts: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(cls, parts: Mapping[str, str | None]) -> Observed:
        """From parts alone (kept as given: pass a mapping of your own)."""
        return cls(fingerprint_of(parts), parts)

    @property
    def absent(self) -> bool:
        return self.fingerprint == ABSENT


@dataclass(frozen=True)
class Installed:
    """What an install left at a target, and what it did to get there."""

    fingerprint: str
    parts: Mapping[str, str]
    changed: bool  # something was written
    ran: tuple[str, ...] = ()  # commands run, in order

    @classmethod
    def of(cls, parts: Mapping[str, str], changed: bool,
           ran: tuple[str, ...] = ()) -> Installed:
        return cls(fingerprint_of(parts), dict(parts), changed, ran)

    def observed(self) -> Observed:
        """As observe() would report it right after this install."""
        return Observed(self.fingerprint, dict(self.parts))


@dataclass(frozen=True)
class Removal:
    """What `remove` did: the places deleted, and those kept with the reason why
    (a place is deleted only when the host proves certplan wrote what is there)."""

    removed: tuple[str, ...] = ()
    kept: tuple[tuple[str, str], ...] = ()  # (place, why)

    def notes(self) -> list[str]:
        return [f"deleted {p}" for p in self.removed] + [f"kept {p}: {why}"
                                                          for p, why in self.kept]
