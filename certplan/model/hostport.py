"""HOST:PORT as written in certplan.toml and specs: the one parser every layer uses.

Accepted forms:
- "HOST:PORT", e.g. "127.0.0.1:443" or "ns1.example.com:53";
- "[IPV6]:PORT", e.g. "[::1]:443" (an IPv6 address with a port is always in brackets);
- where the caller has a default port: "HOST", "[IPV6]", or a bare IPv6 address
  such as "2001:db8::1" (a bare IPv6 address never carries a port: its last
  group would be ambiguous);
- where the caller has a default host: ":PORT".

A port is a decimal number from 1 to 65535. Every error is a ValueError whose
message starts with the text as given, so pydantic reports it at the field.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple


class HostPort(NamedTuple):
    host: str  # a name, an IPv4 address, or an IPv6 address without brackets
    port: int


def parse_hostport(text: str, default_port: int | None = None, *,
                   default_host: str | None = None, form: str = "HOST:PORT",
                   example: str = "127.0.0.1:443") -> HostPort:
    """Split `text` into host and port (see the module docstring for the forms).

    `default_port` is None when the port is required; `form` and `example` name
    what is expected in the message for a missing port."""
    value = text.strip()
    if not value:
        raise ValueError("empty address")
    if value.startswith("["):
        host, port_text = _bracketed(text, value)
    elif value.count(":") > 1:
        host, port_text = _bare_ipv6(text, value, default_port)
    else:
        host, _, port_text = value.partition(":")
        if ":" in value and not port_text:
            raise ValueError(f"{text!r}: missing port after ':'")
    if not host:
        if default_host is None:
            raise ValueError(f"{text!r}: missing host")
        host = default_host
    if not port_text:
        if default_port is None:
            raise ValueError(f"{text!r}: expected {form}, e.g. \"{example}\"")
        return HostPort(host, default_port)
    return HostPort(host, _port(text, port_text))


def _bracketed(text: str, value: str) -> tuple[str, str]:
    end = value.find("]")
    if end < 0:
        raise ValueError(f"{text!r}: missing ']'")
    host, rest = value[1:end], value[end + 1:]
    if rest and not rest.startswith(":"):
        raise ValueError(f"{text!r}: expected ':PORT' after ']'")
    if rest == ":":
        raise ValueError(f"{text!r}: missing port after ':'")
    if host and not _is_ipv6(host):
        raise ValueError(f"{text!r}: brackets hold an IPv6 address, not {host!r}")
    return host, rest[1:]


def _bare_ipv6(text: str, value: str, default_port: int | None) -> tuple[str, str]:
    if not _is_ipv6(value):
        raise ValueError(f"{text!r}: not HOST:PORT (an IPv6 address with a port is "
                         f"written in brackets, e.g. \"[::1]:443\")")
    if default_port is None:
        raise ValueError(f"{text!r}: an IPv6 address with a port is written in brackets, "
                         f"e.g. \"[{value}]:443\"")
    return value, ""


def _port(text: str, port_text: str) -> int:
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r}: port must be a number from 1 to 65535")
    return int(port_text)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
