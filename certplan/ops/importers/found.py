"""What a reader found in another ACME client's folder, in certplan's terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FoundAccount:
    """An ACME account: its CA directory, key (PEM, kept 0600) and URL if known."""

    directory: str
    key_pem: bytes
    account_url: str | None
    source: str  # where the key was read, for messages


@dataclass
class FoundCert:
    """One certificate: what its spec says, and the files to adopt."""

    name: str
    source: str
    domains: list[str]
    directory: str
    key_pem: bytes
    fullchain_pem: bytes
    challenge: dict[str, Any]
    install: list[dict[str, Any]] = field(default_factory=list)
    renew_before_days: int | None = None
    preferred_chain: str | None = None


@dataclass
class Found:
    """Everything a reader found. `env` maps an environment variable to set before
    `apply` to where the other client kept that credential (never its value);
    `todo` lists what could not be carried over, each with what to do."""

    tool: str
    certs: list[FoundCert] = field(default_factory=list)
    accounts: list[FoundAccount] = field(default_factory=list)
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    todo: list[str] = field(default_factory=list)
