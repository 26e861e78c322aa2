"""DNS providers registered by name.

`PROVIDERS.get("aliyun")` is the provider class; its `config_model` validates
the `[providers.NAME]` table without the `type` key. Importing this package
imports pydantic only: each provider loads its network libraries when used.
"""

from __future__ import annotations

from certplan.model.registry import Registry
from certplan.providers.aliyun import AliyunProvider
from certplan.providers.base import Provider, ProviderConfig
from certplan.providers.cloudflare import CloudflareProvider
from certplan.providers.exec import ExecProvider
from certplan.providers.lexicon import LexiconProvider
from certplan.providers.rfc2136 import Rfc2136Provider

PROVIDERS: Registry[type[Provider]] = Registry("DNS provider")

for _cls in (Rfc2136Provider, CloudflareProvider, AliyunProvider, ExecProvider,
             LexiconProvider):
    PROVIDERS.register(_cls.name, _cls)

__all__ = ["PROVIDERS", "Provider", "ProviderConfig", "AliyunProvider", "CloudflareProvider",
           "ExecProvider", "LexiconProvider", "Rfc2136Provider"]
