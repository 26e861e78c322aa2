"""The everyday commands: validate, plan, apply, list, show, init, schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from certplan.cli.common import (
    ROOT,
    ReplaceAllOpt,
    ReplaceOpt,
    TargetOpt,
    _backend,
    _load,
    _make_plan,
    _reload_state,
    app,
    exit_for_problems,
    fail,
    read_only_run,
    report,
)
from certplan.cli.output import LogFormatOpt, Output, QuietOpt, VerboseOpt
from certplan.cli.progress import summary
from certplan.model.errors import CertplanError

RefreshOpt = Annotated[bool, typer.Option(
    "--refresh/--no-refresh", help="Use ARI renewal windows, as plan does (cached until the "
    "CA's Retry-After; --no-refresh: none).")]

if TYPE_CHECKING:
    from certplan.core.plan import Plan
    from certplan.engine.apply import Outcome
    from certplan.model.project import Project
    from certplan.model.records import State
    from certplan.store.base import StateBackend


@app.command()
def validate() -> None:
    """Check certplan.toml, every spec and the state; report every problem at once."""
    try:
        project, state = _load(strict=True)
    except CertplanError as exc:
        report(exc)
    files = {d.file for d in project.desired}
    typer.echo(f"OK: {len(project.desired)} certificate(s) in {len(files)} spec file(s); "
               f"{len(state.records)} recorded in state.")


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
    offline: Annotated[bool, typer.Option(
        "--offline", help="No network and no look at installed targets (pull-request CI): "
        "lifecycle from specs, state and the time; installs from spec changes.")] = False,
    probe: Annotated[bool, typer.Option(
        "--probe", help="Ask each `verify` endpoint which certificate it serves (as apply "
        "does; run it on the host).")] = False,
) -> None:
    """Show what apply would do, and why."""
    from certplan.core.render import RENDERERS

    read_only_run()
    if fmt not in RENDERERS:
        fail(f"--format {fmt!r}: choose one of {', '.join(RENDERERS)}")
    if probe and offline:
        fail("--probe asks the servers, --offline asks nothing: choose one")
    try:
        project, state, the_plan = _make_plan(target, replace, replace_all, at,
                                              refresh and not offline, offline=offline,
                                              probe=probe)
        if out is not None:
            from certplan.ops.planfiles import save_plan

            save_plan(out, the_plan, state, project)
    except CertplanError as exc:
        report(exc)
    except OSError as exc:  # --out in a missing or unwritable folder, disk full, ...
        fail(f"--out {out}: cannot write the plan: {exc.strerror or exc}")
    typer.echo(RENDERERS[fmt](the_plan, verbose, offline), nl=False)
    if out is not None:
        typer.echo(f"Saved the plan to {out}; run `certplan apply {out}` to carry it out.",
                   err=True)
    exit_for_problems(the_plan)
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
        "--lock-timeout", min=0,
        help="Seconds to wait for another apply (PostgreSQL state: for a certificate "
             "another runner works on).")] = 0.0,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="Seconds allowed per certificate, every request to the CA "
        "included.")] = 300.0,
    ignore_rate_limit: Annotated[bool, typer.Option(
        "--ignore-rate-limit", help="Contact a CA even though it asked to wait (a rate limit "
        "recorded by an earlier run).")] = False,
    metrics_file: Annotated[Path | None, typer.Option(
        "--metrics-file", help="Then write Prometheus metrics here (node_exporter's "
        "textfile collector), atomically.")] = None,
    log_format: LogFormatOpt = "text", verbose: VerboseOpt = False, quiet: QuietOpt = False,
) -> None:
    """Carry out the plan (or a saved plan), then record what was done."""
    from certplan.cli.operate import AfterApply
    from certplan.core.render import render_text

    if planfile is not None and (target or replace or replace_all):
        fail("a saved plan is applied exactly: --target and --replace belong to `plan`")
    out = Output.of(log_format, verbose, quiet)
    try:
        project, _ = _load()
        backend = _backend(project)
        with backend.run_lock(lock_timeout):  # postgres: shared; files: exclusive
            from certplan.store.keystore import Keystore

            Keystore(project.keystore_dir).check_trusted()  # before anything is written
            state = _reload_state(backend)  # another apply may have moved it on
            if planfile is not None:
                from certplan.ops.planfiles import bind_plan, load_plan

                the_plan = bind_plan(load_plan(planfile, state, project), planfile, state,
                                     project, refresh=refresh)
            else:
                _, _, the_plan = _make_plan(target, replace, replace_all, None, refresh,
                                            loaded=(project, state), probe=True)
            if not quiet:
                typer.echo(render_text(the_plan), nl=False)
            # history, alerts and metrics once it ran (also for an empty plan)
            with AfterApply(project, backend, the_plan, metrics_file, refresh) as run:
                if not the_plan.empty:
                    _confirm(auto_approve, planfile is not None)
                    run.outcomes = _run_apply(project, state, backend, the_plan, parallel,
                                              timeout, ignore_rate_limit, lock_timeout, out)
            if the_plan.empty:
                run.report_error()
                exit_for_problems(the_plan)
                return
    except CertplanError as exc:
        report(exc)
    failed = summary(run.outcomes, quiet, typer.echo)
    run.report_error()
    exit_for_problems(the_plan)
    if failed:
        raise typer.Exit(1)


def _confirm(auto_approve: bool, saved: bool) -> None:
    if auto_approve or saved:
        return
    if not sys.stdin.isatty():
        fail("not a terminal, so nobody can confirm: pass --auto-approve (cron, CI) or apply "
             "a saved plan (`plan --out FILE`, then `apply FILE`)")
    if not typer.confirm("Apply these changes?", default=False):
        fail("cancelled; nothing was changed")


def _run_apply(project: Project, state: State, backend: StateBackend, the_plan: Plan,
               parallel: int, timeout: float, ignore_rate_limit: bool = False,
               lock_timeout: float = 0.0, out: Output | None = None) -> list[Outcome]:
    from certplan.engine.apply import Applier
    from certplan.store.keystore import Keystore

    out = out or Output.of("text", False, False)
    warning = Keystore(project.keystore_dir).gitignore_warning(project.root)
    if warning and not out.quiet:
        typer.echo(f"Warning: {warning}", err=True)
    with out.progress([c.name for c in the_plan.changes]) as progress:
        applier = Applier(project, state, store=backend, log=progress.log, timeout=timeout,
                          ignore_rate_limit=ignore_rate_limit,
                          trace=progress.trace if out.verbose else None)
        applier.lock_timeout = lock_timeout  # a shared backend: per certificate
        outcomes = applier.run(the_plan, parallel=parallel)
    progress.results(outcomes)
    return outcomes


@app.command("list")
def list_(
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    refresh: RefreshOpt = True,
    at: Annotated[str | None, typer.Option("--at", help="Status as of this time.")] = None,
) -> None:
    """Every certificate: main domain, key, SANs, CA, created, next renewal, expiry, status."""
    from certplan.core.inventory import LIST_RENDERERS, rows

    read_only_run()
    if fmt not in LIST_RENDERERS:
        fail(f"--format {fmt!r}: choose {' or '.join(LIST_RENDERERS)}")
    try:
        project, state, the_plan = _make_plan(None, None, False, at, refresh)
    except CertplanError as exc:
        report(exc)
    typer.echo(LIST_RENDERERS[fmt](rows(project, state.records, the_plan)), nl=False)
    from certplan.core.escape import plain

    for name, why in the_plan.problems:
        typer.echo(f"Error: {plain(name)}: {plain(why)}", err=True)
    exit_for_problems(the_plan)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="The certificate.")],
    fmt: Annotated[str, typer.Option("--format", help="text, or json (the state record).")]
    = "text",
    at: Annotated[str | None, typer.Option("--at", help="As of this time.")] = None,
    refresh: RefreshOpt = True,
) -> None:
    """One certificate: names, key, issuer, serial, validity, next renewal and why, and
    each install target (state is public; no secret is shown)."""
    from certplan.core.escape import plain

    if fmt not in ("text", "json"):
        fail(f"--format {fmt!r}: choose text or json")
    read_only_run()
    try:
        project, state = _load()
        if name in state.broken:
            fail(f"{plain(name)}: its state record does not load: "
                 f"{plain(state.broken_reasons()[name])}")
        if name not in state.records:
            fail(f"no recorded certificate named {plain(name)!r} "
                 f"(recorded: {', '.join(sorted(state.records)) or 'none'})")
        record = state.records[name]
        if fmt == "json":
            from certplan.ops.inventory import show as show_record

            typer.echo(show_record(record), nl=False)
            return
        _, _, the_plan = _make_plan([name], None, False, at, refresh, loaded=(project, state))
    except CertplanError as exc:
        report(exc)
    from certplan.core.showview import render_show

    change = next((c for c in the_plan.changes + the_plan.noops if c.name == name), None)
    typer.echo(render_show(record, change, project.by_name().get(name), the_plan.now), nl=False)


@app.command()
def init(folder: Annotated[Path, typer.Argument(help="Where to create it.")] = Path(".")) -> None:
    """Create a ready GitOps repository: certplan.toml, specs/, state/, .gitignore."""
    from certplan.ops.scaffold import init_project

    target = folder if folder.is_absolute() else ROOT / folder
    try:
        written = init_project(target)
    except CertplanError as exc:
        report(exc)
    for path in written:
        typer.echo(f"created {path}")
    typer.echo("Next: edit specs/example.toml, then `certplan validate` and `certplan plan`.")


@app.command()
def schema(
    kind: Annotated[str, typer.Option("--kind", help="spec (specs/*.toml) or config "
                                                     "(certplan.toml).")] = "spec",
) -> None:
    """Print the JSON Schema of spec files or of certplan.toml, for editors (taplo)."""
    from certplan.ops.schema import KINDS, json_schema

    if kind not in KINDS:
        fail(f"--kind {kind!r}: choose {' or '.join(KINDS)}")
    typer.echo(json.dumps(json_schema(kind), indent=2))
