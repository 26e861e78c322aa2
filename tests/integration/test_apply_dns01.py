"""dns-01 through `certplan apply`, end to end: real BIND 9 (TSIG-signed RFC 2136
updates, authoritative only), real Pebble resolving through that BIND and validating
for real (default nonce rejection), the CLI as its own process on a project on disk.

ns1 (127.0.0.1) serves example.test, alias.test and split.test; ns2 (::1, same port)
serves split.test only and never receives an update, so a record sent for split.test
never appears there. Pebble asks a recursive named in front of ns1 (a CA asks a
resolver, which follows a CNAME into another zone; ns1 alone would not chase it);
certplan's [dns] resolvers is ns1 itself. They are kept apart as they are in real
life: a resolver shared with the CA would cache the NXDOMAIN of certplan's CNAME
lookup, made before the TXT exists.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from tests.integration.apply_project import CertplanProject
from tests.servers.bind import BindServer, Zone, port_free_on, query_txt, start_bind, start_resolver
from tests.servers.pebble import PebbleServer, start_pebble

pytestmark = pytest.mark.integration

ALIAS_KEY = "alias-only"     # a TSIG key BIND lets update alias.test and nothing else
WRONG_SECRET = "c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1yaWdodC1vbmU="

ZONES = [
    Zone("example.test", {"ns1.example.test": "127.0.0.1"}, (
        "@ A 127.0.0.1",
        "* A 127.0.0.1",
        # its own A: once _acme-challenge.mixed exists, `mixed` is an empty non-terminal
        # and the wildcard no longer answers for it (RFC 4592)
        "mixed A 127.0.0.1",
        # delegation by an existing CNAME, followed by certplan
        "_acme-challenge.cname CNAME _acme-challenge.cname.example.test.alias.test.",
        # delegation for acme.sh-style `alias = "alias.test"`
        "_acme-challenge.aliased CNAME _acme-challenge.alias.test.",
    )),
    Zone("alias.test", {"ns1.alias.test": "127.0.0.1"}),
    Zone("split.test", {"ns1.split.test": "127.0.0.1", "ns2.split.test": "::1"},
         ("@ A 127.0.0.1", "* A 127.0.0.1")),
]


@dataclass
class Dns:
    ns1: BindServer
    ns2: BindServer
    resolver: BindServer     # recursive, in front of ns1: Pebble's own, as a CA has
    pebble: PebbleServer


@pytest.fixture(scope="module")
def dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dns]:
    port = port_free_on(["127.0.0.1", "::1"])
    ns1 = start_bind(tmp_path_factory.mktemp("ns1"), ZONES, ["127.0.0.1"], port,
                     zone_keys={ALIAS_KEY: "alias.test"})
    ns2 = resolver = pebble = None
    try:
        ns2 = start_bind(tmp_path_factory.mktemp("ns2"), ZONES[2:], ["::1"], port)
        resolver = start_resolver(tmp_path_factory.mktemp("resolver"), ns1)
        # no authorization reuse: every order proves control through DNS again
        pebble = start_pebble(tmp_path_factory.mktemp("pebble"), dns_server=resolver.server,
                              authz_reuse=0)
        yield Dns(ns1, ns2, resolver, pebble)
    finally:
        for server in (pebble, resolver, ns2, ns1):
            if server is not None:
                server.stop()


def provider_table(name: str, server: BindServer, secret_ref: str, extra: str = "") -> str:
    return (f'[providers.{name}]\ntype = "rfc2136"\nserver = "{server.server}"\n'
            f'tsig_name = "{server.tsig_name}"\ntsig_secret = {secret_ref}\n{extra}\n')


@pytest.fixture
def project(tmp_path: Path, dns: Dns) -> CertplanProject:
    """A project whose [providers.bind] reads the TSIG secret from a file."""
    p = CertplanProject(tmp_path / "ops", dns.pebble)
    p.root.mkdir()
    secret_file = tmp_path / "tsig.key"
    secret_file.write_text(dns.ns1.tsig_secret + "\n")
    write_config(p, dns, provider_table("bind", dns.ns1, f'{{ file = "{secret_file}" }}'))
    return p


def write_config(p: CertplanProject, dns: Dns, providers: str) -> None:
    p.write_config(extra=f'resolvers = ["{dns.ns1.server}"]\n'
                         f"authoritative_port = {dns.ns1.port}\n\n{providers}")


def dns_spec(name: str, domains: list[str], provider: str = "bind", extra: str = "") -> str:
    quoted = ", ".join(f'"{d}"' for d in domains)
    return (f'[[certificate]]\nname = "{name}"\ndomains = [{quoted}]\n'
            f'[certificate.challenge]\ntype = "dns-01"\nprovider = "{provider}"\n{extra}\n')


def applied(p: CertplanProject, *args: str) -> subprocess.CompletedProcess[str]:
    res = p.apply(*args)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Apply: 1 done, 0 failed." in res.stdout
    return res


def issued_names(p: CertplanProject, name: str) -> set[str]:
    leaf = x509.load_pem_x509_certificate(p.state(name)["certificate"]["chain_pem"].encode())
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(sans.get_values_for_type(x509.DNSName))


def test_wildcard_and_apex_issue_verify_and_leave_no_record(
        project: CertplanProject, dns: Dns, tmp_path: Path) -> None:
    project.write_spec("w.toml", dns_spec("wild", ["*.example.test", "example.test"]))
    res = applied(project)
    assert "2 challenge(s) in place" in res.stderr      # both values at one name, together
    assert issued_names(project, "wild") == {"*.example.test", "example.test"}
    chain = tmp_path / "chain.pem"
    chain.write_text(project.state("wild")["certificate"]["chain_pem"])
    root = tmp_path / "root.pem"
    root.write_text(dns.pebble.root_pem())
    verified = subprocess.run(["openssl", "verify", "-CAfile", str(root), "-untrusted",
                               str(chain), str(chain)], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert query_txt(dns.ns1, "_acme-challenge.example.test") == set()
    assert project.state("wild")["pending_order"] is None


def use_alias_only_key(p: CertplanProject, dns: Dns) -> None:
    """[providers.delegated]: credentials that reach the delegated zone alias.test only."""
    p.env["CP_ALIAS_TSIG"] = str(dns.ns1.extra["zone_keys"][ALIAS_KEY])  # type: ignore[index]
    write_config(p, dns, provider_table("delegated", dns.ns1, '{ env = "CP_ALIAS_TSIG" }')
                 .replace(f'tsig_name = "{dns.ns1.tsig_name}"', f'tsig_name = "{ALIAS_KEY}"'))


def test_existing_cname_is_followed_into_the_second_zone(project: CertplanProject,
                                                         dns: Dns) -> None:
    use_alias_only_key(project, dns)
    project.write_spec("c.toml", dns_spec("cname", ["cname.example.test"], "delegated"))
    applied(project)
    assert issued_names(project, "cname") == {"cname.example.test"}
    assert query_txt(dns.ns1, "_acme-challenge.cname.example.test.alias.test") == set()


def test_explicit_alias_issues(project: CertplanProject, dns: Dns) -> None:
    use_alias_only_key(project, dns)
    project.write_spec("a.toml", dns_spec("aliased", ["aliased.example.test"], "delegated",
                                          extra='alias = "alias.test"'))
    applied(project)
    assert issued_names(project, "aliased") == {"aliased.example.test"}
    assert query_txt(dns.ns1, "_acme-challenge.alias.test") == set()
    # and that key really cannot write example.test: the CNAME did the delegating
    project.write_spec("d.toml", dns_spec("direct", ["direct.example.test"], "delegated"))
    res = project.apply()
    assert res.returncode == 1
    assert ("direct (issue) failed: delegated (rfc2136): add TXT "
            "_acme-challenge.direct.example.test in zone example.test at "
            f"{dns.ns1.server}: REFUSED (key 'alias-only' is not allowed") in res.stdout


def test_wrong_tsig_secret_fails_clearly_then_the_right_one_issues(
        project: CertplanProject, dns: Dns) -> None:
    project.env["CP_TSIG_SECRET"] = WRONG_SECRET
    write_config(project, dns, provider_table("bind", dns.ns1, '{ env = "CP_TSIG_SECRET" }'))
    project.write_spec("t.toml", dns_spec("tsig", ["*.tsig.example.test", "tsig.example.test"]))
    res = project.apply()
    output = res.stdout + res.stderr
    assert res.returncode == 1, output
    assert (f"tsig (issue) failed: bind (rfc2136): server {dns.ns1.server} rejected the TSIG "
            "signature of key 'certplan-test': wrong tsig_secret or tsig_algorithm") in res.stdout
    assert "Apply: 0 done, 1 failed." in res.stdout
    assert "Traceback" not in output
    assert WRONG_SECRET not in output and dns.ns1.tsig_secret not in output
    assert query_txt(dns.ns1, "_acme-challenge.tsig.example.test") == set()
    # no certificate recorded; the open order is, so that the next apply finishes it
    record = project.state("tsig")
    assert record["certificate"] is None
    order_url = record["pending_order"]["url"]
    assert f"tsig: order {order_url} " in res.stderr
    # the right secret: the next apply finishes that same order, and cleans up
    project.env["CP_TSIG_SECRET"] = dns.ns1.tsig_secret
    res = applied(project)
    assert f"resuming order {order_url} (pending)" in res.stderr
    assert ": order https://" not in res.stderr          # no second order
    assert issued_names(project, "tsig") == {"*.tsig.example.test", "tsig.example.test"}
    assert project.state("tsig")["pending_order"] is None
    assert query_txt(dns.ns1, "_acme-challenge.tsig.example.test") == set()


def test_record_missing_on_one_of_two_nameservers_names_that_server(
        project: CertplanProject, dns: Dns, tmp_path: Path) -> None:
    secret_file = tmp_path / "tsig.key"
    # split.test has NS ns1 (gets the update) and ns2 (never does); a short per-provider wait
    write_config(project, dns, provider_table("bind", dns.ns1, f'{{ file = "{secret_file}" }}',
                                              "propagation_timeout = 1.0"))
    project.write_spec("s.toml", dns_spec("split", ["www.split.test"]))
    started = time.monotonic()
    res = project.apply()
    took = time.monotonic() - started
    output = res.stdout + res.stderr
    assert res.returncode == 1, output
    assert "Traceback" not in output
    failure = res.stdout.split("split (issue) failed: ", 1)[1]
    assert "www.split.test: TXT _acme-challenge.www.split.test not on every authoritative " \
           "nameserver: ns2.split.test (::1): answered no TXT record" in failure
    assert "ns1.split.test" not in failure
    assert "telling the CA" not in res.stderr      # the CA was never asked to look
    assert took < 10, took
    assert query_txt(dns.ns1, "_acme-challenge.www.split.test") == set()
    assert project.state("split")["certificate"] is None


def test_mixed_certificate_http01_and_dns01(project: CertplanProject, dns: Dns) -> None:
    http_port = dns.pebble.http_port
    project.write_spec("m.toml", f"""
[[certificate]]
name = "mixed"
domains = ["mixed.example.test", "*.mixed.example.test"]
[certificate.challenge]
type = "http-01"
standalone = true
listen = "127.0.0.1:{http_port}"
[certificate.challenge.domains."*.mixed.example.test"]
type = "dns-01"
provider = "bind"
""")
    res = applied(project)
    assert "2 challenge(s) in place" in res.stderr
    assert issued_names(project, "mixed") == {"mixed.example.test", "*.mixed.example.test"}
    # the apex went by http-01 (Pebble dialled certplan's standalone server); a wildcard
    # can only be proven by dns-01, and its TXT is gone again
    assert "validate w/ HTTP: http://mixed.example.test:" in dns.pebble.log()
    assert query_txt(dns.ns1, "_acme-challenge.mixed.example.test") == set()
