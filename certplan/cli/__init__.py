"""The command line: the only package that prints or exits.

`common` holds the typer app and shared helpers; `commands` the everyday
commands; `admin` the CA, revoke and account commands; `state` moving the state
between a folder and PostgreSQL.
"""

from __future__ import annotations

import sys

import typer

from certplan.cli import admin, commands, state  # noqa: F401  (register the commands)
from certplan.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
