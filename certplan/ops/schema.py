"""JSON Schema of spec and config files, one self-contained document per kind, for
editors (taplo / VS Code's Even Better TOML, any JSON Schema 2020-12 validator).

What the loader accepts is plug-in dependent: an install table is the model of the
installer its `type` names, a `[providers.X]` table the model of its DNS provider
type. The schemas are built from those same registries, so they cannot drift.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from certplan.installers import INSTALLERS
from certplan.model.config import Config
from certplan.model.spec import CertSpec
from certplan.providers import PROVIDERS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# An identifier, never fetched: .invalid (RFC 2606) can never resolve.
ID_BASE = "https://certplan.invalid/schema"
KINDS = ("spec", "config")


def _one_of(models: tuple[type[BaseModel], ...]) -> Any:
    return models[0] if len(models) == 1 else Union[models]  # noqa: UP007


def spec_model() -> type[BaseModel]:
    """CertSpec with `install` as what load.py accepts: any registered installer's
    target model (a union on `type`)."""
    models = tuple(INSTALLERS.get(name).target_model for name in INSTALLERS.names())
    item: Any = _one_of(models)
    return create_model("CertSpec", __base__=CertSpec, __doc__=CertSpec.__doc__,
                        install=(list[item], Field(default_factory=list)))


def _provider_models() -> tuple[type[BaseModel], ...]:
    """Each DNS provider type's table: its own fields plus `type` naming it."""
    out = []
    for name in PROVIDERS.names():
        cls = PROVIDERS.get(name)
        title = f"{cls.config_model.__name__}Table"
        named: Any = Literal[name]
        out.append(create_model(title, __base__=cls.config_model, __doc__=cls.__doc__,
                                type=(named, ...)))
    return tuple(out)


def config_model() -> type[BaseModel]:
    models = _provider_models()
    union: Any = _one_of(models)
    entry: Any = Annotated[union, Field(discriminator="type")] if len(models) > 1 \
        else models[0]
    return create_model("Config", __base__=Config, __doc__=Config.__doc__,
                        providers=(dict[str, entry], Field(default_factory=dict)))


class _SpecFile(BaseModel):
    model_config = ConfigDict(extra="forbid")


def spec_file_model() -> type[BaseModel]:
    cert: Any = spec_model()
    return create_model("SpecFile", __base__=_SpecFile,
                        __doc__="A certplan spec file: one or more [[certificate]] tables.",
                        certificate=(list[cert], ...))


def json_schema(kind: str) -> dict[str, Any]:
    """The schema of a spec file (`spec`) or of certplan.toml (`config`): `$schema`,
    `$id`, title, and every definition under `$defs` of this one document."""
    if kind not in KINDS:
        raise ValueError(f"unknown schema kind {kind!r} (known: {', '.join(KINDS)})")
    model = spec_file_model() if kind == "spec" else config_model()
    body = model.model_json_schema()
    title = "certplan spec file (specs/*.toml)" if kind == "spec" else \
        "certplan config (certplan.toml)"
    return {"$schema": DIALECT, "$id": f"{ID_BASE}/{kind}.json", **body, "title": title}
