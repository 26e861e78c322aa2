"""What `plan` says about rate limits remembered by earlier applies on this host.

A warning per CA that asked to wait and that a change would contact, naming the
time and the certificates apply will not order from it until then. Read from the
keystore (store.ratelimits), so only where the keystore is: a plan in CI has none.
"""

from __future__ import annotations

from dataclasses import replace

from certplan.core.plan import Action, Plan
from certplan.engine.sessions import CaEndpoint
from certplan.model.errors import CertplanError
from certplan.model.project import Project
from certplan.store.ratelimits import RateLimitFileError, RateLimits


def with_rate_limits(plan: Plan, project: Project) -> Plan:
    warnings = rate_limit_warnings(plan, project)
    return replace(plan, warnings=plan.warnings + tuple(warnings)) if warnings else plan


def rate_limit_warnings(plan: Plan, project: Project) -> list[str]:
    from certplan.ca.polling import utc_minute

    if not project.keystore_dir.is_dir():
        return []
    contacts: dict[str, list[str]] = {}
    for change in plan.changes:
        if change.ca and (change.action in (Action.ISSUE, Action.RENEW) or change.revoke):
            contacts.setdefault(change.ca, []).append(change.name)
    book = RateLimits(project.keystore_dir)
    out = []
    for ca, names in sorted(contacts.items()):
        try:
            endpoint = CaEndpoint.of(project, ca)
            limit = book.load(endpoint.directory, endpoint.email or "")
        except RateLimitFileError as exc:
            out.append(f"{exc}: apply sends nothing to CA {ca} until it is fixed "
                       f"(delete it, or pass --ignore-rate-limit)")
            continue
        except CertplanError:
            continue  # a CA certplan.toml does not name: validation says so elsewhere
        if limit is None or limit.directory != endpoint.directory or not limit.active(plan.now):
            continue
        out.append(f"rate limited by {ca} until {utc_minute(limit.until)} ({limit.reason}): "
                   f"apply sends it nothing for {', '.join(names)} until then "
                   f"unless --ignore-rate-limit")
    return out
