"""BIND 9 (`named`) as a real authoritative server with TSIG-signed updates.

`start_bind(workdir, zones=..., addresses=...)` writes named.conf and zone files
under workdir, starts `named -g` on one free port on every given loopback
address (UDP and TCP), waits until it answers, and returns a BindServer; call
.stop() when done. Two instances may share one port on 127.0.0.1 and ::1 to
play a zone's two nameservers (named listens only on addresses assigned to an
interface: 127.0.0.2 would need `ip addr add`, ::1 needs nothing).
"""

from __future__ import annotations

import base64
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers.ports import stop as stop_process
from tests.servers.ports import wait_for_line

NAMED = "/usr/sbin/named"
TSIG_NAME = "certplan-test"
TSIG_ALGORITHM = "hmac-sha256"


@dataclass(frozen=True)
class Zone:
    """A zone to serve. `nameservers`: NS name -> address (A records added when
    the name is inside this zone); `records`: extra zone-file lines."""

    name: str
    nameservers: dict[str, str]
    records: tuple[str, ...] = ()


@dataclass
class BindServer:
    workdir: Path
    port: int
    addresses: list[str]
    zones: list[Zone]
    tsig_name: str
    tsig_secret: str
    tsig_algorithm: str
    proc: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def server(self) -> str:
        """HOST:PORT of the first address (updates, and the resolver in tests)."""
        host = self.addresses[0]
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def stop(self) -> None:
        stop_process(self.proc)


