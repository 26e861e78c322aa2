"""The [dns] table: resolvers (parsed by certplan.model.hostport, see test_hostport)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from certplan.model.dns import DnsSettings, parse_ip_port


def test_resolvers_must_be_ip_addresses() -> None:
    with pytest.raises(ValueError, match="must be an IP address"):
        parse_ip_port("dns.google:53")
    assert parse_ip_port("[::1]:5353") == ("::1", 5353)
    assert parse_ip_port("2001:db8::1") == ("2001:db8::1", 53)


def test_defaults_and_validation() -> None:
    settings = DnsSettings()
    assert (settings.resolvers, settings.authoritative_port) == ([], 53)
    assert (settings.propagation_timeout, settings.propagation_interval) == (30, 0.2)
    custom = DnsSettings.model_validate({"resolvers": ["127.0.0.1:5300", "::1"],
                                         "authoritative_port": 5300})
    assert custom.resolver_addresses() == [("127.0.0.1", 5300), ("::1", 53)]
    for bad in ({"resolvers": ["resolver.example"]}, {"authoritative_port": 0},
                {"propagation_timeout": 0}, {"propagation_interval": -1}, {"typo": 1}):
        with pytest.raises(ValidationError):
            DnsSettings.model_validate(bad)
    with pytest.raises(ValidationError):
        custom.authoritative_port = 1  # type: ignore[misc]  # frozen
