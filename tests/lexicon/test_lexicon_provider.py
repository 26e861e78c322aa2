"""The lexicon provider through dns-lexicon's own code against two documented APIs
(tests.lexicon.fakes): PowerDNS and DNSimple. Values are added beside each other,
removed exactly, and credentials come from secret references only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from certplan.cli import app
from certplan.model.errors import ProviderError
from certplan.providers import PROVIDERS
from certplan.providers.lexicon import lexicon_providers
from tests.lexicon.fakes import FakeDNSimple, FakePowerDNS

KEY = "pdns-api-key-0123456789"
TOKEN = "dnsimple-token-9876543210"
NAME = "_acme-challenge.www.example.com."
REPO = Path(__file__).resolve().parents[2]


def pdns(server: HTTPServer, monkeypatch: pytest.MonkeyPatch, key: str = KEY):
    monkeypatch.setenv("PDNS_API_KEY", key)
    return PROVIDERS.get("lexicon")("pdns", {
        "provider": "powerdns", "credentials": {"auth_token": {"env": "PDNS_API_KEY"}},
        "options": {"pdns_server": server.url_for("/")}})


def test_powerdns_adds_beside_and_removes_exactly(httpserver: HTTPServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakePowerDNS(httpserver, ["example.com"], KEY)
    fake.zones["example.com."][("_acme-challenge.www.example.com.", "TXT")] = {
        "ttl": 60, "records": ['"someone-elses"']}
    provider = pdns(httpserver, monkeypatch)
    provider.add_txt(NAME, "value-1")
    provider.add_txt(NAME, "value-2")  # wildcard and apex: two values at one name
    assert sorted(fake.txt(NAME)) == ["someone-elses", "value-1", "value-2"]
    provider.delete_txt(NAME, "value-1")
    assert sorted(fake.txt(NAME)) == ["someone-elses", "value-2"]
    provider.delete_txt(NAME, "value-1")  # already gone: fine
    provider.delete_txt(NAME, "value-2")
    assert fake.txt(NAME) == ["someone-elses"]
    # the zone was found by walking up: www.example.com. first (404), then example.com.
    paths = [r.path for r, _ in httpserver.log if r.method == "GET"]
    assert paths[:2] == ["/api/v1/servers/localhost/zones/www.example.com.",
                         "/api/v1/servers/localhost/zones/example.com."]


def test_dnsimple_adds_beside_and_removes_exactly(httpserver: HTTPServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDNSimple(httpserver, ["example.com"], TOKEN)
    monkeypatch.setenv("DNSIMPLE_TOKEN", TOKEN)
    provider = PROVIDERS.get("lexicon")("dnsimple", {
        "provider": "dnsimple", "credentials": {"auth_token": {"env": "DNSIMPLE_TOKEN"}},
        "options": {"api_endpoint": httpserver.url_for("/v2")}, "zone": "example.com"})
    provider.add_txt(NAME, "value-1")
    provider.add_txt(NAME, "value-2")
    provider.add_txt(NAME, "value-2")  # a retried apply: no duplicate
    assert sorted(fake.txt("example.com", "_acme-challenge.www")) == ["value-1", "value-2"]
    provider.delete_txt(NAME, "value-2")
    assert fake.txt("example.com", "_acme-challenge.www") == ["value-1"]
    provider.delete_txt(NAME, "value-1")
    assert fake.records == {}


def test_errors_name_the_provider_and_never_the_secret(httpserver: HTTPServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    FakePowerDNS(httpserver, ["example.com"], KEY)
    provider = pdns(httpserver, monkeypatch, key="wrong-key-555")
    with pytest.raises(ProviderError) as err:
        provider.add_txt(NAME, "v")
    assert "pdns (lexicon powerdns)" in str(err.value) and "HTTP 401" in str(err.value)
    assert "wrong-key-555" not in str(err.value)
    monkeypatch.delenv("PDNS_API_KEY")
    with pytest.raises(ProviderError, match="credentials.auth_token: environment variable "
                                            "PDNS_API_KEY is not set"):
        provider.add_txt(NAME, "v")


def test_config_is_checked_without_contacting_anything() -> None:
    model = PROVIDERS.get("lexicon").config_model
    names = lexicon_providers()
    assert names is not None and {"route53", "powerdns", "dnsimple", "ovh"} <= set(names)
    model.model_validate({"provider": "route53", "credentials": {
        "auth_access_key": {"env": "AWS_ACCESS_KEY_ID"}}})
    for bad in ({"provider": "nosuchdns"}, {"provider": "route53", "credentials": {
            "auth_access_key": "AKIA-literal"}},
            {"provider": "godaddy", "options": {"auth_secret": "in-the-clear"}}):
        with pytest.raises(ValidationError):
            model.model_validate(bad)


def test_providers_command_lists_builtin_and_lexicon(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["providers"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "Built-in: aliyun, cloudflare, exec, rfc2136"
    assert lines[1].startswith("lexicon (") and "powerdns" in lines[1] and "route53" in lines[1]


def test_lexicon_is_imported_only_when_a_record_is_written(tmp_path: Path) -> None:
    """Loading, validating and planning a project with a lexicon provider reads
    lexicon's provider list, never imports lexicon itself."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "certplan.toml").write_text(
        '[providers.r53]\ntype = "lexicon"\nprovider = "route53"\n'
        'credentials = { auth_access_key = { env = "AWS_ACCESS_KEY_ID" } }\n')
    probe = ("import sys; from pathlib import Path; from certplan.load import load_project; "
             "load_project(Path('.')); print([m for m in sys.modules if m.startswith('lexicon')])")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "[]", out.stderr


def test_an_unreachable_api_is_named_without_its_query(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMESILO_KEY", "namesilo-secret-key-77")
    provider = PROVIDERS.get("lexicon")("ns", {
        "provider": "namesilo", "credentials": {"auth_token": {"env": "NAMESILO_KEY"}},
        "options": {"api_endpoint": "http://127.0.0.1:9/api"}, "zone": "example.com"})
    with pytest.raises(ProviderError) as err:
        provider.add_txt(NAME, "v")
    assert "ns (lexicon namesilo)" in str(err.value)
    assert "namesilo-secret-key-77" not in str(err.value)


def test_a_provider_error_that_quotes_the_credential_is_scrubbed(
        httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from lexicon._private.providers import powerdns

    def authenticate(self: object) -> None:  # as a provider that echoes what it sent
        token = self._get_provider_option("auth_token")  # type: ignore[attr-defined]
        raise RuntimeError(f"GET https://api.example/v1/{token}/zones failed for {token}")

    monkeypatch.setattr(powerdns.Provider, "authenticate", authenticate)
    with pytest.raises(ProviderError) as err:
        pdns(httpserver, monkeypatch).add_txt(NAME, "v")
    assert KEY not in str(err.value) and "[secret]" in str(err.value)
