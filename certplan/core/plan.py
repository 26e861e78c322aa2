"""The pure planning core: desired specs + recorded state + observations -> Plan.

No network, no clock, no file I/O: `now` and everything observed come in.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from certplan.core.pending import open_order_reason
from certplan.core.policy import Schedule, day, moment, schedule
from certplan.model.installed import Observed
from certplan.model.observed import Observations, Served
from certplan.model.project import Desired
from certplan.model.records import CertRecord, InstallRecord
from certplan.model.spec import CertSpec, InstallTarget

# Fewer than this many hours between renewal time and expiry is a warning: with
# the recommended hourly `apply`, a few failed runs in a row would let it lapse.
SHORT_MARGIN = timedelta(hours=24)


class Action(StrEnum):
    ISSUE = "issue"
    RENEW = "renew"
    INSTALL = "install"
    REMOVE = "remove"
    NOOP = "noop"

    @property
    def symbol(self) -> str:
        return {"issue": "+", "renew": "~", "install": ">", "remove": "-", "noop": "="}[self.value]


ORDER = [Action.ISSUE, Action.RENEW, Action.INSTALL, Action.REMOVE, Action.NOOP]


@dataclass(frozen=True)
class Change:
    name: str
    action: Action
    reasons: tuple[str, ...]
    domains: tuple[str, ...]
    ca: str | None = None
    key: str | None = None
    renew_at: datetime | None = None
    not_after: datetime | None = None
    install_targets: tuple[int, ...] = ()
    revoke: bool = False
    delete_files: bool = False
    # what a remove would touch, from state (apply still asks the host for proof)
    delete_paths: tuple[str, ...] = ()
    revoke_serial: str | None = None
    # install targets whose check, reload and verify run even when the files on disk
    # match: what their endpoint serves is not the current certificate (a probe)
    force_targets: tuple[int, ...] = ()
    # every place an issue, renew or install writes: derived from the specs (which a
    # saved plan is bound to), shown for review, not a decision: left out of equality
    writes: tuple[str, ...] = field(default=(), compare=False)
    # why renew_at is when it is (the rule that set it, e.g. "1/3 of the lifetime left"),
    # for `show` and `list`; an explanation, not a decision: left out of equality
    renew_why: str | None = field(default=None, compare=False)
    # (install target, step, what runs) for each step after writing: `check` and
    # `reload` commands, a verifying handshake (InstallTarget.steps); shown for review
    runs: tuple[tuple[int, str, str], ...] = field(default=(), compare=False)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True)
class Plan:
    now: datetime
    changes: tuple[Change, ...]
    noops: tuple[Change, ...]
    warnings: tuple[str, ...] = ()
    ari_refreshed: bool = False
    probed: bool = False  # what verified endpoints serve was asked (Observations.served)
    # (certificate, why) for each whose state record does not load: not planned, and
    # nothing is done to it; the others are planned as usual
    problems: tuple[tuple[str, str], ...] = ()

    def counts(self) -> dict[Action, int]:
        out: dict[Action, int] = {a: 0 for a in ORDER if a is not Action.NOOP}
        for c in self.changes:
            out[c.action] += 1
        return out

    @property
    def empty(self) -> bool:
        return not self.changes




def _forced(d: Desired, rec: CertRecord) -> list[str]:
    spec, reasons = d.spec, []
    # The order of the other names does not matter; the main domain (first) does.
    if set(spec.domains) != set(rec.domains) or spec.domains[0] != rec.domains[0]:
        added = [x for x in spec.domains if x not in rec.domains]
        removed = [x for x in rec.domains if x not in spec.domains]
        parts = [f"+{x}" for x in added] + [f"-{x}" for x in removed]
        if not parts:
            parts = [f"main domain {rec.domains[0]} -> {spec.domains[0]}"]
        reasons.append("domains: " + " ".join(parts))
    if spec.key != rec.key_type:
        reasons.append(f"key: {rec.key_type} -> {spec.key}")
    cas = list(spec.ca or [])
    if rec.ca not in cas:
        reasons.append(f"ca: {rec.ca} -> {cas[0]}")
    elif d.directories[cas.index(rec.ca)] != rec.ca_directory:
        reasons.append(f"ca {rec.ca}: directory {rec.ca_directory} -> "
                       f"{d.directories[cas.index(rec.ca)]}")
    if spec.profile != rec.profile:
        reasons.append(f"profile: {rec.profile or '(CA default)'} -> "
                       f"{spec.profile or '(CA default)'}")
    return reasons


def _install_reasons(spec: CertSpec, rec: CertRecord, seen: Mapping[tuple[str, int], Observed],
                     served: Mapping[tuple[str, int], Served],
                     ) -> tuple[list[str], list[int], list[int]]:
    """Why each target is installed again; the targets; those to force (served)."""
    reasons, targets, forced = [], [], []
    for i, target in enumerate(spec.install):
        label = f"install[{i}]"
        done = rec.installs[i] if i < len(rec.installs) else None
        why = None
        if done is None:
            why = f"{label}: new target"
        elif done.status == "failed":
            why = f"{label}: the last install failed; installing again"
        elif done.serial is not None and rec.certificate is not None \
                and done.serial != rec.certificate.serial:
            why = f"{label}: {_serial_reason(done.serial, rec.certificate.serial)}"
        elif done.installer != target.type or not target.same_definition(done.digest):
            why = f"{label}: target changed"
        else:
            drift = drift_reason(done, seen.get((spec.name, i)))
            why = f"{label}: {drift}" if drift else None
        wrong = _served_reason(served.get((spec.name, i)), rec) \
            if done is not None and done.status == "installed" else None
        if wrong:
            why = f"{why}; {wrong}" if why else f"{label}: {wrong}"
            forced.append(i)
        if why:
            reasons.append(why)
            targets.append(i)
    return reasons, targets, forced


def _served_reason(served: Served | None, rec: CertRecord) -> str | None:
    """Why the endpoint a probe asked shows the install is not in effect; None if it is."""
    cert = rec.certificate
    if served is None or cert is None or served.serial == cert.serial.lower():
        return None
    if served.serial is None:
        return f"{served.url} did not answer: {served.error} (check, reload and verify run again)"
    return (f"{served.url} serves serial {served.serial}, current {cert.serial} "
            f"(check, reload and verify run again)")


def _serial_reason(installed: str, current: str) -> str:
    was = f"installed serial {installed}" if installed else "never installed"
    return f"{was}, current {current} (check, reload and verify run again)"


def drift_reason(done: InstallRecord, now: Observed | None) -> str | None:
    """How what is installed now differs from what was recorded: the first part
    (in name order) that is missing or changed; None when nothing did."""
    if now is not None and now.fingerprint == done.fingerprint:
        return None
    parts = now.parts if now is not None else {}
    for part, recorded in sorted(done.parts.items()):
        current = parts.get(part)
        if current is None:
            return f"{part} is missing"
        if current.startswith("!"):  # the installer would not read it: says why
            return f"{part} {current[1:]}"
        if current != recorded:
            return f"{part} drifted (changed on disk)"
    return "drifted (changed since it was installed)"


def current_installs(targets: Sequence[InstallTarget],
                     installs: Sequence[InstallRecord]) -> list[InstallRecord]:
    """`installs` with each digest that an unchanged target accepts in an older
    form (InstallTarget.same_definition) rewritten in the current one."""
    out = []
    for target, done in zip(targets, installs, strict=False):
        if done.status == "installed" and done.installer == target.type:
            digest = target.digest()
            if done.digest != digest and target.same_definition(done.digest):
                done = done.model_copy(update={"digest": digest})
        out.append(done)
    return out + list(installs[len(out):])


def _schedule_for(d: Desired, rec: CertRecord, obs: Observations) -> Schedule:
    cert = rec.certificate
    assert cert is not None
    return schedule(d.spec.name, cert.serial, cert.not_before, cert.not_after,
                    d.spec.renew_before_days, obs.ari.get(d.spec.name), ca=rec.ca)


def _renew_reason(sch: Schedule, obs: Observations, name: str) -> str:
    text = f"renewal window opened {moment(sch.renew_at)} ({sch.detail})"
    window = obs.ari.get(name)
    if sch.basis == "ari" and window is not None and window.explanation_url:
        text += f"; CA explains: {window.explanation_url}"
    return text


def _plan_one(d: Desired, rec: CertRecord | None, obs: Observations, now: datetime,
              forced: bool) -> Change:
    spec = d.spec
    renew_at: datetime | None = None
    not_after: datetime | None = None
    renew_why: str | None = None

    def mk(action: Action, *why: str, targets: tuple[int, ...] = (),
           force: tuple[int, ...] = ()) -> Change:
        if action in (Action.ISSUE, Action.RENEW):  # a new certificate goes everywhere
            targets = tuple(range(len(spec.install)))
        return Change(name=spec.name, action=action, reasons=why,
                      domains=tuple(spec.domains), ca=spec.ca[0] if spec.ca else None,
                      key=spec.key, renew_at=renew_at, not_after=not_after,
                      install_targets=targets, force_targets=force,
                      writes=_writes(d, action, targets),
                      renew_why=renew_why, runs=_runs(d, action, targets))

    if rec is None:
        return mk(Action.ISSUE, "new certificate")
    reasons = _forced(d, rec)
    if reasons:
        if rec.pending_order is not None:
            reasons.append(open_order_reason(rec.pending_order, spec, d.directories))
        return mk(Action.ISSUE, *reasons)
    cert = rec.certificate
    if cert is None:
        if rec.pending_order is not None:
            return mk(Action.ISSUE, open_order_reason(rec.pending_order, spec, d.directories))
        return mk(Action.ISSUE, "no certificate recorded yet")
    if rec.revoked is not None and rec.revoked.serial == cert.serial:
        return mk(Action.ISSUE, f"serial {cert.serial} was revoked "
                                f"{day(rec.revoked.revoked_at)} ({rec.revoked.reason})")
    sch = _schedule_for(d, rec, obs)
    renew_at, not_after, renew_why = sch.renew_at, cert.not_after, sch.detail
    if rec.pending_order is not None:
        return mk(Action.RENEW, open_order_reason(rec.pending_order, spec, d.directories))
    if forced:
        return mk(Action.RENEW, "forced (--replace)")
    if now >= cert.not_after:
        return mk(Action.RENEW, f"expired {moment(cert.not_after)}")
    if now >= sch.renew_at:
        return mk(Action.RENEW, _renew_reason(sch, obs, spec.name))
    inst_reasons, targets, force = _install_reasons(spec, rec, obs.installs, obs.served)
    if inst_reasons:
        return mk(Action.INSTALL, *inst_reasons, targets=tuple(targets), force=tuple(force))
    note = f"next renewal {moment(sch.renew_at)} ({sch.detail}); expires {day(cert.not_after)}"
    if spec.name in obs.ari_notes:
        note += f"; ARI: {obs.ari_notes[spec.name]}"
    window = obs.ari.get(spec.name)
    if sch.basis == "ari" and window is not None and window.explanation_url:
        note += f"; CA explains: {window.explanation_url}"
    return mk(Action.NOOP, note)


def _written(d: Desired, action: Action, targets: tuple[int, ...]) -> Collection[int]:
    """The install targets a change writes: all of them when it brings a certificate."""
    if action in (Action.ISSUE, Action.RENEW):
        return range(len(d.spec.install))
    return targets if action is Action.INSTALL else ()


def _writes(d: Desired, action: Action, targets: tuple[int, ...]) -> tuple[str, ...]:
    if action is Action.NOOP or not d.writes:  # most of a large fleet, most of the time
        return ()
    if action is not Action.INSTALL:
        return tuple(place for _, place in d.writes)
    written = _written(d, action, targets)
    return tuple(place for t, place in d.writes if t in written)


def _runs(d: Desired, action: Action, targets: tuple[int, ...]) -> tuple[tuple[int, str, str],
                                                                        ...]:
    if action in (Action.NOOP, Action.REMOVE) or not targets:
        return ()
    return tuple((i, step, what) for i in targets for step, what in d.spec.install[i].steps())


def _target_notes(d: Desired, change: Change) -> list[str]:
    if not d.notes:
        return []
    written = _written(d, change.action, change.install_targets)
    return [note for t, note in d.notes if t in written]


def _warnings(d: Desired, rec: CertRecord | None, obs: Observations) -> list[str]:
    if rec is None or rec.certificate is None:
        return []
    cert = rec.certificate
    sch = _schedule_for(d, rec, obs)
    ignored = [sch.warning] if sch.warning else []
    margin = cert.not_after - sch.renew_at
    if margin < SHORT_MARGIN:
        hours = margin.total_seconds() / 3600
        return [f"{d.spec.name}: only {hours:.1f} h between renewal time and expiry; run "
                f"`certplan apply` at least hourly (see README, short-lived certificates)"
                ] + ignored
    return ignored


def _removal(name: str, rec: CertRecord, claimed: Mapping[str, str]) -> Change:
    """A record without a spec: stop managing it; show every path and serial that
    on_remove would touch (apply touches them only with proof from the host).
    A place that a wanted certificate installs (`claimed`: place -> its name, e.g.
    after a spec was renamed) is kept, whatever on_remove says."""
    how = [w for w, on in (("revoke", rec.on_remove.revoke),
                           ("delete installed files", rec.on_remove.delete_files)) if on]
    why = ["no spec declares it any more"
           + (f" (on_remove: {', '.join(how)})" if how else " (files and certificate are kept)")]
    serial = rec.certificate.serial if rec.on_remove.revoke and rec.certificate else None
    if serial is not None:
        why.append(f"revokes serial {serial} if the keystore holds it for {name}")
    recorded = sorted({p for inst in rec.installs for p in inst.parts}) \
        if rec.on_remove.delete_files else []
    paths = tuple(p for p in recorded if p not in claimed)
    why += [f"deletes {p} if its bytes are what certplan installed" for p in paths]
    why += [f"keeps {p}: certificate {claimed[p]!r} installs it" for p in recorded
            if p in claimed]
    return Change(name=name, action=Action.REMOVE, reasons=tuple(why),
                  domains=tuple(rec.domains), ca=rec.ca, key=rec.key_type,
                  revoke=rec.on_remove.revoke, delete_files=rec.on_remove.delete_files,
                  delete_paths=paths, revoke_serial=serial)


def make_plan(desired: Sequence[Desired], records: Mapping[str, CertRecord],
              obs: Observations, now: datetime, *, replace: Collection[str] = (),
              replace_all: bool = False, targets: Collection[str] | None = None,
              broken: Mapping[str, str] | None = None) -> Plan:
    """Compare what is wanted with what was done; explain every change. A name in
    `broken` (its state record does not load: name -> why) gets a problem, no change."""
    wanted = {d.spec.name for d in desired}
    broken = broken or {}

    def chosen(name: str) -> bool:
        return not targets or name in targets

    changes: list[Change] = []
    warnings: list[str] = []
    for d in desired:
        if not chosen(d.spec.name) or d.spec.name in broken:
            continue
        rec = records.get(d.spec.name)
        forced = replace_all or d.spec.name in replace
        change = _plan_one(d, rec, obs, now, forced)
        changes.append(change)
        warnings += _target_notes(d, change) + _warnings(d, rec, obs)
    claimed: dict[str, str] | None = None
    for name in sorted(set(records) - wanted):
        if not chosen(name):
            continue
        if claimed is None:  # only once there is something to remove
            claimed = {place: d.spec.name for d in desired for _, place in d.writes}
        changes.append(_removal(name, records[name], claimed))
    changes.sort(key=lambda c: (ORDER.index(c.action), c.name))
    return Plan(now=now, changes=tuple(c for c in changes if c.action is not Action.NOOP),
                noops=tuple(c for c in changes if c.action is Action.NOOP),
                warnings=tuple(warnings), ari_refreshed=obs.ari_refreshed, probed=obs.probed,
                problems=tuple((n, why) for n, why in sorted(broken.items()) if chosen(n)))
