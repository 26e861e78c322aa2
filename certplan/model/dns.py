"""The `[dns]` table of certplan.toml, and HOST[:PORT] parsing. pydantic only."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator


def parse_hostport(text: str, default_port: int = 53) -> tuple[str, int]:
    """Split "HOST", "HOST:PORT", "[V6]:PORT" or a bare IPv6 address.

    Raises ValueError with a message naming the text."""
    value = text.strip()
    if not value:
        raise ValueError("empty address")
    host, port_text = value, ""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ValueError(f"{text!r}: missing ']'")
        host, rest = value[1:end], value[end + 1:]
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r}: expected ':PORT' after ']'")
        port_text = rest[1:]
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    if not host:
        raise ValueError(f"{text!r}: missing host")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{text!r}: port must be a number from 1 to 65535")
        port = int(port_text)
    return host, port


def parse_ip_port(text: str, default_port: int = 53) -> tuple[str, int]:
    """Like parse_hostport, but the host must be an IP address (a resolver)."""
    host, port = parse_hostport(text, default_port)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r}: a resolver must be an IP address, not {host!r}") from None
    return host, port


class DnsSettings(BaseModel):
    """How dns-01 looks records up and how long it waits for them.

    resolvers: "HOST" or "HOST:PORT" (IP addresses); empty means the system's
    resolvers. They are used to follow CNAMEs and to find the zone, its
    nameservers and their addresses; the TXT record itself is always asked of
    every authoritative nameserver directly, at `authoritative_port`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    resolvers: list[str] = Field(default_factory=list)
    authoritative_port: int = Field(default=53, ge=1, le=65535)
    propagation_timeout: float = Field(default=120.0, gt=0, le=3600)
    propagation_interval: float = Field(default=0.2, gt=0, le=60)

    @field_validator("resolvers")
    @classmethod
    def _valid_resolvers(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_ip_port(item)
        return value

    def resolver_addresses(self) -> list[tuple[str, int]]:
        """The configured resolvers as (ip, port); empty for the system's."""
        return [parse_ip_port(item) for item in self.resolvers]
