"""`apply -v` on dns-01 through real BIND (TSIG-signed updates) and Pebble: the DNS
queries of the propagation check are shown, the TSIG secret and the TXT values never."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.apply_project import CertplanProject
from tests.integration.test_apply_dns01 import Dns, dns, dns_spec, provider_table, write_config

pytestmark = pytest.mark.integration

__all__ = ["dns"]  # the module's BIND, resolver and Pebble


def test_verbose_dns01_shows_queries_and_never_the_tsig_secret(tmp_path: Path,
                                                               dns: Dns) -> None:
    p = CertplanProject(tmp_path / "ops", dns.pebble)
    p.root.mkdir()
    p.env["VERBOSE_TSIG"] = dns.ns1.tsig_secret
    write_config(p, dns, provider_table("bind", dns.ns1, '{ env = "VERBOSE_TSIG" }'))
    p.write_spec("v.toml", dns_spec("verbose", ["verbose.example.test"]))
    res = p.apply("-v")
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout + res.stderr
    assert re.search(r"verbose: DNS TXT _acme-challenge\.verbose\.example\.test\.? "
                     r"@127\.0\.0\.1:\d+: 1 TXT value\(s\)", out), out
    assert "verbose: DNS NS example.test" in out
    assert re.search(r"verbose: ACME POST https://\S+ -> 201", out)
    assert dns.ns1.tsig_secret not in out
    # the TXT value is the digest of the key authorization: in DNS, not in the log
    for line in out.splitlines():
        assert "answered '" not in line, line
