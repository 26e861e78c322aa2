"""Wait until every authoritative nameserver answers the TXT values.

For each record name: find its zone by SOA through the configured resolvers,
the zone's NS set, and every address of every nameserver; then ask each
address directly (at `authoritative_port`) until all of them return every
wanted value. All records of an order are checked in one loop. Polling starts
after a short first interval and backs off to `interval`; the deadline is a
time.monotonic() value; clock and sleep are parameters so tests need no fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from certplan.model.errors import PropagationError
from certplan.validators.dns01.names import describe_resolver, normalize

if TYPE_CHECKING:
    import dns.resolver

FIRST_DELAY = 0.05      # seconds before the second round; doubles up to `interval`
QUERY_TIMEOUT = 2.0     # cap for one query to one nameserver


@dataclass(frozen=True, order=True)
class Nameserver:
    name: str
    address: str

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"


@dataclass
class PropagationResult:
    rounds: int
    elapsed: float
    servers: dict[str, list[Nameserver]] = field(default_factory=dict)


class PropagationTimeout(PropagationError):
    """Some nameservers still lacked a value at the deadline.

    `pending` maps each record name to lines "ns (address): what it answered"."""

    def __init__(self, pending: dict[str, list[str]], waited: float):
        self.pending = pending
        lines = [f"  {name} on {line}" for name, items in sorted(pending.items())
                 for line in items]
        super().__init__(
            f"TXT records not on every authoritative nameserver after {waited:.1f}s:\n"
            + "\n".join(lines)
        )


def find_zone(name: str, resolver: dns.resolver.Resolver, lifetime: float) -> str:
    """The zone that holds `name`, found by SOA walking up from the name."""
    import dns.exception
    import dns.resolver

    try:
        zone = dns.resolver.zone_for_name(name, resolver=resolver, lifetime=lifetime)
    except dns.exception.DNSException as exc:
        raise PropagationError(
            f"cannot find the zone of {name} via {describe_resolver(resolver)}: "
            f"{exc.__class__.__name__}: {exc}"
        ) from None
    return normalize(zone.to_text())


def _addresses(host: str, resolver: dns.resolver.Resolver, lifetime: float) -> list[str]:
    import dns.exception

    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = resolver.resolve(host, rdtype, lifetime=lifetime, raise_on_no_answer=False)
        except dns.exception.DNSException:
            continue
        if answer.rrset is not None:
            found.extend(sorted(rr.address for rr in answer.rrset))
        if found:
            break
    return found


def zone_nameservers(zone: str, resolver: dns.resolver.Resolver,
                     lifetime: float) -> list[Nameserver]:
    """Every (nameserver, address) of the zone; IPv4 addresses, IPv6 when there is no A."""
    import dns.exception

    from certplan.model.trace import trace

    trace(f"DNS NS {zone} via {describe_resolver(resolver)}")
    try:
        answer = resolver.resolve(zone, "NS", lifetime=lifetime)
    except dns.exception.DNSException as exc:
        raise PropagationError(
            f"cannot get the NS records of zone {zone} via {describe_resolver(resolver)}: "
            f"{exc.__class__.__name__}: {exc}"
        ) from None
    servers: list[Nameserver] = []
    for host in sorted(normalize(rr.target.to_text()) for rr in answer):
        addresses = _addresses(host, resolver, lifetime)
        if not addresses:
            raise PropagationError(
                f"nameserver {host} of zone {zone} has no address "
                f"(via {describe_resolver(resolver)})"
            )
        servers.extend(Nameserver(host, address) for address in addresses)
    return servers


def query_txt(address: str, port: int, name: str, timeout: float) -> tuple[set[str] | None, str]:
    """Ask one server directly. Returns (values or None, what it answered, for messages)."""
    from certplan.model.trace import trace

    values, said = _query_txt(address, port, name, timeout)
    # the values themselves stay out of the trace (`apply -v`): a count says enough
    answer = said if values is None else f"{len(values)} TXT value(s)"
    trace(f"DNS TXT {name} @{address}:{port}: {answer}")
    return values, said


def _query_txt(address: str, port: int, name: str, timeout: float
               ) -> tuple[set[str] | None, str]:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype

    query = dns.message.make_query(name, "TXT")
    query.flags &= ~dns.flags.RD
    try:
        response, _ = dns.query.udp_with_fallback(query, address, timeout=timeout, port=port)
    except dns.exception.Timeout:
        return None, f"no answer within {timeout:.1f}s"
    except (OSError, dns.exception.DNSException) as exc:
        return None, f"query failed: {exc.__class__.__name__}: {exc}"
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        return None, f"answered {dns.rcode.to_text(rcode)}"
    values: set[str] = set()
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.TXT:
            values.update(b"".join(rr.strings).decode("utf-8", "replace") for rr in rrset)
    if not values:
        return values, "answered no TXT record"
    return values, "answered " + ", ".join(repr(v) for v in sorted(values))


def discover(names: Iterable[str], resolver: dns.resolver.Resolver,
             lifetime: float) -> dict[str, list[Nameserver]]:
    """Record name -> the authoritative nameservers to ask (zones looked up once each)."""
    by_zone: dict[str, list[Nameserver]] = {}
    result: dict[str, list[Nameserver]] = {}
    for name in names:
        zone = find_zone(name, resolver, lifetime)
        if zone not in by_zone:
            by_zone[zone] = zone_nameservers(zone, resolver, lifetime)
        result[name] = by_zone[zone]
    return result


def wait_for_txt(
    records: Mapping[str, Iterable[str]],
    resolver: dns.resolver.Resolver,
    port: int,
    deadline: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PropagationResult:
    """Return once every authoritative nameserver of every record answers all its values.

    Raises PropagationError when the zone or nameservers cannot be found, and
    PropagationTimeout (naming each server still lacking a value) at the deadline."""
    start = clock()
    wanted = {normalize(name): set(values) for name, values in records.items()}
    servers = discover(wanted, resolver, max(0.5, min(10.0, deadline - start)))
    pending = {(name, ns): "not asked yet" for name in wanted for ns in servers[name]}
    delay = min(FIRST_DELAY, interval)
    rounds = 0
    while True:
        rounds += 1
        for name, ns in sorted(pending):
            timeout = max(0.05, min(QUERY_TIMEOUT, deadline - clock()))
            values, said = query_txt(ns.address, port, name, timeout)
            if values is not None and wanted[name] <= values:
                del pending[(name, ns)]
            else:
                pending[(name, ns)] = said
        now = clock()
        if not pending:
            return PropagationResult(rounds=rounds, elapsed=now - start, servers=servers)
        if now >= deadline:
            raise _timeout(pending, wanted, now - start)
        sleep(min(delay, deadline - now))
        delay = min(delay * 2, interval)


def _timeout(pending: dict[tuple[str, Nameserver], str], wanted: dict[str, set[str]],
             waited: float) -> PropagationTimeout:
    report: dict[str, list[str]] = {}
    for (name, ns), said in sorted(pending.items()):
        count = len(wanted[name])
        want = "the value" if count == 1 else f"all {count} values"
        report.setdefault(name, []).append(f"{ns}: {said} (wanted {want})")
    return PropagationTimeout(report, waited)
