"""`certplan check`: observe, plan and (with --probe) ask each endpoint, then judge
with certplan.core.checks. Read-only: nothing is written, no CA is asked for anything
but ARI windows (as `plan` does, through the same cache)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from certplan.core.checks import DEFAULT_GRACE, CheckReport, check_all
from certplan.core.plan import make_plan
from certplan.model.probed import Probed
from certplan.model.project import Project
from certplan.model.records import State
from certplan.observe.gather import observe

PROBES_AT_ONCE = 8


def endpoints(project: Project, state: State) -> dict[tuple[str, int], tuple[str, str]]:
    """(certificate, install index) -> (HOST:PORT, SNI name) for each install target
    that names an endpoint (`verify`) and whose certificate is recorded. The SNI name
    is the target's own, else the one apply's verify asks for."""
    from certplan.observe.served import verify_endpoint

    out = {}
    for d in project.desired:
        rec = state.records.get(d.spec.name)
        if rec is None or rec.certificate is None:
            continue
        for i, target in enumerate(d.spec.install):
            endpoint = verify_endpoint(target, d.spec.domains)
            if endpoint is not None:
                out[(d.spec.name, i)] = (endpoint.address, endpoint.server_name)
    return out


def probe_all(wanted: dict[tuple[str, int], tuple[str, str]],
              timeout: float) -> dict[tuple[str, int], Probed]:
    """One handshake per endpoint, a few at once (one slow endpoint does not hold up
    the rest); each bounded by `timeout`."""
    from certplan.observe.probe import probe

    if not wanted:
        return {}
    keys = sorted(wanted)
    with ThreadPoolExecutor(max_workers=min(PROBES_AT_ONCE, len(keys))) as pool:
        found = pool.map(lambda k: probe(wanted[k][0], wanted[k][1], timeout), keys)
        return dict(zip(keys, found, strict=True))


def run_check(project: Project, state: State, now: datetime, *, warn: timedelta | None,
              grace: timedelta = DEFAULT_GRACE, probe: bool = False, refresh: bool = True,
              timeout: float = 5.0) -> CheckReport:
    obs = observe(project, state.records, refresh_ari=refresh)
    broken = state.broken_reasons()
    plan = make_plan(project.desired, state.records, obs, now, broken=broken)
    probes = probe_all(endpoints(project, state), timeout) if probe else {}
    return check_all(project.desired, state.records, plan, obs.installs, now, probes=probes,
                     warn=warn, grace=grace, broken=broken, probe=probe)
