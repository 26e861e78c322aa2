"""lexicon: every DNS API that dns-lexicon speaks (about 90), for dns-01.

    [providers.r53]
    type = "lexicon"
    provider = "route53"                       # lexicon's provider name
    credentials = { auth_access_key = { env = "AWS_ACCESS_KEY_ID" },
                    auth_access_secret = { env = "AWS_SECRET_ACCESS_KEY" } }
    options = { private_zone = "false" }       # lexicon's other options, not secret
    zone = "example.com"                       # optional: else found by walking up the name

`credentials` and `options` take lexicon's option names (`auth_token`,
`auth_username`, ... as `lexicon PROVIDER --help` lists them without the dashes).
certplan computes the record name (CNAMEs and alias applied), checks propagation
and cleans up exactly as with the built-in providers; lexicon only adds and deletes
the TXT value. dns-lexicon is an optional extra (`pip install 'certplan[lexicon]'`),
imported only when a lexicon provider adds or deletes a record.

The provider class is used directly rather than through lexicon's Client: the
Client guesses the zone with tldextract, which fetches the public suffix list from
the internet. certplan instead asks the provider to authenticate against each
candidate zone, from the longest, until one is accepted (or uses `zone`).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
import threading
from typing import Any, ClassVar

from pydantic import Field, field_validator

from certplan.model.secrets import SecretRef, scrub
from certplan.providers.base import Provider, ProviderConfig

PROVIDERS_PACKAGE = "lexicon._private.providers"
INSTALL_HINT = "dns-lexicon is not installed: pip install 'certplan[lexicon]'"


def lexicon_providers() -> list[str] | None:
    """The provider names dns-lexicon offers, or None when it is not installed
    (found by listing its providers folder: nothing of lexicon is imported)."""
    spec = importlib.util.find_spec("lexicon")
    if spec is None or not spec.submodule_search_locations:
        return None
    folders = [os.path.join(p, "_private", "providers") for p in spec.submodule_search_locations]
    return sorted(m.name for m in pkgutil.iter_modules(folders)
                  if m.name not in ("base", "auto"))


class LexiconConfig(ProviderConfig):
    provider: str
    credentials: dict[str, SecretRef] = Field(default_factory=dict)
    options: dict[str, str] = Field(default_factory=dict)
    zone: str | None = None
    ttl: int = Field(default=60, ge=1, le=86400)

    @field_validator("provider")
    @classmethod
    def _known(cls, value: str) -> str:
        names = lexicon_providers()
        if names is None:
            raise ValueError(INSTALL_HINT)
        if value not in names:
            raise ValueError(f"{value!r} is not a dns-lexicon provider (`certplan providers` "
                             "lists them)")
        return value

    @field_validator("options")
    @classmethod
    def _no_secret_option(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.startswith("auth_") and any(w in key for w in ("token", "secret", "password",
                                                                  "key")):
                raise ValueError(f"{key} looks like a secret: put it in credentials as "
                                 '{ env = "VAR" } or { file = "/path" }')
        return value


class LexiconProvider(Provider):
    name: ClassVar[str] = "lexicon"
    config_model: ClassVar[type[ProviderConfig]] = LexiconConfig
    config: LexiconConfig

    def __init__(self, instance_name: str, config: Any):
        super().__init__(instance_name, config)
        self._zones: set[str] = set()  # zones this account was seen to serve
        self._lock = threading.Lock()
        self._secrets: list[str] = []  # resolved credentials, kept out of every message

    @property
    def label(self) -> str:
        return f"{self.instance_name} (lexicon {self.config.provider})"

    def add_txt(self, fqdn: str, value: str) -> None:
        name = fqdn.rstrip(".").lower()
        self._call("adding", name, lambda p: p.create_record("TXT", name, value))

    def delete_txt(self, fqdn: str, value: str) -> None:
        name = fqdn.rstrip(".").lower()
        self._call("deleting", name, lambda p: p.delete_record(None, "TXT", name, value))

    def _call(self, doing: str, name: str, action: Any) -> None:
        """One add or delete. Calls are serialized per provider (parallel certificates
        share it, and lexicon's providers read-modify-write whole record sets), and
        each uses a freshly authenticated lexicon provider, so that no zone data a
        provider cached before another change is ever written back."""
        with self._lock:
            provider = self._provider_for(name)
            try:
                action(provider)
            except Exception as exc:  # lexicon raises requests' and its own errors alike
                raise self.error(f"{doing} TXT {name}: {_describe(exc, self._secrets)}") from None

    def _provider_for(self, name: str) -> Any:
        if self.config.zone:
            candidates = [self.config.zone.rstrip(".").lower()]
        else:
            candidates = _zones_of(name)
            known = [z for z in candidates if z in self._zones]
            candidates = known[:1] or candidates
        module = self._module()
        tried = []
        for zone in candidates:
            provider = module.Provider(self._resolver(zone))
            try:
                provider.authenticate()
            except Exception as exc:
                tried.append(f"{zone}: {_describe(exc, self._secrets)}")
                continue
            self._zones.add(zone)
            return provider
        raise self.error(f"no zone for {name} is served by this account ("
                         + "; ".join(tried) + ")")

    def _module(self) -> Any:
        try:
            return importlib.import_module(f"{PROVIDERS_PACKAGE}.{self.config.provider}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("lexicon"):
                raise self.error(INSTALL_HINT) from None
            raise self.error(f"lexicon provider {self.config.provider} needs {exc.name}: "
                             f"pip install 'dns-lexicon[{self.config.provider}]'") from None

    def _resolver(self, zone: str) -> Any:
        from lexicon.config import ConfigResolver

        settings: dict[str, Any] = dict(self.config.options)
        for option, ref in self.config.credentials.items():
            settings[option] = self.secret(f"credentials.{option}", ref)
            if settings[option] not in self._secrets:
                self._secrets.append(settings[option])
        # lexicon's ConfigResolver has no annotations
        return ConfigResolver().with_dict({  # type: ignore[no-untyped-call]
            "provider_name": self.config.provider, "domain": zone, "ttl": self.config.ttl,
            self.config.provider: settings})


def _zones_of(name: str) -> list[str]:
    """Candidate zones for a record name, longest first, never a bare TLD."""
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def _describe(exc: Exception, secrets: list[str]) -> str:
    """An error in one line, without what a request carried (URLs may hold tokens)
    and without any of `secrets` (the credentials, wherever a provider quotes them)."""
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None) is not None:
        url = scrub(str(response.url).split("?")[0], secrets)
        return f"HTTP {response.status_code} from {url}"
    text = scrub(str(exc), secrets).splitlines()[0] if str(exc) else ""
    text = re.sub(r"\?\S*", "?...", text)  # a query string may carry a key (namesilo)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