def default_zones(address: str = "127.0.0.1") -> list[Zone]:
    """example.test and alias.test (for delegation), one nameserver each at `address`.

    `_acme-challenge.cname.example.test` is a CNAME into alias.test."""
    return [
        Zone("example.test", {"ns1.example.test": address}, (
            "@ A 127.0.0.1",
            "* A 127.0.0.1",
            "_acme-challenge.cname CNAME _acme-challenge.cname.example.test.alias.test.",
        )),
        Zone("alias.test", {"ns1.alias.test": address}),
    ]


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def port_free_on(addresses: Sequence[str]) -> int:
    """A port free for TCP and UDP on every address (IPv4 or IPv6)."""
    for _ in range(100):
        with socket.socket(_family(addresses[0]), socket.SOCK_STREAM) as s:
            s.bind((addresses[0], 0))
            port = int(s.getsockname()[1])
        try:
            for address in addresses:
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(_family(address), kind) as probe:
                        probe.bind((address, port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no port free on {', '.join(addresses)}")


def new_tsig_secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _zone_file(zone: Zone) -> str:
    lines = [
        "$TTL 60",
        f"@ IN SOA {sorted(zone.nameservers)[0]}. hostmaster.{zone.name}. 1 60 60 3600 60",
    ]
    for host, address in sorted(zone.nameservers.items()):
        lines.append(f"@ IN NS {host}.")
        if host == zone.name or host.endswith("." + zone.name):
            lines.append(f"{host}. IN {'AAAA' if ':' in address else 'A'} {address}")
    lines.extend(zone.records)
    return "\n".join(lines) + "\n"


def _named_conf(workdir: Path, port: int, addresses: Sequence[str], zones: Sequence[Zone],
                secret: str, zone_keys: Mapping[str, tuple[str, str]]) -> str:
    listen4 = " ".join(f"{a};" for a in addresses if ":" not in a) or "none;"
    listen6 = " ".join(f"{a};" for a in addresses if ":" in a) or "none;"
    parts = [
        f'key "{TSIG_NAME}" {{ algorithm {TSIG_ALGORITHM}; secret "{secret}"; }};',
        *(f'key "{name}" {{ algorithm {TSIG_ALGORITHM}; secret "{key_secret}"; }};'
          for name, (_, key_secret) in sorted(zone_keys.items())),
        "options {",
        f'  directory "{workdir}";',
        f'  pid-file "{workdir}/named.pid";',
        f'  session-keyfile "{workdir}/session.key";',
        f'  managed-keys-directory "{workdir}";',
        f"  listen-on port {port} {{ {listen4} }};",
        f"  listen-on-v6 port {port} {{ {listen6} }};",
        "  recursion no;",
        "  dnssec-validation no;",
        "  notify no;",
        "};",
        "controls { };",
    ]
    for zone in zones:
        parts += [
            f'zone "{zone.name}" {{',
            "  type primary;",
            f'  file "{workdir}/{zone.name}.zone";',
            f'  journal "{workdir}/{zone.name}.jnl";',
            "  update-policy {",
            f"    grant {TSIG_NAME} subdomain {zone.name}. TXT;",
            *(f"    grant {name} subdomain {zone.name}. TXT;"
              for name, (only, _) in sorted(zone_keys.items()) if only == zone.name),
            "  };",
            "};",
        ]
    return "\n".join(parts) + "\n"


def start_bind(workdir: Path, zones: Sequence[Zone] | None = None,
               addresses: Sequence[str] = ("127.0.0.1",), port: int | None = None,
               tsig_secret: str | None = None, timeout: float = 15.0,
               zone_keys: Mapping[str, str] | None = None) -> BindServer:
    """Start named authoritative for `zones` on `addresses` at `port` (free one if None).

    `zone_keys` maps extra TSIG key names to the one zone each may update (TXT only);
    their secrets are in `server.extra["zone_keys"][name]`."""
    workdir.mkdir(parents=True, exist_ok=True)
    zones = list(zones) if zones is not None else default_zones(addresses[0])
    port = port or port_free_on(addresses)
    secret = tsig_secret or new_tsig_secret()
    for zone in zones:
        (workdir / f"{zone.name}.zone").write_text(_zone_file(zone))
    conf = workdir / "named.conf"
    keys = {name: (zone, new_tsig_secret()) for name, zone in (zone_keys or {}).items()}
    conf.write_text(_named_conf(workdir, port, addresses, zones, secret, keys))
    log = workdir / "named.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([NAMED, "-g", "-c", str(conf)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=workdir)
    server = BindServer(workdir, port, list(addresses), zones, TSIG_NAME, secret,
                        TSIG_ALGORITHM, proc, log,
                        {"zone_keys": {name: key[1] for name, key in keys.items()}})
    try:
        wait_for_line(log, "running", timeout=timeout, proc=proc)
        for address in addresses:
            for zone in zones:  # every zone loaded, on every address
                _wait_answering(address, port, zone.name, time.monotonic() + timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _resolver_conf(workdir: Path, port: int, zones: Sequence[str], upstream: str,
                   upstream_port: int) -> str:
    parts = [
        "options {",
        f'  directory "{workdir}";',
        f'  pid-file "{workdir}/named.pid";',
        f'  session-keyfile "{workdir}/session.key";',
        f'  managed-keys-directory "{workdir}";',
        f"  listen-on port {port} {{ 127.0.0.1; }};",
        "  listen-on-v6 { none; };",
        "  recursion yes;",
        "  allow-recursion { 127.0.0.1; };",
        "  dnssec-validation no;",
        "  notify no;",
        "  max-cache-ttl 0;",      # every lookup reaches the authoritative server
        "  max-ncache-ttl 0;",
        "};",
        "controls { };",
    ]
    for zone in zones:
        parts.append(f'zone "{zone}" {{ type forward; forward only; '
                     f"forwarders {{ {upstream} port {upstream_port}; }}; }};")
    return "\n".join(parts) + "\n"


def start_resolver(workdir: Path, upstream: BindServer, timeout: float = 15.0) -> BindServer:
    """A recursive named on 127.0.0.1 (free port) that resolves `upstream`'s zones by
    asking it, caching nothing. An ACME CA asks a resolver like this, which follows a
    CNAME into another zone; an authoritative-only server does not chase it."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port_free_on(["127.0.0.1"])
    conf = workdir / "named.conf"
    conf.write_text(_resolver_conf(workdir, port, [z.name for z in upstream.zones],
                                   upstream.addresses[0], upstream.port))
    log = workdir / "named.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([NAMED, "-g", "-c", str(conf)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=workdir)
    server = BindServer(workdir, port, ["127.0.0.1"], list(upstream.zones), "", "", "",
                        proc, log)
    try:
        wait_for_line(log, "running", timeout=timeout, proc=proc)
        for zone in upstream.zones:
            _wait_answering("127.0.0.1", port, zone.name, time.monotonic() + timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_answering(address: str, port: int, zone: str, deadline: float) -> None:
    """Until `zone`'s SOA comes back as an answer (NOERROR with the record): a named
    that is up but has not loaded the zone yet answers SERVFAIL or REFUSED."""
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype

    last = "no answer"
    while True:
        try:
            response = dns.query.udp(dns.message.make_query(zone, "SOA"), address,
                                     timeout=0.2, port=port)
            if response.rcode() == dns.rcode.NOERROR and any(
                    rrset.rdtype == dns.rdatatype.SOA for rrset in response.answer):
                return
            last = dns.rcode.to_text(response.rcode())
        except (dns.exception.DNSException, OSError) as exc:
            last = repr(exc)
        if time.monotonic() > deadline:
            raise TimeoutError(f"named at {address}:{port} does not serve {zone}: {last}")
        time.sleep(0.02)


def query_txt(server: BindServer, name: str, address: str | None = None) -> set[str]:
    """The TXT values `name` has on this server right now (empty set when none)."""
    import dns.message
    import dns.query
    import dns.rdatatype

    response = dns.query.tcp(dns.message.make_query(name, "TXT"),
                             address or server.addresses[0], timeout=2, port=server.port)
    return {b"".join(rr.strings).decode() for rrset in response.answer
            if rrset.rdtype == dns.rdatatype.TXT for rr in rrset}


def _workdir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    # named refuses nothing about the path, but keep it short for readable logs
    return tmp_path_factory.mktemp(name)


@pytest.fixture(scope="module", name="bind_server")
def bind_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BindServer]:
    """One named for the module: example.test and alias.test on 127.0.0.1."""
    server = start_bind(_workdir(tmp_path_factory, "bind"))
    yield server
    server.stop()


@pytest.fixture(name="two_bind_servers")
def two_bind_servers_fixture(tmp_path: Path) -> Iterator[tuple[BindServer, BindServer]]:
    """example.test with NS ns1 (A 127.0.0.1) and ns2 (AAAA ::1): two separate named
    on one port; they do not transfer, so what is sent to one never reaches the other."""
    zone = Zone("example.test", {"ns1.example.test": "127.0.0.1",
                                 "ns2.example.test": "::1"})
    port = port_free_on(["127.0.0.1", "::1"])
    first = start_bind(tmp_path / "ns1", [zone], ["127.0.0.1"], port)
    try:
        second = start_bind(tmp_path / "ns2", [zone], ["::1"], port,
                            tsig_secret=first.tsig_secret)
    except BaseException:
        first.stop()
        raise
    yield first, second
    second.stop()
    first.stop()


# Fixtures: importing bind_server_fixture (and two_bind_servers_fixture) into a test
# module (or a conftest) provides `bind_server` / `two_bind_servers`.
__all__ = ["BindServer", "Zone", "bind_server_fixture", "default_zones", "new_tsig_secret",
           "port_free_on", "query_txt", "start_bind", "start_resolver", "two_bind_servers_fixture"]
