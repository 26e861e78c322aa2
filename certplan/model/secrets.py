"""Secret references: `{ env = "NAME" }` or `{ file = "PATH" }`, never literals.

A reference is validated when config is loaded but resolved only when apply
needs the value, so `plan` and `validate` run without any secret present.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import model_validator

from certplan.model.base import InputModel
from certplan.model.errors import SecretError

LITERAL_HINT = (
    'secrets are never literals: write {{ env = "VAR" }} or {{ file = "/path" }} instead'
)


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every resolved secret value in it replaced by [secret]."""
    for value in sorted((v for v in secrets if v), key=len, reverse=True):
        text = text.replace(value, "[secret]")
    return text


class SecretRef(InputModel):
    env: str | None = None
    file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_literal(cls, data: Any) -> Any:
        if isinstance(data, str):
            raise ValueError(LITERAL_HINT.format())
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError('give exactly one of env = "VAR" or file = "/path"')
        return self

    def describe(self) -> str:
        return f"env {self.env}" if self.env is not None else f"file {self.file}"

    def resolve(self) -> str:
        """The secret's value, whitespace-stripped. Raises SecretError naming the source."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise SecretError(f"environment variable {self.env} is not set")
            return value.strip()
        assert self.file is not None
        try:
            value = Path(self.file).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretError(f"cannot read secret file {self.file}: {exc.strerror}") from None
        if not value.strip():
            raise SecretError(f"secret file {self.file} is empty")
        return value.strip()
