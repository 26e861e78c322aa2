"""pydantic errors -> Problems: one function for specs, config and state files."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from certplan.model.errors import Problem, field_path, problems_from


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: int

    @field_validator("port")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("Port must be positive")
        return value


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    items: list[Inner]


def errors(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Outer.model_validate(data)
    return caught.value


def test_field_path() -> None:
    assert field_path(("certificate", 0, "install", 1, "key_file")) == \
        "certificate[0].install[1].key_file"
    assert field_path(("webroot",), "certificate[2].challenge") == \
        "certificate[2].challenge.webroot"
    assert field_path((0, "x"), "") == "[0].x"


def test_messages_located_and_worded() -> None:
    exc = errors({"items": [{"port": 0, "colour": 1}]})
    assert problems_from("specs/a.toml", exc, "certificate[3]") == [
        Problem("specs/a.toml", "certificate[3].name", "field required"),
        Problem("specs/a.toml", "certificate[3].items[0].port", "port must be positive"),
        Problem("specs/a.toml", "certificate[3].items[0].colour",
                "unknown key (check the spelling)"),
    ]


def test_state_files_keep_pydantics_word_for_an_unknown_key() -> None:
    exc = errors({"name": "x", "items": [], "colour": 1})
    assert problems_from("state/x.json", exc, unknown_key=None) == [
        Problem("state/x.json", "colour", "extra inputs are not permitted")]
