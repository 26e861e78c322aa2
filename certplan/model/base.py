"""The two kinds of pydantic model certplan reads, and how strictly each is read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class InputModel(BaseModel):
    """What people write (certplan.toml, specs, provider tables): unknown keys are
    refused, nothing is coerced ("80" is not a port), and the result is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class RecordModel(BaseModel):
    """What certplan wrote (state records): unknown keys are refused and the result
    is immutable, but not strict, so that JSON text such as ISO 8601 times parses
    back into the types it was written from."""

    model_config = ConfigDict(extra="forbid", frozen=True)
