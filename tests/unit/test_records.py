"""State records as models: what is read back, what is refused, what is no longer written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from certplan.model.errors import problems_from
from certplan.model.records import FORMAT_VERSION, CertRecord, StateMeta

RECORD: dict[str, Any] = {
    "format_version": 1, "name": "www", "domains": ["example.com"], "key_type": "ec-256",
    "ca": "letsencrypt", "ca_directory": "https://acme-v02.api.letsencrypt.org/directory",
    "created_at": "2026-01-01T00:00:00Z",
}


def test_a_record_written_by_certplan_0_1_still_loads_and_loses_its_spec_digest() -> None:
    old = CertRecord.model_validate_json(json.dumps(RECORD | {"spec_digest": "0123abcd"}))
    assert old.name == "www"
    assert "spec_digest" not in old.model_dump(mode="json")
    assert "spec_digest" not in CertRecord.model_validate(RECORD).model_dump(mode="json")


@pytest.mark.parametrize("model, data", [(CertRecord, RECORD),
                                         (StateMeta, {"lineage": "x", "serial": 3})])
def test_a_newer_format_is_refused_with_a_clear_message(model: Any, data: dict[str, Any]) -> None:
    assert model.model_validate(data | {"format_version": FORMAT_VERSION}).format_version == 1
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(json.dumps(data | {"format_version": FORMAT_VERSION + 1}))
    problems = problems_from("state/www.json", caught.value, unknown_key=None)
    assert [str(p) for p in problems] == [
        "state/www.json: format_version: written by a newer certplan (format 2; this "
        "certplan reads format 1 and older): upgrade certplan"]
