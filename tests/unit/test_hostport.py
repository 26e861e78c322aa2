"""The one HOST:PORT parser (certplan.model.hostport) and the fields that use it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from certplan.installers.files import FilesTarget as InstallTarget
from certplan.model.hostport import HostPort, parse_hostport
from certplan.model.spec import ChallengeRule


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:443", ("127.0.0.1", 443)),
    ("localhost:8443", ("localhost", 8443)),
    (" ns1.example.com:53 ", ("ns1.example.com", 53)),
    ("[::1]:443", ("::1", 443)),
    ("[2001:db8::1]:65535", ("2001:db8::1", 65535)),
    ("1.2.3.4:1", ("1.2.3.4", 1)),
])
def test_host_and_port(text: str, expected: tuple[str, int]) -> None:
    parsed = parse_hostport(text)
    assert parsed == expected
    assert isinstance(parsed, HostPort) and parsed.host == expected[0]


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1", ("127.0.0.1", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("[::1]:5353", ("::1", 5353)),
    ("[::1]", ("::1", 53)),
    ("2001:db8::1", ("2001:db8::1", 53)),  # a bare IPv6 address: the default port
    ("ns1.example.com:53", ("ns1.example.com", 53)),
    ("ns1.example.com", ("ns1.example.com", 53)),
])
def test_default_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text, 53) == expected


def test_default_host() -> None:
    assert parse_hostport(":80", default_host="0.0.0.0") == ("0.0.0.0", 80)
    with pytest.raises(ValueError, match=r"^':80': missing host$"):
        parse_hostport(":80")


@pytest.mark.parametrize(("text", "message"), [
    ("1.2.3.4:0", "'1.2.3.4:0': port must be a number from 1 to 65535"),
    ("1.2.3.4:65536", "'1.2.3.4:65536': port must be a number from 1 to 65535"),
    ("1.2.3.4:x", "'1.2.3.4:x': port must be a number from 1 to 65535"),
    ("1.2.3.4:-1", "'1.2.3.4:-1': port must be a number from 1 to 65535"),
    ("1.2.3.4:\u00b2", "'1.2.3.4:\u00b2': port must be"),  # superscript two: not a digit
    ("[::1]:0", "'[::1]:0': port must be a number from 1 to 65535"),
    ("", "empty address"),
    ("1.2.3.4:", "'1.2.3.4:': missing port after ':'"),
    ("[::1]:", "'[::1]:': missing port after ':'"),
    ("[::1", "'[::1': missing ']'"),
    ("[::1]x", "'[::1]x': expected ':PORT' after ']'"),
    ("[example.com]:443", "'[example.com]:443': brackets hold an IPv6 address"),
    ("a:b:c", "'a:b:c': not HOST:PORT"),
])
def test_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_hostport(text, 53)
    assert str(caught.value).startswith(message)


def test_missing_port_where_required_names_the_form() -> None:
    with pytest.raises(ValueError, match=r"^'localhost': expected HOST:PORT, "
                                         r"e\.g\. \"127\.0\.0\.1:443\"$"):
        parse_hostport("localhost")
    with pytest.raises(ValueError, match=r"^'0\.0\.0\.0': expected ADDR:PORT, "
                                         r"e\.g\. \"0\.0\.0\.0:80\"$"):
        parse_hostport("0.0.0.0", form="ADDR:PORT", example="0.0.0.0:80")


def test_a_bare_ipv6_address_never_carries_a_port() -> None:
    """"2001:db8::1:443" is itself a valid address: where a port is required, the
    brackets are asked for rather than guessing which group is the port."""
    with pytest.raises(ValueError, match=r"in brackets, e\.g\. \"\[2001:db8::1:443\]:443\""):
        parse_hostport("2001:db8::1:443")
    assert parse_hostport("2001:db8::1:443", 53) == ("2001:db8::1:443", 53)


# -- the fields that use it -------------------------------------------------------------


def test_standalone_listen() -> None:
    def rule(listen: str | None) -> ChallengeRule:
        return ChallengeRule(type="http-01", standalone=True, listen=listen)

    assert rule(None).listen_address == ("0.0.0.0", 80)
    assert rule("127.0.0.1:8080").listen_address == ("127.0.0.1", 8080)
    assert rule("[::]:8080").listen_address == ("::", 8080)
    assert rule(":8080").listen_address == ("0.0.0.0", 8080)
    for bad, message in (("0.0.0.0", "listen '0.0.0.0': expected ADDR:PORT"),
                         ("0.0.0.0:0", "listen '0.0.0.0:0': port must be"),
                         ("::1:80", "listen '::1:80': an IPv6 address with a port")):
        with pytest.raises(ValidationError, match=message):
            rule(bad)


def test_install_verify() -> None:
    assert InstallTarget(cert_file="/c", verify="[::1]:443").verify == "[::1]:443"
    for bad, message in (("localhost", "'localhost': expected HOST:PORT"),
                         ("localhost:70000", "port must be a number from 1 to 65535"),
                         (":443", "missing host")):
        with pytest.raises(ValidationError, match=message):
            InstallTarget(cert_file="/c", verify=bad)
