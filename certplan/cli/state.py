"""`certplan state pull|push|migrate`: the state between a folder and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from certplan.cli.common import ROOT, app, report
from certplan.model.errors import CertplanError

if TYPE_CHECKING:
    from certplan.model.project import Project
    from certplan.ops.state import Moved

state_app = typer.Typer(no_args_is_help=True,
                        help="Move the state between state/ files and PostgreSQL.")
app.add_typer(state_app, name="state")

LockTimeoutOpt = Annotated[float, typer.Option(
    "--lock-timeout", min=0, help="Seconds to wait for a running apply.")]


def _project() -> Project:
    """The project alone: the state commands read each store themselves."""
    from certplan.load import load_project

    return load_project(ROOT)


def _said(moved: Moved, verb: str) -> None:
    meta = moved.meta
    if not moved.changed:
        typer.echo(f"{moved.target} already holds this state ({moved.records} record(s), "
                   f"lineage {meta.lineage}, serial {meta.serial}); nothing changed.")
        return
    typer.echo(f"{verb} {moved.records} record(s), lineage {meta.lineage}, serial "
               f"{meta.serial}: {moved.source} -> {moved.target}.")


@state_app.command("pull")
def pull(
    folder: Annotated[Path | None, typer.Argument(
        help="Where to write the state files (default: the state folder).")] = None,
    lock_timeout: LockTimeoutOpt = 0.0,
) -> None:
    """Write the backend's state as state/ files (review, backup, a commit)."""
    from certplan.ops.state import pull as pull_state

    try:
        project = _project()
        moved = pull_state(project, folder or project.state_dir, lock_timeout)
    except CertplanError as exc:
        report(exc)
    _said(moved, "Pulled")


@state_app.command("push")
def push(
    folder: Annotated[Path | None, typer.Argument(
        help="The state folder to push (default: the project's).")] = None,
    lock_timeout: LockTimeoutOpt = 0.0,
) -> None:
    """Copy state/ files into the configured backend (same lineage, not behind it)."""
    from certplan.ops.state import push as push_state

    try:
        project = _project()
        moved = push_state(project, folder or project.state_dir, lock_timeout)
    except CertplanError as exc:
        report(exc)
    _said(moved, "Pushed")


@state_app.command("migrate")
def migrate(
    to: Annotated[str, typer.Option("--to", help="postgres or files.")],
    lock_timeout: LockTimeoutOpt = 0.0,
) -> None:
    """Move the state between the state folder and the database named by dsn."""
    from certplan.ops.state import migrate as migrate_state

    try:
        moved = migrate_state(_project(), to, lock_timeout)
    except CertplanError as exc:
        report(exc)
    _said(moved, "Copied")
    typer.echo(f'Set [state] backend = "{to}" in certplan.toml to use it from now on '
               f"(the other copy stays as it is).")
