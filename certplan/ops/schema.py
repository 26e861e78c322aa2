"""JSON Schema of spec and config files, for editors (e.g. taplo, VS Code Even Better TOML)."""

from __future__ import annotations

from typing import Any

from certplan.model.config import Config
from certplan.model.spec import CertSpec


def json_schema() -> dict[str, Any]:
    spec_file = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"certificate": {"type": "array", "items": CertSpec.model_json_schema()}},
        "required": ["certificate"],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "certplan",
        "spec_file": spec_file,
        "config_file": Config.model_json_schema(),
    }
