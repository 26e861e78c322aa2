"""dns-01 against a real BIND 9: rfc2136 updates with TSIG, names, propagation, cleanup."""

from __future__ import annotations

import time

import pytest

from certplan.model.challenge import Challenge
from certplan.model.dns import DnsSettings
from certplan.model.errors import ChallengeError, PropagationError, ProviderError
from certplan.providers import PROVIDERS
from certplan.providers.base import Provider
from certplan.validators.dns01 import names, propagation
from certplan.validators.dns01.validator import Dns01Validator
from tests.servers.bind import (  # noqa: F401  (fixtures)
    BindServer,
    bind_server_fixture,
    query_txt,
    two_bind_servers_fixture,
)

pytestmark = pytest.mark.integration


def rfc2136(server: BindServer, monkeypatch: pytest.MonkeyPatch, secret: str | None = None,
            **extra: object) -> Provider:
    monkeypatch.setenv("TEST_TSIG_SECRET", secret or server.tsig_secret)
    cls = PROVIDERS.get("rfc2136")
    config = cls.config_model.model_validate({
        "server": server.server, "tsig_name": server.tsig_name,
        "tsig_algorithm": server.tsig_algorithm, "tsig_secret": {"env": "TEST_TSIG_SECRET"},
        **extra,
    })
    return cls("bind", config)


def settings_for(server: BindServer, **extra: object) -> DnsSettings:
    return DnsSettings(resolvers=[server.server], authoritative_port=server.port, **extra)


def challenge(domain: str, token: str) -> Challenge:
    wildcard = domain.startswith("*.")
    return Challenge(identifier=domain.removeprefix("*."), wildcard=wildcard, type="dns-01",
                     token=token, key_authorization=f"{token}.thumbprint")


