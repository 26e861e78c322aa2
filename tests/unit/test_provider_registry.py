"""The provider registry and the shape of every provider's config."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from certplan.model.errors import RegistryError
from certplan.providers import PROVIDERS, Provider, ProviderConfig


def test_builtin_providers_are_registered() -> None:
    assert PROVIDERS.names() == ["aliyun", "cloudflare", "exec", "lexicon", "rfc2136"]
    for name in PROVIDERS.names():
        cls = PROVIDERS.get(name)
        assert issubclass(cls, Provider) and cls.name == name
        assert issubclass(cls.config_model, ProviderConfig)
    with pytest.raises(RegistryError, match="unknown DNS provider 'route53'.*aliyun"):
        PROVIDERS.get("route53")


def test_configs_refuse_type_key_literal_secrets_and_typos() -> None:
    rfc = PROVIDERS.get("rfc2136").config_model
    good = {"server": "127.0.0.1:53", "tsig_name": "k", "tsig_secret": {"file": "/k"}}
    assert rfc.model_validate(good).tsig_algorithm == "hmac-sha256"
    for bad in ({**good, "type": "rfc2136"}, {**good, "tsig_secret": "literal"},
                {**good, "tsig_algorithm": "hmac-sha3"}, {**good, "server": "h:99999"},
                {**good, "propagation_timeout": 0}):
        with pytest.raises(ValidationError):
            rfc.model_validate(bad)
    cf = PROVIDERS.get("cloudflare").config_model
    with pytest.raises(ValidationError):
        cf.model_validate({"api_token": "plain-token"})
    ali = PROVIDERS.get("aliyun").config_model.model_validate({"propagation_interval": 1})
    assert ali.access_key_id.env == "Ali_Key"  # type: ignore[attr-defined]
    assert ali.access_key_secret.env == "Ali_Secret"  # type: ignore[attr-defined]
    assert ali.propagation_interval == 1
    with pytest.raises(ValidationError):
        PROVIDERS.get("exec").config_model.model_validate({"command": []})


def test_validation_reads_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    cls = PROVIDERS.get("cloudflare")
    provider = cls("cf", {"api_token": {"env": "NOT_SET_ANYWHERE"}})
    assert provider.label == "cf (cloudflare)"


def test_importing_the_registry_is_cheap() -> None:
    code = ("import sys, certplan.providers, certplan.model.dns;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dns', 'requests', 'subprocess', 'acme')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
