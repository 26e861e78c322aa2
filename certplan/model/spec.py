"""Spec files: the desired certificates (`specs/*.toml`, `[[certificate]]` tables).

Models only; reading files and collecting problems is `certplan.load`. Fields left
out here are filled from `[defaults]` by `certplan.model.project.ResolvedSpec`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from certplan.model.base import InputModel
from certplan.model.domains import normalise_domain
from certplan.model.hostport import HostPort, parse_hostport

KeyType = Literal["ec-256", "ec-384", "rsa-2048", "rsa-3072", "rsa-4096"]
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")



class ChallengeRule(InputModel):
    """How one group of names is proven: http-01 (webroot or standalone) or dns-01."""

    type: Literal["http-01", "dns-01"]
    webroot: str | None = None
    standalone: bool = False
    listen: str | None = None
    self_check: bool = True
    provider: str | None = None
    alias: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> ChallengeRule:
        if self.type == "http-01":
            if self.provider is not None or self.alias is not None:
                raise ValueError("provider and alias belong to dns-01, not http-01")
            if self.standalone == (self.webroot is not None):
                raise ValueError(
                    'http-01 needs exactly one of webroot = "PATH" or standalone = true')
            if self.listen is not None and not self.standalone:
                raise ValueError("listen is only for standalone = true")
            if self.listen is not None:
                _listen(self.listen)
        else:
            if self.provider is None:
                raise ValueError(
                    'dns-01 needs provider = "NAME" (a [providers.NAME] of certplan.toml)')
            if self.webroot is not None or self.standalone or self.listen is not None:
                raise ValueError("webroot, standalone and listen belong to http-01, not dns-01")
            if self.alias is not None:
                self_alias = normalise_domain(self.alias)
                object.__setattr__(self, "alias", self_alias)
        return self

    @property
    def listen_address(self) -> HostPort:
        return _listen(self.listen or "0.0.0.0:80")


def _listen(value: str) -> HostPort:
    """ADDR:PORT of the standalone server; ":PORT" listens on every IPv4 address."""
    try:
        return parse_hostport(value, default_host="0.0.0.0", form="ADDR:PORT",
                              example="0.0.0.0:80")
    except ValueError as exc:
        raise ValueError(f"listen {exc}") from None


class ChallengeSpec(ChallengeRule):
    """The certificate's rule, plus per-domain overrides:
    `[certificate.challenge.domains."*.example.org"]` with its own type/provider."""

    domains: dict[str, ChallengeRule] = Field(default_factory=dict)

    @field_validator("domains", mode="before")
    @classmethod
    def _normalise_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {normalise_domain(str(k)): v for k, v in value.items()}
        return value

    def rule_for(self, domain: str) -> ChallengeRule:
        return self.domains.get(domain) or ChallengeRule.model_validate(
            self.model_dump(exclude={"domains"})
        )


def _check_mode(value: str) -> str:
    if isinstance(value, int):
        raise ValueError('write file modes as strings, e.g. "0640"')
    if not re.fullmatch(r"0?[0-7]{3}", value):
        raise ValueError(f'{value!r} is not an octal file mode like "0640"')
    return value.zfill(4)


class InstallTarget(InputModel):
    """Where key and certificate files go, and how the server picks them up."""

    key_file: str | None = None
    cert_file: str | None = None
    chain_file: str | None = None
    fullchain_file: str | None = None
    bundle_file: str | None = None  # key + fullchain in one file (haproxy)
    key_mode: Annotated[str, Field(validate_default=True)] = "0600"
    cert_mode: Annotated[str, Field(validate_default=True)] = "0644"
    owner: str | None = None
    group: str | None = None
    check: str | None = None
    reload: str | None = None
    # After the reload, a TLS handshake to HOST:PORT must present the new certificate
    # (SNI: verify_name, default the certificate's first name), else the old files
    # are put back and reloaded.
    verify: str | None = None
    verify_name: str | None = None
    timeout: float = Field(default=60.0, gt=0, le=3600)

    _modes = field_validator("key_mode", "cert_mode", mode="before")(
        classmethod(lambda cls, v: _check_mode(v))
    )

    @field_validator("verify")
    @classmethod
    def _verify(cls, value: str | None) -> str | None:
        if value is not None:
            parse_hostport(value)
        return value

    @model_validator(mode="after")
    def _some_file(self) -> InstallTarget:
        paths = list(self.files().values())
        for path in paths:
            if paths.count(path) > 1:
                kinds = [k for k, p in self.files().items() if p == path]
                raise ValueError(f"{path} is named by {' and '.join(kinds)}: one file, one kind")
        if not self.files():
            raise ValueError(
                "an install target needs at least one of key_file, cert_file, chain_file, "
                "fullchain_file, bundle_file"
            )
        return self

    def files(self) -> dict[str, str]:
        """kind -> path, for the kinds this target writes, in a fixed order."""
        kinds = ("key_file", "cert_file", "chain_file", "fullchain_file", "bundle_file")
        return {k: getattr(self, k) for k in kinds if getattr(self, k) is not None}

    def mode_for(self, kind: str) -> int:
        secret = kind in ("key_file", "bundle_file")
        return int(self.key_mode if secret else self.cert_mode, 8)


class OnRemove(InputModel):
    """What `remove` does when this spec is deleted later (remembered in state)."""

    revoke: bool = False
    delete_files: bool = False


def ca_list(value: Any) -> Any:
    """`ca = "name"` or `ca = ["first", "fallback"]`: always a non-empty list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and not value:
        raise ValueError("give at least one CA")
    return value


class CertSpec(InputModel):
    name: str
    domains: list[str] = Field(min_length=1, max_length=100)
    ca: list[str] | None = None
    key: KeyType | None = None
    renew_before_days: int | None = Field(default=None, ge=1, le=365)
    reuse_key: bool = False
    profile: str | None = None
    preferred_chain: str | None = None
    challenge: ChallengeSpec
    install: list[InstallTarget] = Field(default_factory=list)
    on_remove: OnRemove = Field(default_factory=OnRemove)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(
                f"{value!r}: use lower-case letters, digits, '.', '_' and '-' "
                "(at most 64, starting with a letter or digit)"
            )
        return value

    @field_validator("domains", mode="before")
    @classmethod
    def _domains(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        out: list[str] = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"{item!r} is not a string")
            name = normalise_domain(item)
            if name in out:
                raise ValueError(f"{item!r} is listed twice")
            out.append(name)
        return out

    _ca = field_validator("ca", mode="before")(classmethod(lambda cls, v: ca_list(v)))

    @field_validator("challenge")
    @classmethod
    def _cross(cls, challenge: ChallengeSpec, info: ValidationInfo) -> ChallengeSpec:
        """Checked here, not on the model, so that the problem is located at `challenge`."""
        domains = info.data.get("domains")
        if domains is None:  # domains failed on their own; reported there
            return challenge
        for key in challenge.domains:
            if key not in domains:
                raise ValueError(f"domains.{key!r} is not one of this certificate's domains")
        for domain in domains:
            if domain.startswith("*.") and challenge.rule_for(domain).type != "dns-01":
                raise ValueError(f"{domain}: wildcard names can only be proven with dns-01")
        return challenge

    @property
    def main_domain(self) -> str:
        return self.domains[0]
