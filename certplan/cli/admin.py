"""Administration commands: CA list, revoke, ACME accounts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from certplan.cli.common import _backend, _load, account_app, app, ca_app, fail, report
from certplan.model.errors import CertplanError


@ca_app.command("list")
def ca_list() -> None:
    """CA presets and the [ca.NAME] tables of certplan.toml."""
    from tabulate import tabulate

    from certplan.model.presets import PRESETS

    rows: list[list[str | None]] = [
        [p.name, p.directory, "yes" if p.eab_required else "no", p.description]
        for p in PRESETS.values()]
    try:
        project, _ = _load()
        for name, ca in project.config.ca.items():
            if name not in PRESETS:
                rows.append([name, ca.directory, "yes" if ca.eab_kid else "no", "certplan.toml"])
    except CertplanError:
        pass  # presets are still worth showing outside a project
    typer.echo(tabulate(rows, headers=["name", "directory", "EAB", "about"]))


# -- revoke and accounts ---------------------------------------------------------------------

YesOpt = Annotated[bool, typer.Option("--yes", help="Do not ask (irreversible).")]
CaArg = Annotated[str | None, typer.Argument(
    help="CA name (default: the first CA of [defaults]).")]


def _confirm_irreversible(yes: bool, what: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"not a terminal, so nobody can confirm: pass --yes to {what}")
    if not typer.confirm(f"{what[:1].upper()}{what[1:]}? This cannot be undone.",
                         default=False):
        fail("cancelled; nothing was changed")


@app.command()
def revoke(
    name: Annotated[str, typer.Argument(help="The certificate (spec name).")],
    reason: Annotated[str, typer.Option(
        "--reason", help="keyCompromise, superseded, cessationOfOperation, "
                         "affiliationChanged or unspecified.")] = "unspecified",
    yes: YesOpt = False,
    lock_timeout: Annotated[float, typer.Option(
        "--lock-timeout", min=0, help="Seconds to wait for a running apply.")] = 0.0,
) -> None:
    """Revoke the current certificate with the account key; the next plan issues anew."""
    from certplan.engine.revocation import reason_code
    from certplan.engine.sessions import Sessions
    from certplan.ops.revoke import revoke_recorded
    from certplan.store.keystore import Keystore

    try:
        reason_code(reason)
        project, _ = _load()
        backend = _backend(project)
        with backend.lock(lock_timeout):
            project, state = _load()
            record = state.records.get(name)
            if name in state.broken:
                raise CertplanError(f"{name}: its state record does not load: "
                                    f"{state.broken_reasons()[name]}")
            if record is None or record.certificate is None:
                raise CertplanError(f"no certificate recorded for {name!r} (recorded: "
                                    f"{', '.join(sorted(state.records)) or 'none'})")
            _confirm_irreversible(yes, f"revoke serial {record.certificate.serial} of {name}")
            # an operator's one request: a rate limit remembered from apply does not block it
            sessions = Sessions(project, Keystore(project.keystore_dir), ignore_rate_limit=True)
            _, note = revoke_recorded(sessions, backend, record, reason,
                                      expect_serial=state.serial)
    except CertplanError as exc:
        report(exc)
    typer.echo(f"{name}: {note}; recorded in state. `certplan plan` now shows issue.")


@account_app.command("list")
def account_list() -> None:
    """Account keys in the keystore (public facts and key thumbprints, never a key)."""
    from tabulate import tabulate

    from certplan.ops.accounts import list_accounts

    try:
        project, _ = _load()
        views = list_accounts(project)
    except CertplanError as exc:
        report(exc)
    if not views:
        typer.echo("No accounts yet; `certplan apply` creates them.")
        return
    typer.echo(tabulate([[", ".join(v.ca_names) or "-", v.email or "-", v.key_type,
                          v.account_url or "(not registered)", v.created] for v in views],
                        headers=["CA", "e-mail", "key", "account URL", "created"]))


@account_app.command("show")
def account_show(
    ca: CaArg = None,
    remote: Annotated[bool, typer.Option(
        "--remote/--local", help="Also ask the CA for the account's status.")] = True,
) -> None:
    """One account: directory, e-mail, URL, key type and thumbprint; status at the CA."""
    from certplan.ops.accounts import show_account

    try:
        project, _ = _load()
        view, details = show_account(project, ca, remote)
    except CertplanError as exc:
        report(exc)
    for label, value in (("CA", ", ".join(view.ca_names) or "-"),
                         ("directory", view.directory), ("e-mail", view.email or "-"),
                         ("account URL", view.account_url or "(not registered)"),
                         ("created", view.created), ("key type", view.key_type),
                         ("key thumbprint", view.thumbprint)):
        typer.echo(f"{label + ':':16}{value}")
    if details is not None:
        typer.echo(f"{'status:':16}{details.get('status', '?')}")
        typer.echo(f"{'contact:':16}{', '.join(details.get('contact') or []) or '-'}")


@account_app.command("deactivate")
def account_deactivate(ca: CaArg = None, yes: YesOpt = False) -> None:
    """Deactivate the account at the CA; its key is set aside, apply makes a new one."""
    from certplan.ops.accounts import account_for, deactivate_account

    try:
        project, _ = _load()
        endpoint, view = account_for(project, ca)
        _confirm_irreversible(yes, f"deactivate the account {view.account_url} at {endpoint.name}")
        with _backend(project).lock(0.0):  # no apply may be using the key meanwhile
            view, aside = deactivate_account(project, ca)
    except CertplanError as exc:
        report(exc)
    typer.echo(f"Deactivated {view.account_url}; its key was moved to {aside}. "
               f"The next `certplan apply` creates a new account.")


@account_app.command("rollover")
def account_rollover(ca: CaArg = None) -> None:
    """Replace the account key (RFC 8555 key change); the account and its URL stay."""
    from certplan.ops.accounts import rollover_account

    try:
        project, _ = _load()
        with _backend(project).lock(0.0):  # no apply may be signing with the old key
            view, new_thumb = rollover_account(project, ca)
    except CertplanError as exc:
        report(exc)
    typer.echo(f"Rolled over the key of {view.account_url}: thumbprint {view.thumbprint} "
               f"-> {new_thumb}.")
