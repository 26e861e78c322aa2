"""certplan.toml: defaults, CA accounts, DNS providers, DNS and http-01 settings, paths,
notifications.

Models only; reading the file and collecting problems is `certplan.load`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from certplan.model.base import InputModel
from certplan.model.dns import DnsSettings
from certplan.model.notify import NotifySettings
from certplan.model.presets import PRESETS
from certplan.model.secrets import SecretRef
from certplan.model.spec import KeyType, ca_list


class Defaults(InputModel):
    ca: list[str] = Field(default_factory=lambda: ["letsencrypt"])
    email: str | None = None
    key: KeyType = "ec-256"
    renew_before_days: int | None = Field(default=None, ge=1, le=365)
    agree_tos: bool = False

    _ca = field_validator("ca", mode="before", json_schema_input_type=str | list[str] | None)(
        classmethod(lambda cls, v: ca_list(v)))

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and ("@" not in value or value.startswith("@") or " " in value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


class CaConfig(InputModel):
    """A `[ca.NAME]` table: any RFC 8555 CA, or overrides for a preset of the same name."""

    directory: str | None = None
    ca_bundle: str | None = None
    eab_kid: str | None = None
    eab_hmac_key: SecretRef | None = None
    email: str | None = None
    agree_tos: bool | None = None

    @field_validator("directory")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        if value is not None and "@" in value.split("/", 3)[2]:
            # the directory URL is shown in messages and recorded in state: no login in it
            raise ValueError("a directory URL carries no user or password (ACME "
                             "authenticates with the account key; EAB with eab_kid and "
                             "eab_hmac_key)")
        return value

    @model_validator(mode="after")
    def _eab_pair(self) -> CaConfig:
        if (self.eab_kid is None) != (self.eab_hmac_key is None):
            raise ValueError("eab_kid and eab_hmac_key go together")
        return self


class ProviderEntry(InputModel):
    """A `[providers.NAME]` table after its type's own model has validated it."""

    type: str
    config: Any


class Http01Settings(InputModel):
    """`[http01]`: where self-checks connect, and how long they may take before the
    certificate fails with what they saw (instead of waiting its whole --timeout)."""

    port: int = Field(default=80, gt=0, lt=65536)
    self_check_timeout: float = Field(default=30.0, gt=0, le=3600)


class Paths(InputModel):
    specs: str = "specs"
    state: str = "state"
    keystore: str = ".certplan"


class StateSettings(InputModel):
    """`[state]`: which registered state backend records what certplan did.

    "files" (the default) keeps one JSON file per certificate in `[paths].state`;
    "postgres" keeps them in tables of `schema` in the database `dsn` names (a
    secret reference: the connection string carries a password). The name is
    checked against the registry when the backend is opened (`certplan.store.backends`).
    """

    backend: str = "files"
    dsn: SecretRef | None = None
    pg_schema: str = Field(default="certplan", alias="schema",
                           pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    @model_validator(mode="after")
    def _postgres_needs_dsn(self) -> StateSettings:
        if self.backend == "postgres" and self.dsn is None:
            raise ValueError('backend "postgres" needs dsn = { env = "VAR" } (or { file = '
                             '"/path" }): the connection string, a secret')
        return self


class Config(InputModel):
    defaults: Defaults = Field(default_factory=Defaults)
    ca: dict[str, CaConfig] = Field(default_factory=dict)
    providers: dict[str, ProviderEntry] = Field(default_factory=dict)
    dns: DnsSettings = Field(default_factory=DnsSettings)
    http01: Http01Settings = Field(default_factory=Http01Settings)
    paths: Paths = Field(default_factory=Paths)
    state: StateSettings = Field(default_factory=StateSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)


def ca_directory(config: Config, name: str) -> str | None:
    ca = config.ca.get(name, CaConfig())
    if ca.directory:
        return ca.directory
    preset = PRESETS.get(name)
    return preset.directory if preset else None


def known_cas(config: Config) -> list[str]:
    return sorted(set(PRESETS) | set(config.ca))
