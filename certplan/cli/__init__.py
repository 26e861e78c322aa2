"""The command line: the only package that prints or exits.

`common` holds the typer app and shared helpers; `commands` the everyday
commands; `admin` the CA, revoke and account commands; `state` moving the state
between a folder and PostgreSQL; `monitor` check.
"""

from __future__ import annotations

import sys

import typer

from certplan.cli import (  # noqa: F401  (register the commands)
    admin,
    commands,
    migrate,
    monitor,
    operate,
    schedule,
    state,
)
from certplan.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the command line. Usage errors (unknown or misspelt option, missing argument)
    exit 1 like every other error: click's own code for them, 2, is what `plan
    --detailed-exitcode` says for "there are changes", and CI must not read a typo so."""
    from typer._click.exceptions import ClickException  # typer vendors click

    try:
        code = app(standalone_mode=False)
    except ClickException as exc:
        exc.show()
        sys.exit(1)
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    if code == 130:  # click turns Ctrl-C into Exit(130)
        typer.echo("interrupted", err=True)
    sys.exit(code if isinstance(code, int) else 0)
