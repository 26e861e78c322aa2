"""dns-01 through a lexicon provider, end to end: `certplan apply` (its own process)
talks to the PowerDNS HTTP API (tests.lexicon.fakes on pytest-httpserver, reached
through dns-lexicon's own powerdns code); the fake hands every change to a real
BIND 9 by RFC 2136, as a real PowerDNS would serve it. certplan checks propagation
on BIND, Pebble validates through a resolver in front of it, and afterwards no
value is left, neither in the API's zone nor in BIND."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.name
import dns.query
import dns.tsigkeyring
import dns.update
import pytest
from pytest_httpserver import HTTPServer

from tests.integration.apply_project import CertplanProject
from tests.lexicon.fakes import FakePowerDNS
from tests.servers.bind import BindServer, Zone, port_free_on, query_txt, start_bind, start_resolver
from tests.servers.pebble import PebbleServer, start_pebble

pytestmark = pytest.mark.integration
KEY = "pdns-api-key-for-apply"
ZONES = [Zone("example.test", {"ns1.example.test": "127.0.0.1"},
              ("@ A 127.0.0.1", "* A 127.0.0.1"))]


@dataclass
class Stack:
    ns1: BindServer
    resolver: BindServer
    pebble: PebbleServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    port = port_free_on(["127.0.0.1"])
    ns1 = start_bind(tmp_path_factory.mktemp("ns1"), ZONES, ["127.0.0.1"], port)
    resolver = pebble = None
    try:
        resolver = start_resolver(tmp_path_factory.mktemp("resolver"), ns1)
        pebble = start_pebble(tmp_path_factory.mktemp("pebble"), dns_server=resolver.server,
                              authz_reuse=0)
        yield Stack(ns1, resolver, pebble)
    finally:
        for server in (pebble, resolver, ns1):
            if server is not None:
                server.stop()


def into_bind(ns1: BindServer) -> Callable[[str, list[str]], None]:
    """The fake API's backend: each TXT rrset it stores is sent to BIND (RFC 2136)."""
    keyring = dns.tsigkeyring.from_text({ns1.tsig_name: ns1.tsig_secret})

    def change(name: str, values: list[str]) -> None:
        update = dns.update.Update("example.test", keyring=keyring,
                                   keyalgorithm=dns.name.from_text(ns1.tsig_algorithm))
        update.delete(name, "TXT")
        for value in values:
            update.add(name, 60, "TXT", f'"{value}"')
        dns.query.tcp(update, "127.0.0.1", port=ns1.port, timeout=5)
    return change


def test_wildcard_through_lexicon_powerdns(tmp_path: Path, stack: Stack,
                                          httpserver: HTTPServer) -> None:
    fake = FakePowerDNS(httpserver, ["example.test"], KEY, on_change=into_bind(stack.ns1))
    project = CertplanProject(tmp_path / "ops", stack.pebble)
    project.root.mkdir()
    project.write_config(extra=(
        f'resolvers = ["{stack.ns1.server}"]\nauthoritative_port = {stack.ns1.port}\n\n'
        '[providers.pdns]\ntype = "lexicon"\nprovider = "powerdns"\n'
        'credentials = { auth_token = { env = "PDNS_TEST_KEY" } }\n'
        f'options = {{ pdns_server = "{httpserver.url_for("/")}" }}\n'))
    project.env["PDNS_TEST_KEY"] = KEY
    project.write_spec("lx.toml", '[[certificate]]\nname = "lx"\n'
                       'domains = ["lx.example.test", "*.lx.example.test"]\n'
                       '[certificate.challenge]\ntype = "dns-01"\nprovider = "pdns"\n')
    assert project.run("validate").returncode == 0
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Apply: 1 done, 0 failed." in res.stdout
    assert project.state("lx")["certificate"]["serial"]
    # both values were added beside each other at one name, then removed exactly
    patches = [r for r, _ in httpserver.log if r.method == "PATCH"]
    assert len(patches) == 4
    assert fake.txt("_acme-challenge.lx.example.test.") == []
    assert query_txt(stack.ns1, "_acme-challenge.lx.example.test.") == set()
    assert KEY not in res.stdout + res.stderr
