"""Spec files: the desired certificates (`specs/*.toml`, `[[certificate]]` tables).

Models only; reading files and collecting problems is `certplan.load`, which also
validates each install table with its installer's own target model. Fields left
out here are filled from `[defaults]` by `certplan.model.project.ResolvedSpec`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
    SerializeAsAny,
    ValidationInfo,
    field_validator,
    model_validator,
)

from certplan.model.base import InputModel
from certplan.model.domains import normalise_domain
from certplan.model.hostport import HostPort, parse_hostport
from certplan.model.text import bad_character

KeyType = Literal["ec-256", "ec-384", "rsa-2048", "rsa-3072", "rsa-4096"]
NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # whole name: fullmatch



class ChallengeRule(InputModel):
    """How one group of names is proven: http-01 (webroot or standalone) or dns-01."""

    type: Literal["http-01", "dns-01"]
    webroot: str | None = None
    standalone: bool = False
    listen: str | None = None
    self_check: bool = True
    provider: str | None = None
    alias: str | None = None

    @field_validator("webroot")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and (bad := bad_character(value)) is not None:
            raise ValueError(f"{value!r}: {bad}")
        return value

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


DEFAULT_INSTALLER = "files"


class InstallTarget(InputModel):
    """One `[[certificate.install]]` table, as far as every installer's target has it.

    Each installer declares its own subclass (certplan.installers); load.py
    validates a table with the model its `type` names. The planner asks a target
    for its type and its digest only, never for its other fields.
    """

    type: str = DEFAULT_INSTALLER

    # The projection that defines a target: the fields listed, under a version.
    # A listed field at its default is left out of it, so that a field added later
    # with a default changes no digest; a change of meaning (or of a default)
    # bumps the version.
    digest_fields: ClassVar[tuple[str, ...]] = ()
    digest_version: ClassVar[int] = 1

    def digest(self) -> str:
        """"v<version>:" and 16 hex digits of SHA-256 over the type, the version and
        "field=repr(value)" lines of the projection, in its order."""
        lines = [self.type, str(self.digest_version)]
        for name, default in _projection(self.__class__):
            value = getattr(self, name)
            if value != default:
                lines.append(f"{name}={_plain(value)!r}")
        data = "\n".join(lines).encode()
        return f"v{self.digest_version}:{hashlib.sha256(data).hexdigest()[:16]}"

    def same_definition(self, recorded: str) -> bool:
        """Whether a digest recorded in state stands for this target as it is now
        (an installer may also accept the forms that earlier versions recorded)."""
        return recorded == self.digest()

    def steps(self) -> list[tuple[str, str]]:
        """(step, what it runs or asks) for each step an install of this target runs
        after writing, in order, e.g. ("check", "nginx -t"): shown in plans for review.
        An installer's target model says; none by default."""
        return []

    def tls_endpoint(self) -> tuple[str, str | None] | None:
        """The TLS endpoint serving this target's certificate, as (HOST:PORT, SNI name
        or None for the certificate's own), which `check --probe` asks; None: none."""
        return None


_PROJECTIONS: dict[type[InstallTarget], tuple[tuple[str, Any], ...]] = {}


def _projection(cls: type[InstallTarget]) -> tuple[tuple[str, Any], ...]:
    """(field, default) for each field of the class's projection (cached per class)."""
    found = _PROJECTIONS.get(cls)
    if found is None:
        declared = cls.model_fields
        found = _PROJECTIONS[cls] = tuple(
            (name, declared[name].get_default(call_default_factory=True))
            for name in cls.digest_fields)
    return found


def _plain(value: Any) -> Any:
    """A value whose repr is stable: tables (models, dicts) as JSON with sorted keys."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


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
    # any installer's target model (load.py picks it by `type`)
    install: list[SerializeAsAny[InstallTarget]] = Field(default_factory=list)
    on_remove: OnRemove = Field(default_factory=OnRemove)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.fullmatch(value):
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

    _ca = field_validator("ca", mode="before", json_schema_input_type=str | list[str] | None)(
        classmethod(lambda cls, v: ca_list(v)))

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
