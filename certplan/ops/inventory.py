"""The `show` view: everything recorded for one certificate (the `list` view is
certplan.core.inventory)."""

from __future__ import annotations

from certplan.model.records import CertRecord
from certplan.store.files import dump_json


def show(record: CertRecord) -> str:
    """Everything recorded for one certificate: state is public, so all of it."""
    return dump_json(record).decode()
