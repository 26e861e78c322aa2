"""The `[dns]` table of certplan.toml: resolvers, the authoritative port, propagation timing."""

from __future__ import annotations

from pydantic import Field, field_validator

from certplan.model.base import InputModel
from certplan.model.hostport import HostPort, is_ip_address, parse_hostport


def parse_ip_port(text: str, default_port: int = 53) -> HostPort:
    """A resolver's address: "IP", "IP:PORT", "[IPV6]:PORT" or a bare IPv6 address."""
    host, port = parse_hostport(text, default_port)
    if not is_ip_address(host):
        raise ValueError(f"{text!r}: a resolver must be an IP address, not {host!r}")
    return HostPort(host, port)


class DnsSettings(InputModel):
    """How dns-01 looks records up and how long it waits for them.

    resolvers: "HOST" or "HOST:PORT" (IP addresses); empty means the system's
    resolvers. They are used to follow CNAMEs and to find the zone, its
    nameservers and their addresses; the TXT record itself is always asked of
    every authoritative nameserver directly, at `authoritative_port`.
    """

    resolvers: list[str] = Field(default_factory=list)
    authoritative_port: int = Field(default=53, ge=1, le=65535)
    propagation_timeout: float = Field(default=30.0, gt=0, le=3600)
    propagation_interval: float = Field(default=0.2, gt=0, le=60)

    @field_validator("resolvers")
    @classmethod
    def _valid_resolvers(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_ip_port(item)
        return value

    def resolver_addresses(self) -> list[HostPort]:
        """The configured resolvers as (ip, port); empty for the system's."""
        return [parse_ip_port(item) for item in self.resolvers]
