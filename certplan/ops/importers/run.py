"""Read another client's folder and import it (or only show what would be written)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from certplan.model.errors import CertplanError
from certplan.model.project import Project
from certplan.ops.importers.found import Found
from certplan.ops.importers.writer import Prepared, prepare, write

TOOLS = ("acme.sh", "certbot")


def read(tool: str, source: Path) -> Found:
    if not source.is_dir():
        raise CertplanError(f"{source}: no such folder")
    if tool == "acme.sh":
        from certplan.ops.importers.acmesh import read_acmesh

        return read_acmesh(source)
    if tool == "certbot":
        from certplan.ops.importers.certbot import read_certbot

        return read_certbot(source)
    raise CertplanError(f"unknown tool {tool!r} (known: {', '.join(TOOLS)})")


def import_tree(project: Project, tool: str, source: Path, now: datetime,
                dry_run: bool) -> tuple[Prepared, list[str]]:
    """What would be written, and (unless `dry_run`) what was written."""
    found = read(tool, source)
    if not found.certs:
        raise CertplanError(f"{source}: no certificate found to import"
                            + "".join(f"; {t}" for t in found.todo))
    prepared = prepare(project, found, now)
    return prepared, [] if dry_run else write(prepared)
