"""Saved plans on disk: `plan --out FILE` writes one, `apply FILE` reads it back.

The document's schema is `certplan.core.planfile`; here are the file and the
digest of the inputs (certplan.toml and the spec files) it is stamped with.
"""

from __future__ import annotations

from pathlib import Path

from certplan.core.plan import Change, Plan
from certplan.core.planfile import Stamp, decode_plan, encode_plan
from certplan.load import inputs_digest
from certplan.model.errors import CertplanError
from certplan.model.observed import Observations
from certplan.model.project import Project
from certplan.model.records import State
from certplan.store.atomic import atomic_write
from certplan.store.safefs import read_regular


def _stamp(state: State, project: Project) -> Stamp:
    return Stamp(lineage=state.lineage, serial=state.serial,
                 inputs_sha256=inputs_digest(project))


def save_plan(path: Path, plan: Plan, state: State, project: Project) -> None:
    data = encode_plan(plan, _stamp(state, project))
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise CertplanError(f"{path}: cannot write the saved plan: {exc.strerror or exc}") \
            from None


def load_plan(path: Path, state: State, project: Project) -> Plan:
    """Read a saved plan; StalePlanError if the state or the inputs moved on since."""
    try:
        data = read_regular(path)
    except OSError as exc:
        raise CertplanError(f"{path}: cannot read the saved plan: {exc.strerror}") from None
    return decode_plan(data, _stamp(state, project), str(path))


def bind_plan(saved: Plan, path: Path, state: State, project: Project, *,
              refresh: bool) -> Plan:
    """The saved plan's changes, as certplan would make them now from the current
    inputs (certplan.core.planfile.match_current); the file only proposes.
    A saved renew is planned as if `--replace` named it (early renewal is all a
    file can ask for; it never deletes or revokes anything it alone names)."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from certplan.core.plan import Action, make_plan
    from certplan.core.planfile import match_current
    from certplan.observe.gather import observe
    from certplan.ops.probe import with_probe

    renew = [c.name for c in saved.changes if c.action is Action.RENEW]
    obs = observe(project, state.records, refresh_ari=refresh)
    at, broken = datetime.now(UTC), state.broken_reasons()

    def plan_from(seen: Observations) -> Plan:
        return make_plan(project.desired, state.records, seen, at, replace=renew,
                         broken=broken)

    # bound like it was made: with a probe, or without one (CI); see core.planfile
    plain, probed = with_probe(plan_from, obs, project, state.records)
    now = probed if saved.probed else plain
    bound = match_current(saved, now, str(path))
    # a certificate whose state record does not load is not applied, and is named
    return replace(bound, problems=now.problems,
                   warnings=bound.warnings + (() if saved.probed
                                              else served_warnings(bound, probed)))


def served_warnings(applied: Plan, probed: Plan) -> tuple[str, ...]:
    """A target whose endpoint serves another certificate, reinstalled by `probed` but
    not by the saved plan being applied (made without `--probe`): named, left as is."""
    done = {(c.name, i) for c in applied.changes for i in c.install_targets}
    return tuple(f"{c.name}: {why} (not in the saved plan, made without --probe: run "
                 f"`certplan apply`, or `certplan plan --probe --out` on this host)"
                 for c in probed.changes for i, why in _forced_reasons(c)
                 if (c.name, i) not in done)


def _forced_reasons(change: Change) -> list[tuple[int, str]]:
    return [(i, why) for i, why in zip(change.install_targets, change.reasons, strict=False)
            if i in change.force_targets]
