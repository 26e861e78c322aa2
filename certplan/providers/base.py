"""What every DNS provider is: a pydantic config and add/delete of one TXT value.

Providers receive the final record name (CNAMEs and aliases already applied by
certplan.validators.dns01.names) and never compute names themselves. Secrets stay
SecretRefs in the config and are resolved only when a record is added or
deleted. Every error is a ProviderError starting with the provider's name and
never carries a secret.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from certplan.model.base import InputModel
from certplan.model.errors import ProviderError, SecretError
from certplan.model.secrets import SecretRef


class ProviderConfig(InputModel):
    """Fields every provider accepts (`type` is stripped by the config loader)."""

    propagation_timeout: float | None = Field(default=None, gt=0, le=3600)
    propagation_interval: float | None = Field(default=None, gt=0, le=60)


class Provider:
    """Base class: subclasses set `name` and `config_model` and implement add/delete."""

    name: ClassVar[str] = ""
    config_model: ClassVar[type[ProviderConfig]] = ProviderConfig

    def __init__(self, instance_name: str, config: ProviderConfig | dict[str, Any]):
        self.instance_name = instance_name
        if isinstance(config, dict):
            config = self.config_model.model_validate(config)
        if not isinstance(config, self.config_model):
            raise TypeError(f"{self.name}: config must be {self.config_model.__name__}")
        self.config = config

    @property
    def label(self) -> str:
        """How errors name this provider: "bind (rfc2136)" or just "rfc2136"."""
        if self.instance_name and self.instance_name != self.name:
            return f"{self.instance_name} ({self.name})"
        return self.name

    @property
    def propagation_timeout(self) -> float | None:
        return self.config.propagation_timeout

    @property
    def propagation_interval(self) -> float | None:
        return self.config.propagation_interval

    def error(self, message: str) -> ProviderError:
        return ProviderError(self.label, message)

    def secret(self, field: str, ref: SecretRef) -> str:
        """Resolve a secret reference; failures name the field and the source only."""
        try:
            return ref.resolve()
        except SecretError as exc:
            raise self.error(f"{field}: {exc}") from None

    def add_txt(self, fqdn: str, value: str) -> None:
        raise NotImplementedError

    def delete_txt(self, fqdn: str, value: str) -> None:
        """Delete exactly this value at this name; no error when it is already gone."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.instance_name!r}>"
