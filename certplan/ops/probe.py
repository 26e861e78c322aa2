"""Plan with a probe (apply, `plan --probe`): ask the verified endpoints of the
certificates the plan keeps what they serve, then plan again with the answers.

A certificate about to be issued, renewed or removed needs no handshake: all its
targets are installed (or removed) anyway, check, reload and verify included. So
the plan is made first without the probe (it is pure, and cheap), the targets of
the certificates it keeps (nothing to do, or an install) are asked
(certplan.observe.served), and the plan is made again with what they serve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from certplan.core.plan import Action, Plan
from certplan.model.observed import Observations
from certplan.model.project import Project
from certplan.model.records import CertRecord

PlanFrom = Callable[[Observations], Plan]


def kept(plan: Plan, project: Project) -> set[tuple[str, int]]:
    """(certificate, install index) of every target of a certificate that `plan`
    neither issues, renews nor removes."""
    wanted = project.by_name()
    out: set[tuple[str, int]] = set()
    for change in plan.noops + plan.changes:
        desired = wanted.get(change.name)
        if desired is None or change.action not in (Action.NOOP, Action.INSTALL):
            continue
        out.update((change.name, i) for i in range(len(desired.spec.install)))
    return out


def with_probe(plan_from: PlanFrom, obs: Observations, project: Project,
               records: dict[str, CertRecord]) -> tuple[Plan, Plan]:
    """(the plan without a probe, the plan with it)."""
    from certplan.observe.served import probe_served

    plain = plan_from(obs)
    served = probe_served(project, records, only=kept(plain, project))
    if not served:
        return plain, replace(plain, probed=True)
    return plain, plan_from(replace(obs, served=served, probed=True))