def test_rfc2136_adds_and_deletes_exact_values(bind_server: BindServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    provider = rfc2136(bind_server, monkeypatch)
    name = "_acme-challenge.add-delete.example.test"
    provider.add_txt(name, "first")
    provider.add_txt(name + ".", "second")      # trailing dot accepted
    assert query_txt(bind_server, name) == {"first", "second"}
    provider.delete_txt(name, "first")
    assert query_txt(bind_server, name) == {"second"}
    provider.delete_txt(name, "second")
    provider.delete_txt(name, "second")         # already gone: no error
    assert query_txt(bind_server, name) == set()


def test_wildcard_and_apex_share_one_name(bind_server: BindServer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    validator = Dns01Validator(rfc2136(bind_server, monkeypatch), settings_for(bind_server))
    apex, wild = challenge("wild.example.test", "tok-apex"), challenge("*.wild.example.test",
                                                                       "tok-wild")
    try:
        validator.present([apex, wild])
        name = "_acme-challenge.wild.example.test"
        assert query_txt(bind_server, name) == {apex.dns_value, wild.dns_value}
        validator.check([apex, wild], time.monotonic() + 5)
    finally:
        validator.cleanup([apex, wild])
    assert query_txt(bind_server, name) == set()


def test_cname_on_acme_challenge_is_followed(bind_server: BindServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # example.test has _acme-challenge.cname CNAME _acme-challenge.cname.example.test.alias.test.
    validator = Dns01Validator(rfc2136(bind_server, monkeypatch), settings_for(bind_server))
    target = "_acme-challenge.cname.example.test.alias.test"
    assert validator.record_for(challenge("cname.example.test", "t")) == target
    ch = challenge("cname.example.test", "tok-cname")
    try:
        validator.present([ch])
        assert query_txt(bind_server, target) == {ch.dns_value}
        validator.check([ch], time.monotonic() + 5)
    finally:
        validator.cleanup([ch])
    assert query_txt(bind_server, target) == set()


def test_explicit_alias_writes_into_the_alias_zone(bind_server: BindServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    validator = Dns01Validator(rfc2136(bind_server, monkeypatch), settings_for(bind_server),
                               alias="alias.test")
    first, second = challenge("a.example.test", "tok-a"), challenge("*.b.example.test", "tok-b")
    try:
        validator.present([first, second])
        assert query_txt(bind_server, "_acme-challenge.alias.test") == {first.dns_value,
                                                                        second.dns_value}
        assert query_txt(bind_server, "_acme-challenge.a.example.test") == set()
        validator.check([first, second], time.monotonic() + 5)
        validator.cleanup([first])
        assert query_txt(bind_server, "_acme-challenge.alias.test") == {second.dns_value}
    finally:
        validator.cleanup([first, second])
    assert query_txt(bind_server, "_acme-challenge.alias.test") == set()


def test_wrong_tsig_secret_is_a_clear_error_and_leaves_nothing(
        bind_server: BindServer, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    validator = Dns01Validator(rfc2136(bind_server, monkeypatch, secret=wrong),
                               settings_for(bind_server))
    ch = challenge("tsig.example.test", "tok-tsig")
    with pytest.raises(ProviderError) as info:
        try:
            validator.present([ch])
        finally:
            validator.cleanup([ch])     # never presented: must not raise
    message = str(info.value)
    assert message.startswith("bind (rfc2136): ")
    assert "rejected the TSIG signature" in message and "tsig_secret" in message
    assert wrong not in message and bind_server.tsig_secret not in message
    assert query_txt(bind_server, "_acme-challenge.tsig.example.test") == set()


def test_unknown_tsig_key_and_foreign_zone(bind_server: BindServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    provider = rfc2136(bind_server, monkeypatch, **{"tsig_name": "nobody"})
    with pytest.raises(ProviderError, match="does not know TSIG key 'nobody'"):
        provider.add_txt("_acme-challenge.example.test", "x")
    pinned = rfc2136(bind_server, monkeypatch, zone="elsewhere.test")
    with pytest.raises(ProviderError, match="NOTAUTH|REFUSED"):
        pinned.add_txt("_acme-challenge.www.elsewhere.test", "x")


def test_record_missing_on_second_nameserver_names_it(
        two_bind_servers: tuple[BindServer, BindServer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    ns1, ns2 = two_bind_servers
    validator = Dns01Validator(rfc2136(ns1, monkeypatch),
                               settings_for(ns1, propagation_timeout=0.6))
    ch = challenge("www.example.test", "tok-two")
    try:
        validator.present([ch])
        started = time.monotonic()
        with pytest.raises(ChallengeError) as info:
            validator.check([ch], time.monotonic() + 30)
        assert time.monotonic() - started < 2.0        # the provider timeout won
    finally:
        validator.cleanup([ch])
    failure = info.value.failures["www.example.test"]
    assert "ns2.example.test (::1): answered NXDOMAIN" in failure
    assert "ns1.example.test" not in failure
    assert isinstance(info.value.__cause__, PropagationError)


def test_propagation_passes_once_the_late_server_has_it(
        two_bind_servers: tuple[BindServer, BindServer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    ns1, ns2 = two_bind_servers
    name, value = "_acme-challenge.late.example.test", "late-value"
    first = rfc2136(ns1, monkeypatch)
    second_cls = PROVIDERS.get("rfc2136")
    second = second_cls("ns2", {"server": ns2.server, "tsig_name": ns2.tsig_name,
                                "tsig_secret": {"env": "TEST_TSIG_SECRET"}})
    first.add_txt(name, value)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:      # the second server gets it after two rounds
        sleeps.append(seconds)
        if len(sleeps) == 2:
            second.add_txt(name, value)
        time.sleep(seconds)

    resolver = names.make_resolver(settings_for(ns1))
    result = propagation.wait_for_txt({name: [value]}, resolver, ns1.port,
                                      time.monotonic() + 10, 0.2, sleep=sleep)
    assert result.rounds == 3
    assert sleeps == [0.05, 0.1]
    assert [str(ns) for ns in result.servers[name]] == ["ns1.example.test (127.0.0.1)",
                                                         "ns2.example.test (::1)"]
    first.delete_txt(name, value)
    second.delete_txt(name, value)


def test_unknown_zone_fails_fast(bind_server: BindServer) -> None:
    resolver = names.make_resolver(settings_for(bind_server))
    started = time.monotonic()
    with pytest.raises(PropagationError, match="cannot find the zone of _acme-challenge.nope"):
        propagation.wait_for_txt({"_acme-challenge.nope.invalid": ["x"]}, resolver,
                                 bind_server.port, time.monotonic() + 30, 0.2)
    assert time.monotonic() - started < 5
