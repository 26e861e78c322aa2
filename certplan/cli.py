"""The command line. The only module that prints or exits."""

from __future__ import annotations

import gc
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from certplan import __version__
from certplan.errors import CertplanError, InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Plan and apply TLS certificates through ACME, like Terraform.")
ca_app = typer.Typer(no_args_is_help=True, help="Certificate authorities.")
app.add_typer(ca_app, name="ca")
account_app = typer.Typer(no_args_is_help=True, help="ACME accounts in the keystore.")
app.add_typer(account_app, name="account")

ROOT = Path(".")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def report(exc: CertplanError) -> NoReturn:
    if isinstance(exc, InputError):
        n = len(exc.problems)
        typer.echo(f"Error: {n} problem{'s' if n != 1 else ''} found:", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1)
    fail(str(exc))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"certplan {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    chdir: Annotated[Path, typer.Option("-C", "--chdir", help="Project folder.")] = Path("."),
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    import os

    if not chdir.is_dir():
        fail(f"-C {chdir}: no such folder")
    # Like `git -C` and `make -C`: relative paths in specs and config (webroot,
    # install files, ca_bundle) are relative to the project folder.
    os.chdir(chdir)


def _load():  # type: ignore[no-untyped-def]
    """Project and state, or every problem in both at once."""
    from certplan.project import load_project
    from certplan.state import load_state

    problems = []
    try:
        project = load_project(ROOT)
    except InputError as exc:
        problems += exc.problems
        project = None
    state_dir = project.state_dir if project else ROOT / "state"
    state = load_state(state_dir)
    problems += state.problems
    if problems:
        raise InputError(problems)
    # What was loaded lives until the process ends: keep the cyclic collector from
    # scanning it again and again while planning (10,000 certificates: -0.15 s).
    gc.freeze()
    return project, state


def _now(at: str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--at {at!r}: expected an ISO 8601 time like 2026-12-24T00:00:00Z")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.command()
def validate() -> None:
    """Check certplan.toml, every spec and the state; report every problem at once."""
    try:
        project, state = _load()
    except CertplanError as exc:
        report(exc)
    files = {d.file for d in project.desired}
    typer.echo(f"OK: {len(project.desired)} certificate(s) in {len(files)} spec file(s); "
               f"{len(state.records)} recorded in state.")


TargetOpt = Annotated[list[str] | None, typer.Option("--target", help="Only this certificate.")]
ReplaceOpt = Annotated[list[str] | None, typer.Option(
    "--replace", help="Renew this certificate now, due or not.")]
ReplaceAllOpt = Annotated[bool, typer.Option("--replace-all", help="Renew every certificate.")]


def _make_plan(targets: list[str] | None, replace: list[str] | None, replace_all: bool,
               at: str | None, refresh: bool):  # type: ignore[no-untyped-def]
    from certplan.observe import observe
    from certplan.plan import make_plan

    project, state = _load()
    known = set(project.by_name()) | set(state.records)
    for name in (targets or []) + (replace or []):
        if name not in known:
            raise CertplanError(f"no certificate named {name!r} "
                                f"(known: {', '.join(sorted(known)) or 'none'})")
    obs = observe(project, state.records, refresh_ari=refresh)
    plan = make_plan(project.desired, state.records, obs, _now(at), replace=replace or (),
                     replace_all=replace_all, targets=targets or None)
    return project, state, plan


@app.command()
def plan(
    fmt: Annotated[str, typer.Option("--format", help="text, markdown or json.")] = "text",
    out: Annotated[Path | None, typer.Option("--out", help="Save the plan for `apply FILE`.")]
    = None,
    detailed_exitcode: Annotated[bool, typer.Option(
        "--detailed-exitcode", help="Exit 0: no changes, 2: changes, 1: error.")] = False,
    target: TargetOpt = None, replace: ReplaceOpt = None, replace_all: ReplaceAllOpt = False,
    at: Annotated[str | None, typer.Option("--at", help="Plan as if it were this time.")] = None,
    refresh: Annotated[bool, typer.Option(
        "--refresh/--no-refresh", help="Fetch ARI renewal windows from the CAs.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show unchanged too.")]
    = False,
) -> None:
    """Show what apply would do, and why."""
    from certplan.render import RENDERERS

    if fmt not in RENDERERS:
        fail(f"--format {fmt!r}: choose one of {', '.join(RENDERERS)}")
    try:
        project, state, the_plan = _make_plan(target, replace, replace_all, at, refresh)
        if out is not None:
            from certplan.planfile import save_plan

            save_plan(out, the_plan, state, project)
    except CertplanError as exc:
        report(exc)
    typer.echo(RENDERERS[fmt](the_plan, verbose), nl=False)
    if out is not None:
        typer.echo(f"Saved the plan to {out}; run `certplan apply {out}` to carry it out.",
                   err=True)
    if detailed_exitcode and not the_plan.empty:
        raise typer.Exit(2)


@app.command()
def apply(
    planfile: Annotated[Path | None, typer.Argument(help="A plan saved by `plan --out`.")]
    = None,
    auto_approve: Annotated[bool, typer.Option("--auto-approve",
                                               help="Do not ask (cron, CI).")] = False,
    parallel: Annotated[int, typer.Option("--parallel", min=1, max=64,
                                          help="Certificates at once.")] = 4,
    target: TargetOpt = None, replace: ReplaceOpt = None, replace_all: ReplaceAllOpt = False,
    refresh: Annotated[bool, typer.Option("--refresh/--no-refresh")] = True,
    lock_timeout: Annotated[float, typer.Option(
        "--lock-timeout", min=0, help="Seconds to wait for another apply.")] = 0.0,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="Seconds allowed per certificate.")] = 300.0,
) -> None:
    """Carry out the plan (or a saved plan), then record what was done."""
    from certplan.lock import state_lock
    from certplan.render import render_text

    if planfile is not None and (target or replace or replace_all):
        fail("a saved plan is applied exactly: --target and --replace belong to `plan`")
    try:
        project, _ = _load()
        with state_lock(project.state_dir, timeout=lock_timeout):
            project, state = _load()
            if planfile is not None:
                from certplan.planfile import load_plan

                the_plan = load_plan(planfile, state, project)
            else:
                _, _, the_plan = _make_plan(target, replace, replace_all, None, refresh)
            typer.echo(render_text(the_plan), nl=False)
            if the_plan.empty:
                return
            _confirm(auto_approve, planfile is not None)
            outcomes = _run_apply(project, state, the_plan, parallel, timeout)
    except CertplanError as exc:
        report(exc)
    _summary(outcomes)


