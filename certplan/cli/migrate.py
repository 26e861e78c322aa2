"""`certplan import acme.sh|certbot [PATH]` and `certplan providers`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from certplan.cli.common import ROOT, app, report
from certplan.model.errors import CertplanError

if TYPE_CHECKING:
    from certplan.ops.importers.writer import Prepared

import_app = typer.Typer(no_args_is_help=True,
                         help="Bring the certificates of acme.sh or certbot under certplan.")
app.add_typer(import_app, name="import")

DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Show the specs and what would be written; write nothing.")]
STOP = {"acme.sh": "acme.sh --uninstall-cronjob",
        "certbot": "systemctl disable --now certbot.timer (or remove certbot's cron job)"}


@import_app.command("acme.sh")
def import_acmesh(
    path: Annotated[Path | None, typer.Argument(help="acme.sh home (default ~/.acme.sh).")]
    = None,
    config_home: Annotated[Path | None, typer.Option(
        "--config-home", help="acme.sh's --config-home, where it keeps its files.")] = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Import acme.sh's certificates, accounts, install paths and DNS APIs."""
    _run("acme.sh", path or config_home or Path.home() / ".acme.sh", dry_run)


@import_app.command("certbot")
def import_certbot(
    path: Annotated[Path | None, typer.Argument(
        help="certbot's config folder (default /etc/letsencrypt).")] = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Import certbot's certificates (renewal/*.conf, live/, accounts/)."""
    _run("certbot", path or Path("/etc/letsencrypt"), dry_run)


def _run(tool: str, source: Path, dry_run: bool) -> None:
    from certplan.load import load_project
    from certplan.ops.importers.run import import_tree

    try:
        project = load_project(ROOT)
        prepared, done = import_tree(project, tool, source.expanduser().absolute(),
                                     datetime.now(UTC), dry_run)
    except CertplanError as exc:
        report(exc)
    if dry_run:
        _show_dry_run(prepared)
    else:
        typer.echo(f"Imported from {tool} ({source}): {len(prepared.records)} certificate(s), "
                   f"{len(prepared.accounts)} account(s).")
        for line in done:
            typer.echo(f"  {line}")
    _show_next_steps(prepared, tool)


def _show_dry_run(prepared: Prepared) -> None:
    typer.echo("Dry run: nothing written.\n")
    for path, text in prepared.specs.items():
        typer.echo(f"--- {path} (new)\n{text}")
    if prepared.config_addition:
        typer.echo(f"--- appended to certplan.toml\n{prepared.config_addition}")
    names = ", ".join(r.name for r in prepared.records)
    typer.echo(f"Would write state records: {names}")
    typer.echo(f"Would store in the keystore (keys 0600): {names}")
    for account, email in prepared.accounts:
        typer.echo(f"Would adopt the account key {account.source} for {account.directory}"
                   f" (e-mail {email or '-'}; {account.account_url or 'URL unknown'})")


def _show_next_steps(prepared: Prepared, tool: str) -> None:
    env = prepared.found.env
    if env:
        typer.echo("\nSet these environment variables for `certplan apply` "
                   "(their values were not copied):")
        for name, where in sorted(env.items()):
            typer.echo(f"  {name}: {where}")
    if prepared.todo:
        typer.echo("\nNot carried over, to do by hand:")
        for item in prepared.todo:
            typer.echo(f"  - {item}")
    typer.echo(f"\nNext: certplan validate && certplan plan; then stop {tool}'s own "
               f"renewals: {STOP[tool]}")


@app.command("providers")
def providers() -> None:
    """DNS providers for dns-01: the built-in ones, and those dns-lexicon offers."""
    from certplan.providers import PROVIDERS
    from certplan.providers.lexicon import lexicon_providers

    typer.echo("Built-in: " + ", ".join(n for n in PROVIDERS.names() if n != "lexicon"))
    names = lexicon_providers()
    if names is None:
        typer.echo("lexicon: not installed (pip install 'certplan[lexicon]')")
    else:
        typer.echo(f"lexicon ({len(names)}; type = \"lexicon\", provider = NAME): "
                   + ", ".join(names))
