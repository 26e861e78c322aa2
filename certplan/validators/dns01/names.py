"""Which TXT record a dns-01 challenge needs, written once for every provider.

- The record for `example.org` and for `*.example.org` is
  `_acme-challenge.example.org` (a wildcard and its apex share it, with two values).
- Delegation by CNAME: when `_acme-challenge.example.org` already is a CNAME
  (for example to `_acme-challenge.example.org.dnszone.example.net`), the chain
  is followed through the configured resolvers and the TXT is written at its end.
- Explicit alias (acme.sh's "challenge alias" mode): with `alias = "example.net"`
  the operator has set `_acme-challenge.example.org CNAME _acme-challenge.example.net`
  once, and certplan writes the TXT at `_acme-challenge.example.net` without
  looking the CNAME up. The DNS credentials then only need to reach example.net.

Names are handled lower-case, without the trailing dot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from certplan.model.dns import DnsSettings
from certplan.model.errors import PropagationError

if TYPE_CHECKING:
    import dns.resolver

PREFIX = "_acme-challenge."
MAX_CNAME_HOPS = 8


def normalize(name: str) -> str:
    """Lower-case, no trailing dot, no wildcard label."""
    value = name.strip().lower().rstrip(".")
    return value[2:] if value.startswith("*.") else value


def record_name(domain: str) -> str:
    """`_acme-challenge.<domain>`; `*.x` uses the base name x."""
    return PREFIX + normalize(domain)


def alias_record_name(alias: str) -> str:
    """The TXT name under an explicit challenge alias: `_acme-challenge.<alias>`."""
    base = normalize(alias)
    return base if base.startswith(PREFIX) else PREFIX + base


def make_resolver(settings: DnsSettings) -> dns.resolver.Resolver:
    """A stub resolver on the configured resolvers, or on the system's when none are set."""
    import dns.nameserver
    import dns.resolver

    addresses = settings.resolver_addresses()
    if not addresses:
        return dns.resolver.Resolver()
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port) for ip, port in addresses]
    return resolver


def describe_resolver(resolver: dns.resolver.Resolver) -> str:
    """Resolver addresses for error messages ("127.0.0.1:5353, ...")."""
    parts = []
    for ns in resolver.nameservers:
        address = getattr(ns, "address", None)
        port = getattr(ns, "port", 53)
        parts.append(f"{address}:{port}" if address else str(ns))
    return ", ".join(parts) or "system resolvers"


def follow_cnames(name: str, resolver: dns.resolver.Resolver, lifetime: float = 5.0) -> str:
    """The end of the CNAME chain starting at `name` (`name` itself if it has none)."""
    import dns.exception
    import dns.resolver

    current = normalize(name)
    seen = [current]
    for _ in range(MAX_CNAME_HOPS):
        try:
            answer = resolver.resolve(current, "CNAME", lifetime=lifetime,
                                      raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return current
        except dns.exception.DNSException as exc:
            raise PropagationError(
                f"cannot look up the CNAME of {current} via {describe_resolver(resolver)}: "
                f"{exc.__class__.__name__}: {exc}"
            ) from None
        if answer.rrset is None:
            return current
        target = normalize(answer.rrset[0].target.to_text())
        if target in seen:
            raise PropagationError(f"CNAME loop: {' -> '.join([*seen, target])}")
        seen.append(target)
        current = target
    raise PropagationError(f"CNAME chain longer than {MAX_CNAME_HOPS}: {' -> '.join(seen)}")


def effective_name(domain: str, alias: str | None, resolver: dns.resolver.Resolver) -> str:
    """Where the TXT for `domain` must be written: the alias, or the end of the CNAME chain."""
    if alias:
        return alias_record_name(alias)
    return follow_cnames(record_name(domain), resolver)
