"""Operations commands: `certplan metrics`, and what `apply` does once it has run
(run history, alerts, --metrics-file) through `AfterApply`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated

import typer

from certplan.cli.common import _load, app, fail, read_only_run, report
from certplan.model.errors import CertplanError

if TYPE_CHECKING:
    from certplan.core.plan import Plan
    from certplan.engine.apply import Outcome
    from certplan.model.project import Project
    from certplan.store.base import StateBackend


class AfterApply:
    """Times the block it wraps; when the block ends without an exception (a
    cancelled or broken run is no run), records it, alerts and writes metrics."""

    def __init__(self, project: Project, backend: StateBackend, plan: Plan,
                 metrics_file: Path | None, refresh: bool):
        self.project, self.backend, self.plan = project, backend, plan
        self.metrics_file, self.refresh = metrics_file, refresh
        self.outcomes: list[Outcome] = []
        self.error: str | None = None

    def __enter__(self) -> AfterApply:
        self.started, self._t0 = datetime.now(UTC), time.monotonic()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is not None:
            return
        from certplan.ops.afterapply import ApplyRun, after_apply

        run = ApplyRun(self.plan, self.outcomes, self.started, datetime.now(UTC),
                       time.monotonic() - self._t0)
        self.error = after_apply(self.project, self.backend, run,
                                 metrics_file=self.metrics_file, refresh=self.refresh,
                                 log=lambda line: typer.echo(line, err=True))

    def report_error(self) -> None:
        """Exit 1 when the metrics file asked for could not be written (the apply
        itself is done and recorded)."""
        if self.error:
            fail(self.error)


@app.command()
def metrics(
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write here atomically (node_exporter's textfile collector) instead "
        "of printing.")] = None,
    refresh: Annotated[bool, typer.Option(
        "--refresh/--no-refresh", help="Fetch ARI renewal windows, as plan does.")] = True,
) -> None:
    """Prometheus metrics from state and this host's run history, without applying."""
    from certplan.ops.metrics import metrics_for, write_metrics
    from certplan.store.runlog import load_runlog

    read_only_run()
    try:
        project, state = _load()
        runs = load_runlog(project.keystore_dir)
        data = metrics_for(project, state.records, runs, datetime.now(UTC), refresh)
        if out is not None:
            write_metrics(out, data, "--out")
    except CertplanError as exc:
        report(exc)
    if out is None:
        typer.echo(data.decode(), nl=False)
