"""The `list` view's renderers (certplan.core.inventory); the rows are built and shown
through the CLI in test_cli_core.test_list_and_show."""

from __future__ import annotations

import json

from certplan.core.inventory import LIST_RENDERERS, Row

ROW: Row = {"name": "www", "main_domain": "example.com", "key": "ec-256",
            "sans": ["www.example.com", "a.example.com"], "ca": "letsencrypt",
            "created": "2026-01-01 00:00", "issued": "2026-02-01 00:00",
            "next_renewal": "2026-04-01 00:00", "expires": "2026-05-01 00:00",
            "serial": "0a", "status": "ok"}


def test_renderers_by_name() -> None:
    assert list(LIST_RENDERERS) == ["table", "json"]


def test_table() -> None:
    assert LIST_RENDERERS["table"]([]) == "No certificates.\n"
    lines = LIST_RENDERERS["table"]([ROW]).splitlines()
    assert lines[0].split() == ["name", "main", "domain", "key", "SANs", "CA", "created",
                                "next", "renewal", "expires", "status"]
    assert "www.example.com, a.example.com" in lines[2]
    assert "2026-02-01" not in lines[2] and "0a" not in lines[2].split()  # issued, serial: json


def test_json_is_every_field_indented() -> None:
    text = LIST_RENDERERS["json"]([ROW])
    assert text.endswith("]\n") and text.startswith('[\n  {\n    "name": "www",')
    assert json.loads(text) == [ROW]
    assert LIST_RENDERERS["json"]([]) == "[]\n"
