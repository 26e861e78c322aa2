"""The `list` view's renderers (certplan.core.inventory); the rows are built and shown
through the CLI in test_cli_core.test_list_and_show."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from certplan.core.inventory import LIST_RENDERERS, Row


def at(month: int) -> datetime:
    return datetime(2026, month, 1, 13, 5, 7, 250000, tzinfo=UTC)


ROW: Row = {"name": "www", "main_domain": "example.com", "key": "ec-256",
            "sans": ["www.example.com", "a.example.com"], "ca": "letsencrypt",
            "created": at(1), "issued": at(2), "next_renewal": at(4),
            "renewal_rule": "1/3 of the lifetime left", "expires": at(5),
            "serial": "0a", "status": "ok"}


def test_renderers_by_name() -> None:
    assert list(LIST_RENDERERS) == ["table", "json"]


def test_table() -> None:
    assert LIST_RENDERERS["table"]([]) == "No certificates.\n"
    lines = LIST_RENDERERS["table"]([ROW]).splitlines()
    assert lines[0].split() == ["name", "main", "domain", "key", "SANs", "CA", "created",
                                "next", "renewal", "expires", "status"]
    assert "www.example.com, a.example.com" in lines[2]
    assert "2026-04-01 13:05" in lines[2] and ":07" not in lines[2]  # minutes in the table
    assert "2026-02-01" not in lines[2] and "0a" not in lines[2].split()  # issued, serial: json


def test_json_is_every_field_indented() -> None:
    text = LIST_RENDERERS["json"]([ROW])
    assert text.endswith("]\n") and text.startswith('[\n  {\n    "name": "www",')
    assert json.loads(text) == [{**ROW, "created": "2026-01-01T13:05:07Z",
                                 "issued": "2026-02-01T13:05:07Z",
                                 "next_renewal": "2026-04-01T13:05:07Z",
                                 "expires": "2026-05-01T13:05:07Z"}]
    assert LIST_RENDERERS["json"]([]) == "[]\n"