def _confirm(auto_approve: bool, saved: bool) -> None:
    if auto_approve or saved:
        return
    if not sys.stdin.isatty():
        fail("not a terminal, so nobody can confirm: pass --auto-approve (cron, CI) or apply "
             "a saved plan (`plan --out FILE`, then `apply FILE`)")
    if not typer.confirm("Apply these changes?", default=False):
        fail("cancelled; nothing was changed")


def _run_apply(project, state, the_plan, parallel: int, timeout: float):  # type: ignore[no-untyped-def]
    from certplan.apply import Applier
    from certplan.keystore import Keystore

    warning = Keystore(project.keystore_dir).gitignore_warning(project.root)
    if warning:
        typer.echo(f"Warning: {warning}", err=True)
    applier = Applier(project, state, log=lambda line: typer.echo(line, err=True),
                      timeout=timeout)
    return applier.run(the_plan, parallel=parallel)


def _summary(outcomes) -> None:  # type: ignore[no-untyped-def]
    from tabulate import tabulate

    rows = [[o.name, o.action.value, "ok" if o.ok else "FAILED", o.detail.splitlines()[0]]
            for o in outcomes]
    typer.echo("")
    typer.echo(tabulate(rows, headers=["certificate", "action", "result", "detail"]))
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        typer.echo(f"\n{o.name} ({o.action.value}) failed: {o.detail}")
        if o.left:
            typer.echo(f"  left as it was: {o.left}")
    typer.echo(f"\nApply: {len(outcomes) - len(failed)} done, {len(failed)} failed.")
    if failed:
        raise typer.Exit(1)


