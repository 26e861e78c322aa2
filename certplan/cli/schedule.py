"""`certplan schedule --systemd|--cron`: print, write or remove what runs `apply` hourly."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from certplan.cli.common import app, fail, report
from certplan.model.errors import CertplanError

if TYPE_CHECKING:
    from certplan.ops.schedule import Job


@app.command()
def schedule(
    systemd: Annotated[bool, typer.Option("--systemd", help="A service and a timer.")]
    = False,
    cron: Annotated[bool, typer.Option("--cron", help="A cron entry.")] = False,
    every: Annotated[str, typer.Option("--every", help="How often: 15m, 30m, 1h, 6h, 1d.")]
    = "1h",
    write: Annotated[bool, typer.Option(
        "--write", help="Install the files (as root; again: nothing changes).")] = False,
    remove: Annotated[bool, typer.Option(
        "--remove", help="Take away what --write installed.")] = False,
    root: Annotated[Path, typer.Option(
        "--root", help="Write under this folder instead of / (for images and tests; "
        "systemctl is not run).")] = Path("/"),
    name: Annotated[str, typer.Option(
        "--name", help="Unit or cron file name (one per project on a host).")] = "certplan",
    program: Annotated[str | None, typer.Option(
        "--program", help="The certplan to run (default: the one running now).")] = None,
) -> None:
    """Run `apply` on a schedule: print the systemd units or cron entry, or install them."""
    from certplan.ops.schedule import Every, Job, remove_files, running_program, write_files

    if systemd == cron:
        fail("choose one: --systemd or --cron")
    if write and remove:
        fail("choose one: --write or --remove")
    kind = "systemd" if systemd else "cron"
    root = root.absolute()
    try:
        argv = (os.path.abspath(program),) if program else \
            running_program(sys.argv[0], sys.executable)
        job = Job(argv, Path.cwd(), Every.parse(every), name)  # -C has chdir'ed here
        files = job.files(kind, root)
        if not (write or remove):
            _show(job, kind, files)
            return
        if root == Path("/") and os.geteuid() != 0:
            fail(f"writing under /{'etc/systemd/system' if systemd else 'etc/cron.d'} "
                 f"needs root: run it with sudo (or print it without --write)")
        live = root == Path("/") and systemd
        if remove:
            if live:
                from certplan.ops.schedule import stop_timer

                stop_timer(job)
            done = remove_files(files)
        else:
            done = write_files(files)
        for path, what in done:
            typer.echo(f"{what} {path}")
        if live:
            from certplan.ops.schedule import systemctl

            for step in systemctl(job, remove):
                typer.echo(f"ran {step}")
        elif systemd and not remove:
            typer.echo(f"Next: systemctl daemon-reload && systemctl enable --now "
                       f"{name}.timer")
    except CertplanError as exc:
        report(exc)
    except OSError as exc:
        fail(f"cannot write under {root}: {exc.strerror or exc}")


def _show(job: Job, kind: str, files: dict[Path, str]) -> None:
    if kind == "cron":
        typer.echo("# for `crontab -e` (root's crontab):")
        typer.echo(job.crontab_line())
        typer.echo("# or `certplan schedule --cron --write` installs it as "
                   f"/etc/cron.d/{job.name}")
        return
    for path, text in files.items():
        typer.echo(f"# {path}\n{text}")
    typer.echo(f"# `sudo certplan -C {job.project} schedule --systemd --write` installs "
               f"them and enables {job.name}.timer")
