"""JSON Schema of spec and config files, for editors (e.g. taplo, VS Code Even Better TOML)."""

from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, Field, create_model

from certplan.installers import INSTALLERS
from certplan.model.config import Config
from certplan.model.spec import CertSpec


def spec_model() -> type[BaseModel]:
    """CertSpec with `install` as what load.py accepts: any registered installer's
    target model (a union on `type`)."""
    models = tuple(INSTALLERS.get(name).target_model for name in INSTALLERS.names())
    item: Any = models[0] if len(models) == 1 else Union[models]  # noqa: UP007
    return create_model("CertSpec", __base__=CertSpec, __doc__=CertSpec.__doc__,
                        install=(list[item], Field(default_factory=list)))


def json_schema() -> dict[str, Any]:
    spec_file = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"certificate": {"type": "array",
                                       "items": spec_model().model_json_schema()}},
        "required": ["certificate"],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "certplan",
        "spec_file": spec_file,
        "config_file": Config.model_json_schema(),
    }