@app.command("list")
def list_(
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    refresh: Annotated[bool, typer.Option("--refresh/--no-refresh")] = False,
    at: Annotated[str | None, typer.Option("--at", help="Status as of this time.")] = None,
) -> None:
    """Every certificate: main domain, key, SANs, CA, created, next renewal, expiry, status."""
    from tabulate import tabulate

    from certplan.inventory import rows

    if fmt not in ("table", "json"):
        fail(f"--format {fmt!r}: choose table or json")
    try:
        project, state, the_plan = _make_plan(None, None, False, at, refresh)
    except CertplanError as exc:
        report(exc)
    data = rows(project, state.records, the_plan)
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2))
        return
    if not data:
        typer.echo("No certificates.")
        return
    table = [[r["name"], r["main_domain"], r["key"], ", ".join(r["sans"]), r["ca"],
              r["created"], r["next_renewal"], r["expires"], r["status"]] for r in data]
    typer.echo(tabulate(table, headers=["name", "main domain", "key", "SANs", "CA", "created",
                                        "next renewal", "expires", "status"]))


@app.command()
def show(name: str) -> None:
    """Everything recorded for one certificate (state is public; no secret is shown)."""
    from certplan.inventory import show as show_record

    try:
        _, state = _load()
    except CertplanError as exc:
        report(exc)
    if name not in state.records:
        fail(f"no recorded certificate named {name!r} "
             f"(recorded: {', '.join(sorted(state.records)) or 'none'})")
    typer.echo(show_record(state.records[name]), nl=False)


@app.command()
def init(folder: Annotated[Path, typer.Argument(help="Where to create it.")] = Path(".")) -> None:
    """Create a ready GitOps repository: certplan.toml, specs/, state/, .gitignore."""
    from certplan.scaffold import init_project

    target = folder if folder.is_absolute() else ROOT / folder
    try:
        written = init_project(target)
    except CertplanError as exc:
        report(exc)
    for path in written:
        typer.echo(f"created {path}")
    typer.echo("Next: edit specs/example.toml, then `certplan validate` and `certplan plan`.")


@app.command()
def schema() -> None:
    """Print the JSON Schema of spec and config files."""
    from certplan.schema import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@ca_app.command("list")
def ca_list() -> None:
    """CA presets and the [ca.NAME] tables of certplan.toml."""
    from tabulate import tabulate

    from certplan.presets import PRESETS

    rows = [[p.name, p.directory, "yes" if p.eab_required else "no", p.description]
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
    from certplan.accounts import Sessions
    from certplan.keystore import Keystore
    from certplan.lock import state_lock
    from certplan.revoke import reason_code, revoke_recorded
    from certplan.state import StateStore

    try:
        reason_code(reason)
        project, _ = _load()
        with state_lock(project.state_dir, timeout=lock_timeout):
            project, state = _load()
            record = state.records.get(name)
            if record is None or record.certificate is None:
                raise CertplanError(f"no certificate recorded for {name!r} (recorded: "
                                    f"{', '.join(sorted(state.records)) or 'none'})")
            _confirm_irreversible(yes, f"revoke serial {record.certificate.serial} of {name}")
            sessions = Sessions(project, Keystore(project.keystore_dir))
            _, note = revoke_recorded(sessions, StateStore(project.state_dir), record, reason)
    except CertplanError as exc:
        report(exc)
    typer.echo(f"{name}: {note}; recorded in state. `certplan plan` now shows issue.")


@account_app.command("list")
def account_list() -> None:
    """Account keys in the keystore (public facts and key thumbprints, never a key)."""
    from tabulate import tabulate

    from certplan.account_ops import list_accounts

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
    from certplan.account_ops import show_account

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
    from certplan.account_ops import account_for, deactivate_account
    from certplan.lock import state_lock

    try:
        project, _ = _load()
        target, view = account_for(project, ca)
        _confirm_irreversible(yes, f"deactivate the account {view.account_url} at {target.name}")
        with state_lock(project.state_dir):  # no apply may be using the key meanwhile
            view, aside = deactivate_account(project, ca)
    except CertplanError as exc:
        report(exc)
    typer.echo(f"Deactivated {view.account_url}; its key was moved to {aside}. "
               f"The next `certplan apply` creates a new account.")


@account_app.command("rollover")
def account_rollover(ca: CaArg = None) -> None:
    """Replace the account key (RFC 8555 key change); the account and its URL stay."""
    from certplan.account_ops import rollover_account
    from certplan.lock import state_lock

    try:
        project, _ = _load()
        with state_lock(project.state_dir):  # no apply may be signing with the old key
            view, new_thumb = rollover_account(project, ca)
    except CertplanError as exc:
        report(exc)
    typer.echo(f"Rolled over the key of {view.account_url}: thumbprint {view.thumbprint} "
               f"-> {new_thumb}.")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
