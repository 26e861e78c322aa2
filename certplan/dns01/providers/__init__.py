"""DNS providers registered by name.

`PROVIDERS.get("aliyun")` is the provider class; its `config_model` validates
the `[providers.NAME]` table without the `type` key. Importing this package
imports pydantic only: each provider loads its network libraries when used.
"""

from __future__ import annotations

from certplan.dns01.providers.aliyun import AliyunProvider
from certplan.dns01.providers.base import Provider, ProviderConfig
from certplan.dns01.providers.cloudflare import CloudflareProvider
from certplan.dns01.providers.exec import ExecProvider
from certplan.dns01.providers.rfc2136 import Rfc2136Provider
from certplan.registry import Registry

PROVIDERS: Registry[type[Provider]] = Registry("DNS provider")

for _cls in (Rfc2136Provider, CloudflareProvider, AliyunProvider, ExecProvider):
    PROVIDERS.register(_cls.name, _cls)

__all__ = ["PROVIDERS", "Provider", "ProviderConfig", "AliyunProvider", "CloudflareProvider",
           "ExecProvider", "Rfc2136Provider"]
