"""Shared pieces of the command line: the typer app, loading, errors, options."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from certplan import __version__
from certplan.model.errors import CertplanError, InputError, Problem

if TYPE_CHECKING:
    from certplan.core.plan import Plan
    from certplan.model.observed import Observations
    from certplan.model.project import Project
    from certplan.model.records import State
    from certplan.store.base import StateBackend

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


def _load(strict: bool = False) -> tuple[Project, State]:
    """Project and state, or every problem in both at once. A state record that does
    not load stops only its own certificate (State.broken, shown by the plan), unless
    `strict` (validate), which reports it with the rest."""
    from certplan.load import load_project

    problems: list[Problem] = []
    project: Project | None = None
    state: State | None = None
    try:
        project = load_project(ROOT)
    except InputError as exc:
        problems += exc.problems
    try:
        state = _backend(project).load()
        problems += state.all_problems() if strict else state.problems
    except InputError as exc:
        problems += exc.problems
    if problems or project is None or state is None:
        raise InputError(problems)
    # What was loaded lives until the process ends: keep the cyclic collector from
    # scanning it again and again while planning (10,000 certificates: -0.15 s).
    gc.freeze()
    return project, state


def _backend(project: Project | None) -> StateBackend:
    """The configured state backend; with no loadable project, the default one
    (the files backend in ./state), so that its problems are reported too."""
    from certplan.model.config import Config
    from certplan.model.project import Project
    from certplan.store.backends import open_state_backend

    return open_state_backend(project or Project(root=ROOT, config=Config()))


def _now(at: str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--at {at!r}: expected an ISO 8601 time like 2026-12-24T00:00:00Z")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


TargetOpt = Annotated[list[str] | None, typer.Option("--target", help="Only this certificate.")]
ReplaceOpt = Annotated[list[str] | None, typer.Option(
    "--replace", help="Renew this certificate now, due or not.")]
ReplaceAllOpt = Annotated[bool, typer.Option("--replace-all", help="Renew every certificate.")]


def _reload_state(backend: StateBackend) -> State:
    """The state again (e.g. once the apply lock is held); the specs stay as loaded."""
    state = backend.load()
    if state.problems:
        raise InputError(state.problems)
    return state


def _make_plan(targets: list[str] | None, replace: list[str] | None, replace_all: bool,
               at: str | None, refresh: bool,
               loaded: tuple[Project, State] | None = None,
               offline: bool = False,
               probe: bool = False) -> tuple[Project, State, Plan]:
    """Plan from `loaded` (project, state), or from what `_load()` reads; `offline`:
    without looking at installed targets or the network (plan --offline); `probe`:
    ask each verified endpoint what it serves (apply, `plan --probe`)."""
    from certplan.core.plan import make_plan
    from certplan.observe.gather import observe

    project, state = loaded or _load()
    known = set(project.by_name()) | set(state.records) | set(state.broken)
    for name in (targets or []) + (replace or []):
        if name not in known:
            raise CertplanError(f"no certificate named {name!r} "
                                f"(known: {', '.join(sorted(known)) or 'none'})")
    obs = observe(project, state.records, refresh_ari=refresh, offline=offline)
    now, broken = _now(at), state.broken_reasons()

    def plan_from(seen: Observations) -> Plan:
        return make_plan(project.desired, state.records, seen, now, replace=replace or (),
                         replace_all=replace_all, targets=targets or None, broken=broken)

    if probe:
        from certplan.ops.probe import with_probe

        _, plan = with_probe(plan_from, obs, project, state.records)
    else:
        plan = plan_from(obs)
    from certplan.ops.ratelimits import with_rate_limits

    return project, state, with_rate_limits(plan, project)


def exit_for_problems(plan: Plan) -> None:
    """Exit 1 naming each certificate left out because its state record does not load
    (the others were planned, and applied, as usual)."""
    if plan.problems:
        names = ", ".join(name for name, _ in plan.problems)
        fail(f"not planned because its state record does not load: {names} "
             f"(see the Error lines above)")


def read_only_run() -> None:
    """A plan or list: a short process that reads, plans, prints and ends, building
    no reference cycles worth collecting. The cyclic collector only costs time here
    (10,000 certificates: about 0.1 s of 2 s), so it is switched off; memory is
    freed by reference counting as before. apply keeps it (long runs, threads)."""
    gc.disable()
