"""What happens once apply has run: the run history, the alerts, the metrics file.

Called by the `apply` command, under the apply lock, with the plan and the
outcomes. Nothing here fails the apply: an alert that does not go out, or a run
history that cannot be written, is logged as a warning. Only a metrics file asked
for with --metrics-file that cannot be written is returned as an error.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from certplan.core.plan import Action, Plan
from certplan.engine.apply import Outcome
from certplan.model.errors import CertplanError
from certplan.model.project import Project
from certplan.model.records import CertRecord
from certplan.ops.notify.events import skipped
from certplan.store.atomic import ensure_private_dir
from certplan.store.base import StateBackend
from certplan.store.runlog import LastApply, RunLog, RunLogError, load_runlog, save_runlog

Log = Callable[[str], None]


@dataclass(frozen=True)
class ApplyRun:
    plan: Plan
    outcomes: list[Outcome]
    started: datetime
    finished: datetime
    duration: float  # seconds, from a monotonic clock


def record_run(runs: RunLog, run: ApplyRun) -> None:
    """Fold one apply into the history: per certificate success or failure, and the
    apply's own time, duration and counts."""
    counts: dict[str, int] = {}
    for o in run.outcomes:
        result = "skipped" if skipped(o) else "ok" if o.ok else "failed"
        key = f"{o.action.value}/{result}"
        counts[key] = counts.get(key, 0) + 1
        if result == "skipped":
            continue
        if o.ok and o.action is Action.REMOVE:
            runs.certs.pop(o.name, None)
            continue
        history = runs.cert(o.name)
        if o.ok:
            history.last_success, history.consecutive_failures = run.finished, 0
            history.reminded = None
        else:
            history.last_failure = run.finished
            history.consecutive_failures += 1
    ok = all(o.ok for o in run.outcomes) and not run.plan.problems
    runs.last_apply = LastApply(run.started, round(run.duration, 3), counts, ok)
    if ok:
        runs.last_good_apply = run.finished


def after_apply(project: Project, backend: StateBackend, run: ApplyRun, *,
                metrics_file: Path | None, refresh: bool, log: Log) -> str | None:
    """History, alerts and metrics; the error to report when the metrics file asked
    for cannot be written."""
    keystore = project.keystore_dir
    writable = True
    try:
        runs = load_runlog(keystore)
    except RunLogError as exc:
        log(f"Warning: {exc}")
        runs, writable = RunLog(), False
    record_run(runs, run)
    records: Mapping[str, CertRecord] = {}
    if project.config.notify.target or metrics_file is not None:
        try:
            records = backend.load().records
        except CertplanError as exc:
            log(f"Warning: alerts and metrics without the state: {exc}")
    if project.config.notify.target:
        try:
            _alert(project, run, runs, records, log)
        except Exception as exc:  # a bug in alerting must not fail a done apply
            log(f"Warning: alerts not sent: internal error {type(exc).__name__}: {exc}")
    if writable:
        try:
            ensure_private_dir(keystore)
            save_runlog(keystore, runs)
        except (RunLogError, OSError) as exc:
            log(f"Warning: {exc}")
    if metrics_file is None:
        return None
    from certplan.ops.metrics import metrics_for, write_metrics

    try:
        write_metrics(metrics_file, metrics_for(project, records, runs, run.finished, refresh),
                      "--metrics-file")
    except CertplanError as exc:
        return str(exc)
    return None


def _alert(project: Project, run: ApplyRun, runs: RunLog, records: Mapping[str, CertRecord],
           log: Log) -> None:
    from certplan.ops.notify.dispatch import dispatch
    from certplan.ops.notify.events import expiring_events, outcome_events

    settings = project.config.notify
    limited = _rate_limit_evidence(project, run.finished)
    expiring = expiring_events(records, runs, settings.remind_days, run.finished)
    events = outcome_events(run.outcomes, limited) + expiring
    if not events:
        return
    delivered = dispatch(settings, events, socket.gethostname(), str(project.root.resolve()),
                         run.finished, log)
    if "expiring" in delivered:  # remembered only once it went out
        for e in expiring:
            runs.cert(e.certificate).reminded = run.finished


def _rate_limit_evidence(project: Project, now: datetime) -> Callable[[str], datetime | None]:
    """For a certificate: the end of an active rate limit that one of its CAs set on
    this host's account (store.ratelimits), or None."""
    from certplan.engine.sessions import CaEndpoint
    from certplan.store.ratelimits import RateLimitFileError, RateLimits

    book = RateLimits(project.keystore_dir)
    wanted = project.by_name()

    def limited(name: str) -> datetime | None:
        desired = wanted.get(name)
        for ca in desired.spec.ca if desired is not None else []:
            try:
                endpoint = CaEndpoint.of(project, ca)
                limit = book.load(endpoint.directory, endpoint.email or "")
            except (CertplanError, RateLimitFileError):
                continue
            if limit is not None and limit.directory == endpoint.directory \
                    and limit.active(now):
                return limit.until
        return None

    return limited
