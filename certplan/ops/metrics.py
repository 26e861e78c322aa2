"""Prometheus metrics for node_exporter's textfile collector, written atomically.

Per certificate: not-before and not-after (state), the renewal time (the plan's
own schedule: one code path with `plan` and `list`), the last success and failure
and the failures in a row (the run history, store.runlog). Per apply: when it ran,
how long it took, and how many certificates ended how, by action and result.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from certplan.model.errors import CertplanError
from certplan.model.project import Project
from certplan.model.records import CertRecord
from certplan.store.atomic import atomic_write
from certplan.store.runlog import RunLog

MODE = 0o644  # node_exporter reads it; nothing in it is secret


def renewal_times(project: Project, records: Mapping[str, CertRecord], now: datetime,
                  refresh: bool) -> dict[str, datetime]:
    """When each certificate renews, as `plan` says (ARI included when refreshed)."""
    from certplan.core.plan import make_plan
    from certplan.observe.gather import observe

    plan = make_plan(project.desired, records, observe(project, dict(records), refresh), now)
    return {c.name: c.renew_at for c in plan.changes + plan.noops if c.renew_at is not None}


def metrics_text(project: Project, records: Mapping[str, CertRecord], runs: RunLog,
                 renew_at: Mapping[str, datetime]) -> bytes:
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    reg = CollectorRegistry()

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ("certificate",)) -> Gauge:
        return Gauge(f"certplan_{name}", doc, labels, registry=reg)

    not_after = gauge("certificate_not_after_timestamp_seconds", "When the certificate "
                      "recorded in state expires.")
    not_before = gauge("certificate_not_before_timestamp_seconds", "When the certificate "
                       "recorded in state became valid.")
    renewal = gauge("certificate_renewal_timestamp_seconds", "When the certificate is due "
                    "for renewal (the plan's schedule).")
    success = gauge("certificate_last_success_timestamp_seconds", "When an apply last "
                    "succeeded for the certificate on this host.")
    failure = gauge("certificate_last_failure_timestamp_seconds", "When an apply last "
                    "failed for the certificate on this host.")
    failures = gauge("certificate_consecutive_failures", "Applies in a row that failed for "
                     "the certificate on this host (0 after a success).")
    names = sorted(set(records) | set(project.by_name()))
    for name in names:
        rec = records.get(name)
        if rec is not None and rec.certificate is not None:
            not_after.labels(name).set(rec.certificate.not_after.timestamp())
            not_before.labels(name).set(rec.certificate.not_before.timestamp())
        if name in renew_at:
            renewal.labels(name).set(renew_at[name].timestamp())
        history = runs.certs.get(name)
        failures.labels(name).set(history.consecutive_failures if history else 0)
        if history is not None and history.last_success is not None:
            success.labels(name).set(history.last_success.timestamp())
        if history is not None and history.last_failure is not None:
            failure.labels(name).set(history.last_failure.timestamp())
    last = runs.last_apply
    if last is not None:
        gauge("apply_last_run_timestamp_seconds", "When the last apply started.",
              ()).set(last.started.timestamp())
        gauge("apply_duration_seconds", "How long the last apply took.", ()).set(last.duration)
        counts = gauge("apply_certificates", "Certificates the last apply changed, by action "
                       "and result.", ("action", "result"))
        for key, n in sorted(last.counts.items()):
            action, _, result = key.partition("/")
            counts.labels(action, result).set(n)
    if runs.last_good_apply is not None:
        gauge("apply_last_success_timestamp_seconds", "When an apply last ended with no "
              "certificate failed.", ()).set(runs.last_good_apply.timestamp())
    return bytes(generate_latest(reg))


class MetricsWriteError(CertplanError):
    """The metrics file cannot be written (the previous one stays as it was)."""


def write_metrics(path: Path, data: bytes, shown: str) -> None:
    """Atomically (temp file beside it, fsync, rename): the collector never reads half
    a file, and a full disk leaves the previous file whole."""
    try:
        atomic_write(path, data, MODE)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise MetricsWriteError(f"{shown} {path}: cannot write the metrics: {why}; "
                                f"the previous file is unchanged") from None


def metrics_for(project: Project, records: Mapping[str, CertRecord], runs: RunLog,
                now: datetime, refresh: bool) -> bytes:
    return metrics_text(project, records, runs, renewal_times(project, records, now, refresh))


