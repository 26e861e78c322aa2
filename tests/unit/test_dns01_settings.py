"""The [dns] table and HOST:PORT parsing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from certplan.model.dns import DnsSettings, parse_hostport, parse_ip_port


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1", ("127.0.0.1", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("[::1]:5353", ("::1", 5353)),
    ("[::1]", ("::1", 53)),
    ("2001:db8::1", ("2001:db8::1", 53)),
    ("ns1.example.com:53", ("ns1.example.com", 53)),
])
def test_parse_hostport(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text) == expected


@pytest.mark.parametrize("text", ["", "1.2.3.4:0", "1.2.3.4:70000", "1.2.3.4:x", "[::1",
                                  ":53", "[::1]x"])
def test_parse_hostport_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hostport(text)


def test_resolvers_must_be_ip_addresses() -> None:
    with pytest.raises(ValueError, match="must be an IP address"):
        parse_ip_port("dns.google:53")


def test_defaults_and_validation() -> None:
    settings = DnsSettings()
    assert (settings.resolvers, settings.authoritative_port) == ([], 53)
    assert (settings.propagation_timeout, settings.propagation_interval) == (120, 0.2)
    custom = DnsSettings.model_validate({"resolvers": ["127.0.0.1:5300", "::1"],
                                         "authoritative_port": 5300})
    assert custom.resolver_addresses() == [("127.0.0.1", 5300), ("::1", 53)]
    for bad in ({"resolvers": ["resolver.example"]}, {"authoritative_port": 0},
                {"propagation_timeout": 0}, {"propagation_interval": -1}, {"typo": 1}):
        with pytest.raises(ValidationError):
            DnsSettings.model_validate(bad)
    with pytest.raises(ValidationError):
        custom.authoritative_port = 1  # type: ignore[misc]  # frozen
