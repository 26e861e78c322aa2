"""`certplan check`: what monitoring runs. Exit 0 when every certificate is healthy,
1 with one line per reason otherwise (and for an error)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer

from certplan.cli.common import _load, _now, app, fail, read_only_run, report
from certplan.model.errors import CertplanError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(option: str, text: str) -> timedelta:
    """"90s", "30m", "2h", "1d", or a number of seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if m is None:
        fail(f"{option} {text!r}: expected a duration like 30m, 2h or 1d")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2) or "s"])


@app.command()
def check(
    warn_days: Annotated[float | None, typer.Option(
        "--warn-days", min=0, help="Fail when a certificate expires within this many days "
        "(default 7, at most a quarter of its lifetime).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    probe: Annotated[bool, typer.Option(
        "--probe", help="Also ask each install target's `verify` endpoint what it serves.")]
    = False,
    grace: Annotated[str, typer.Option(
        "--grace", help="How long past its renewal time a certificate may stay unrenewed "
        "(the next scheduled apply renews it), e.g. 30m, 2h.")] = "2h",
    at: Annotated[str | None, typer.Option("--at", help="Check as if it were this time.")]
    = None,
    refresh: Annotated[bool, typer.Option(
        "--refresh/--no-refresh", help="Fetch ARI renewal windows (cached, as plan does).")]
    = True,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.1, help="Seconds for each endpoint's handshake.")] = 5.0,
) -> None:
    """Exit non-zero when a certificate is expired, near expiry, overdue for renewal, not
    what its install targets hold, or (--probe) not what its endpoint serves."""
    from certplan.core.checks import CHECK_RENDERERS
    from certplan.ops.check import run_check

    read_only_run()
    if fmt not in CHECK_RENDERERS:
        fail(f"--format {fmt!r}: choose {' or '.join(CHECK_RENDERERS)}")
    grace_delta = parse_duration("--grace", grace)
    now = _now(at)
    try:
        project, state = _load()
        result = run_check(project, state, now,
                           warn=timedelta(days=warn_days) if warn_days is not None else None,
                           grace=grace_delta, probe=probe, refresh=refresh, timeout=timeout)
    except CertplanError as exc:
        report(exc)
    typer.echo(CHECK_RENDERERS[fmt](result), nl=False)
    if not result.ok:
        raise typer.Exit(1)
