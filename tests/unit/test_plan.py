"""The pure planner, table-driven: every action and reason, boundaries, --at, --replace.

Builders here (`desired`, `record`, `installed`) are shared with the render tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from certplan.core.plan import (
    Action,
    Observations,
    Plan,
    make_plan,
)
from certplan.core.policy import ari_pick
from certplan.installers.files import FilesInstaller, FilesTarget
from certplan.model.crypto import generate_key, make_csr
from certplan.model.installed import Observed, fingerprint_of
from certplan.model.observed import AriWindow
from certplan.model.presets import PRESETS
from certplan.model.project import Desired, ResolvedSpec
from certplan.model.records import CertFacts, CertRecord, InstallRecord, PendingOrder, Revocation

NOW = datetime(2026, 6, 1, tzinfo=UTC)
LE = PRESETS["letsencrypt"].directory
ZEROSSL = PRESETS["zerossl"].directory
DOMAINS = ("example.com", "www.example.com")
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def target(n: int = 0, **kw: Any) -> FilesTarget:
    fields: dict[str, Any] = {"key_file": f"/srv/t{n}/site.key",
                              "fullchain_file": f"/srv/t{n}/fullchain.pem"}
    fields.update(kw)
    return FilesTarget(**fields)


def desired(name: str = "www", domains: Sequence[str] = DOMAINS, *, key: str = "ec-256",
            ca: Sequence[str] = ("letsencrypt",), directories: Sequence[str] | None = None,
            install: Sequence[FilesTarget] = (), **spec: Any) -> Desired:
    """A spec with its defaults already resolved, as load_project returns it."""
    cert = ResolvedSpec.model_validate({
        "name": name, "domains": list(domains), "ca": list(ca), "key": key,
        "challenge": {"type": "http-01", "webroot": "/srv/www"},
        "install": list(install), **spec,
    })
    dirs = tuple(directories or [PRESETS[c].directory for c in ca])
    files = FilesInstaller()  # what load.py asks each target's installer
    writes = tuple((i, place) for i, t in enumerate(install)
                   for place in files.locations(t, Path("/")).values())
    notes = tuple((i, f"install[{i}] of {name}: {w}") for i, t in enumerate(install)
                  for w in files.warnings(t))
    return Desired(spec=cert, directories=dirs, file=f"specs/{name}.toml", writes=writes,
                   notes=notes)


def sha(path: str) -> str:
    return f"sha-of-{path}"


def installed(t: FilesTarget) -> InstallRecord:
    parts = {p: sha(p) for p in t.files().values()}
    return InstallRecord(installer="files", digest=t.digest(), fingerprint=fingerprint_of(parts),
                         parts=parts, installed_at=NOW - 30 * DAY)


def record(d: Desired, *, not_before: datetime = NOW - 30 * DAY, lifetime: timedelta = 90 * DAY,
           cert: bool = True, **fields: Any) -> CertRecord:
    """The state a successful apply of `d` would have recorded (override with fields)."""
    spec = d.spec
    facts = CertFacts(serial="0a1b2c", not_before=not_before, not_after=not_before + lifetime,
                      issuer="CN=Test CA", fingerprint_sha256="ab" * 32, chain_pem="PEM",
                      issued_at=not_before) if cert else None
    base: dict[str, Any] = {
        "name": spec.name, "domains": list(spec.domains), "key_type": spec.key,
        "ca": (spec.ca or ["letsencrypt"])[0], "ca_directory": d.directories[0],
        "profile": spec.profile,
        "created_at": NOW - 60 * DAY, "certificate": facts,
        "installs": [installed(t) for t in spec.install],
    }
    base.update(fields)
    return CertRecord(**base)


def open_order(d: Desired, *, domains: Sequence[str] | None = None, key: str | None = None,
               profile: str | None = None, directory: str | None = None) -> PendingOrder:
    """The open order an apply of `d` records (override what it was made for)."""
    csr = make_csr(generate_key(key or d.spec.key), list(domains or d.spec.domains))
    return PendingOrder(url="https://ca/order/1", ca=d.spec.ca[0],
                        directory=directory or d.directories[0],
                        created_at=datetime(2026, 5, 31, 23, 10, tzinfo=UTC),
                        csr_pem=csr.decode("ascii"), profile=profile or d.spec.profile)


def files_ok(*ds: Desired) -> dict[str, str | None]:
    return {p: sha(p) for d in ds for t in d.spec.install for p in t.files().values()}


def observed(files: Mapping[str, str | None], *ds: Desired, **kw: Any) -> Observations:
    """What the files installer reports for the targets of `ds` when the files on
    disk are `files` (path -> SHA-256; left out or None: missing)."""
    installs = {(d.spec.name, i): Observed.of({p: files.get(p) for p in t.files().values()})
                for d in ds for i, t in enumerate(d.spec.install)}
    return Observations(installs=installs, **kw)


def plan_of(d: Desired, rec: CertRecord | None, now: datetime = NOW,
            obs: Observations | None = None, **kw: Any) -> Plan:
    obs = obs or observed(files_ok(d), d)
    return make_plan([d], {rec.name: rec} if rec else {}, obs, now, **kw)


def only(plan: Plan) -> tuple[Action, str]:
    rows = plan.changes + plan.noops
    assert len(rows) == 1, rows
    return rows[0].action, rows[0].reason


# ---------------------------------------------------------------- issue

D = desired()
ISSUE_CASES: list[tuple[str, Desired, CertRecord | None, str]] = [
    ("new", D, None, "new certificate"),
    ("domains added and removed", desired(domains=["example.com", "api.example.com"]),
     record(D), "domains: +api.example.com -www.example.com"),
    ("domain added", desired(domains=[*DOMAINS, "api.example.com"]), record(D),
     "domains: +api.example.com"),
    ("main domain", desired(domains=list(reversed(DOMAINS))), record(D),
     "domains: main domain example.com -> www.example.com"),
    ("key", desired(key="rsa-2048"), record(D), "key: ec-256 -> rsa-2048"),
    ("ca", desired(ca=["zerossl"]), record(D), "ca: letsencrypt -> zerossl"),
    ("ca directory", desired(directories=["https://acme.internal.example/dir"]), record(D),
     f"ca letsencrypt: directory {LE} -> https://acme.internal.example/dir"),
    ("profile set", desired(profile="shortlived"), record(D),
     "profile: (CA default) -> shortlived"),
    ("profile cleared", D, record(desired(profile="tlsserver")),
     "profile: tlsserver -> (CA default)"),
    ("revoked", D, record(D, revoked=Revocation(revoked_at=NOW - 2 * DAY,
                                                reason="keyCompromise", serial="0a1b2c")),
     "serial 0a1b2c was revoked 2026-05-30 (keyCompromise)"),
    ("pending order", D, record(D, cert=False, pending_order=open_order(D)),
     "an open order from 2026-05-31 23:10 UTC is recorded; apply resumes it if the CA "
     "still has it"),
    ("pending order of certplan 0.1", D, record(D, cert=False, pending_order=PendingOrder(
        url="https://ca/order/1", ca="letsencrypt", directory=LE,
        created_at=datetime(2026, 5, 31, 23, 10, tzinfo=UTC))),
     "the open order from 2026-05-31 23:10 UTC no longer matches (it was recorded without "
     "its CSR (certplan 0.1)); apply orders anew"),
    ("no certificate yet", D, record(D, cert=False), "no certificate recorded yet"),
]


@pytest.mark.parametrize("d,rec,reason", [c[1:] for c in ISSUE_CASES],
                         ids=[c[0] for c in ISSUE_CASES])
def test_issue_reasons(d: Desired, rec: CertRecord | None, reason: str) -> None:
    plan = plan_of(d, rec)
    assert only(plan) == (Action.ISSUE, reason)
    change = plan.changes[0]
    assert change.domains == tuple(d.spec.domains) and change.key == d.spec.key


def test_several_forcing_fields_are_all_named() -> None:
    d = desired(domains=["example.com"], key="ec-384", ca=["zerossl"])
    assert plan_of(d, record(D)).changes[0].reasons == (
        "domains: -www.example.com", "key: ec-256 -> ec-384", "ca: letsencrypt -> zerossl")


def test_second_ca_in_list_keeps_the_recorded_one() -> None:
    """A fallback CA list that still includes the recorded CA forces nothing."""
    d = desired(ca=["zerossl", "letsencrypt"])
    assert only(plan_of(d, record(D)))[0] is Action.NOOP


def test_reordered_sans_force_nothing() -> None:
    d3 = desired(domains=["example.com", "a.example.com", "b.example.com"])
    d3b = desired(domains=["example.com", "b.example.com", "a.example.com"])
    assert only(plan_of(d3b, record(d3)))[0] is Action.NOOP


def test_revocation_of_an_older_serial_is_ignored() -> None:
    rec = record(D, revoked=Revocation(revoked_at=NOW - 40 * DAY, reason="superseded",
                                       serial="old"))
    assert only(plan_of(D, rec))[0] is Action.NOOP


# ---------------------------------------------------------------- renew and its boundaries

NB = NOW - 30 * DAY  # not_before of the default record


def renew_at_cases() -> list[tuple[str, Desired, timedelta, datetime, str]]:
    """(id, desired, lifetime, exact renewal time, reason fragment)."""
    return [
        ("1/3 of 90 days", D, 90 * DAY, NB + 60 * DAY, "(1/3 of the lifetime left)"),
        ("renew_before_days", desired(renew_before_days=10), 90 * DAY, NB + 80 * DAY,
         "(renew_before_days=10)"),
        ("renew_before_days over lifetime", desired(renew_before_days=30), 6 * DAY,
         NB + 3 * DAY, "(renew_before_days=30 exceeds the lifetime, so at half of it)"),
        ("1/2 of 6 days", D, 6 * DAY, NB + 3 * DAY, "(1/2 of a short lifetime left)"),
        ("1/2 of exactly 10 days", D, 10 * DAY, NB + 5 * DAY, "(1/2 of a short lifetime left)"),
        ("1/3 of 11 days", D, 11 * DAY, NB + 11 * DAY * 2 / 3, "(1/3 of the lifetime left)"),
    ]


@pytest.mark.parametrize("d,lifetime,at,fragment", [c[1:] for c in renew_at_cases()],
                         ids=[c[0] for c in renew_at_cases()])
def test_renewal_time_boundaries(d: Desired, lifetime: timedelta, at: datetime,
                                 fragment: str) -> None:
    rec = record(d, not_before=NB, lifetime=lifetime)
    action, reason = only(plan_of(d, rec, now=at - SECOND))
    assert action is Action.NOOP
    assert reason.startswith(f"next renewal {at:%Y-%m-%d %H:%M} UTC {fragment}")
    action, reason = only(plan_of(d, rec, now=at))
    assert action is Action.RENEW
    assert reason == f"renewal window opened {at:%Y-%m-%d %H:%M} UTC {fragment}"
    assert plan_of(d, rec, now=at).changes[0].renew_at == at


def test_expired_boundary() -> None:
    d = desired(renew_before_days=365)  # due long ago, but expiry is the reason given
    rec = record(d, not_before=NB, lifetime=90 * DAY)
    end = NB + 90 * DAY
    assert only(plan_of(d, rec, now=end))[1] == f"expired {end:%Y-%m-%d %H:%M} UTC"
    assert only(plan_of(d, rec, now=end - SECOND))[1].startswith("renewal window opened")


def test_ari_window_first() -> None:
    window = AriWindow(start=NOW + 5 * DAY, end=NOW + 7 * DAY,
                       explanation_url="https://ca.example/why")
    obs = observed(files_ok(D), D, ari={"www": window}, ari_refreshed=True)
    rec = record(D)  # 1/3 rule would say NB + 60 days; ARI says earlier
    pick = ari_pick(window, "www", "0a1b2c")
    assert window.start <= pick <= window.end
    action, reason = only(plan_of(D, rec, now=pick - SECOND, obs=obs))
    assert action is Action.NOOP
    assert "(ARI window 2026-06-06 00:00 UTC .. 2026-06-08 00:00 UTC)" in reason
    action, reason = only(plan_of(D, rec, now=pick, obs=obs))
    assert action is Action.RENEW
    assert reason == (f"renewal window opened {pick:%Y-%m-%d %H:%M} UTC (ARI window "
                      "2026-06-06 00:00 UTC .. 2026-06-08 00:00 UTC); "
                      "CA explains: https://ca.example/why")


def test_ari_pick_is_deterministic_and_spread() -> None:
    window = AriWindow(start=NOW, end=NOW + 2 * DAY)
    picks = {ari_pick(window, f"c{i}", "01") for i in range(20)}
    assert len(picks) == 20 and all(NOW <= p <= NOW + 2 * DAY for p in picks)
    assert ari_pick(window, "c1", "01") == ari_pick(window, "c1", "01")
    assert ari_pick(AriWindow(start=NOW, end=NOW), "x", "1") == NOW


def test_ari_note_on_noop() -> None:
    obs = observed(files_ok(D), D, ari_notes={"www": "renewalInfo answered HTTP 404"},
                       ari_refreshed=True)
    assert only(plan_of(D, record(D), obs=obs))[1].endswith(
        "; ARI: renewalInfo answered HTTP 404")


@pytest.mark.parametrize("kw", [{"replace": ["www"]}, {"replace_all": True}],
                         ids=["replace", "replace_all"])
def test_forced_renewal(kw: dict[str, Any]) -> None:
    assert only(plan_of(D, record(D), **kw)) == (Action.RENEW, "forced (--replace)")


def test_replace_only_names_given() -> None:
    other = desired("api", ["api.example.com"])
    plan = make_plan([D, other], {"www": record(D), "api": record(other)},
                     observed(files_ok(D, other), D, other), NOW, replace=["api"])
    assert [(c.name, c.action) for c in plan.changes] == [("api", Action.RENEW)]
    assert [c.name for c in plan.noops] == ["www"]


def test_replace_does_not_hide_a_forced_issue() -> None:
    d = desired(key="rsa-4096")
    assert only(plan_of(d, record(D), replace_all=True)) == (Action.ISSUE,
                                                              "key: ec-256 -> rsa-4096")


def test_at_semantics_via_now() -> None:
    """`plan --at` is make_plan with another now: what renews over the holidays?"""
    rec = record(D, not_before=datetime(2026, 10, 1, tzinfo=UTC))  # renews 2026-11-30
    assert only(plan_of(D, rec, now=datetime(2026, 11, 1, tzinfo=UTC)))[0] is Action.NOOP
    assert only(plan_of(D, rec, now=datetime(2026, 12, 24, tzinfo=UTC)))[0] is Action.RENEW
    assert only(plan_of(D, rec, now=datetime(2027, 1, 1, tzinfo=UTC)))[1] == \
        "expired 2026-12-30 00:00 UTC"


# ---------------------------------------------------------------- install

T0, T1 = target(0), target(1)
DI = desired(install=[T0])


def test_install_new_target() -> None:
    d2 = desired(install=[T0, T1])
    plan = plan_of(d2, record(DI))
    assert only(plan) == (Action.INSTALL, "install[1]: new target")
    assert plan.changes[0].install_targets == (1,)


def test_install_target_changed() -> None:
    d2 = desired(install=[target(0, reload="systemctl reload nginx")])
    assert only(plan_of(d2, record(DI))) == (Action.INSTALL, "install[0]: target changed")


def test_install_file_missing() -> None:
    files = files_ok(DI) | {T0.key_file or "": None}
    plan = plan_of(DI, record(DI), obs=observed(files, DI))
    assert only(plan) == (Action.INSTALL, f"install[0]: {T0.key_file} is missing")


def test_install_file_not_observed_counts_as_missing() -> None:
    plan = plan_of(DI, record(DI), obs=Observations())
    assert only(plan) == (Action.INSTALL, f"install[0]: {T0.fullchain_file} is missing")


def test_install_file_drifted() -> None:
    files = files_ok(DI) | {T0.fullchain_file or "": "something-else"}
    plan = plan_of(DI, record(DI), obs=observed(files, DI))
    assert only(plan) == (Action.INSTALL,
                          f"install[0]: {T0.fullchain_file} drifted (changed on disk)")


def test_install_several_targets_listed() -> None:
    d2 = desired(install=[T0, T1, target(2)])
    rec = record(d2)
    files = files_ok(d2) | {T0.key_file or "": None, "/srv/t2/site.key": "x"}
    plan = plan_of(d2, rec, obs=observed(files, d2))
    assert plan.changes[0].reasons == (f"install[0]: {T0.key_file} is missing",
                                       "install[2]: /srv/t2/site.key drifted (changed on disk)")
    assert plan.changes[0].install_targets == (0, 2)


def test_renewal_wins_over_install() -> None:
    plan = plan_of(DI, record(DI), now=NB + 61 * DAY, obs=Observations())
    assert only(plan)[0] is Action.RENEW


def test_dropped_install_target_is_not_an_install() -> None:
    assert only(plan_of(D, record(DI)))[0] is Action.NOOP


# ---------------------------------------------------------------- remove, noop, plan shape

def test_remove_keeps_files_by_default() -> None:
    plan = make_plan([], {"old": record(desired("old"))}, Observations(), NOW)
    assert only(plan) == (Action.REMOVE,
                          "no spec declares it any more (files and certificate are kept)")
    assert not plan.changes[0].revoke and not plan.changes[0].delete_files
    assert plan.changes[0].domains == DOMAINS


def test_remove_with_on_remove() -> None:
    rec = record(desired("old", on_remove={"revoke": True, "delete_files": True}),
                 on_remove={"revoke": True, "delete_files": True})
    rec = rec.model_copy(update={"installs": [InstallRecord(
        digest="d", fingerprint="f", parts={"/srv/b.pem": "1", "/srv/a.key": "2"},
        installed_at=NOW)]})
    plan = make_plan([], {"old": rec}, Observations(), NOW)
    change = plan.changes[0]
    assert change.reasons == (
        "no spec declares it any more (on_remove: revoke, delete installed files)",
        "revokes serial 0a1b2c if the keystore holds it for old",
        "deletes /srv/a.key if its bytes are what certplan installed",
        "deletes /srv/b.pem if its bytes are what certplan installed")
    assert change.revoke and change.delete_files
    # every path and serial a destructive action touches, for reviewers and tools
    assert change.delete_paths == ("/srv/a.key", "/srv/b.pem")
    assert change.revoke_serial == "0a1b2c"


def test_noop_carries_next_renewal() -> None:
    plan = plan_of(D, record(D))
    assert plan.empty and not plan.changes
    noop = plan.noops[0]
    assert noop.action is Action.NOOP
    assert noop.reason == ("next renewal 2026-07-01 00:00 UTC (1/3 of the lifetime left); "
                           "expires 2026-07-31")
    assert noop.renew_at == NB + 60 * DAY and noop.not_after == NB + 90 * DAY


def fleet() -> tuple[list[Desired], dict[str, CertRecord]]:
    """One of each action, names chosen so that name order differs from action order."""
    a_new = desired("a-new", ["a.example.com"])
    z_new = desired("z-new", ["z.example.com"])
    b_due = desired("b-due", ["b.example.com"])
    c_inst = desired("c-inst", ["c.example.com"], install=[target(3)])
    d_ok = desired("d-ok", ["d.example.com"])
    recs = {
        "b-due": record(b_due, not_before=NOW - 70 * DAY),
        "c-inst": record(desired("c-inst", ["c.example.com"])),
        "d-ok": record(d_ok),
        "a-gone": record(desired("a-gone", ["gone.example.com"])),
    }
    return [z_new, d_ok, c_inst, b_due, a_new], recs


def test_ordering_by_action_then_name() -> None:
    specs, recs = fleet()
    plan = make_plan(specs, recs, Observations(), NOW)
    assert [(c.action.value, c.name) for c in plan.changes] == [
        ("issue", "a-new"), ("issue", "z-new"), ("renew", "b-due"),
        ("install", "c-inst"), ("remove", "a-gone")]
    assert [c.name for c in plan.noops] == ["d-ok"]
    assert plan.counts() == {Action.ISSUE: 2, Action.RENEW: 1, Action.INSTALL: 1,
                             Action.REMOVE: 1}
    assert plan.now == NOW and not plan.empty


def test_targets_filter() -> None:
    specs, recs = fleet()
    plan = make_plan(specs, recs, Observations(), NOW, targets=["b-due", "a-gone", "d-ok"])
    assert [c.name for c in plan.changes] == ["b-due", "a-gone"]
    assert [c.name for c in plan.noops] == ["d-ok"]


def test_same_inputs_same_plan() -> None:
    specs, recs = fleet()
    assert make_plan(specs, recs, Observations(), NOW) == \
        make_plan(list(reversed(specs)), dict(reversed(list(recs.items()))), Observations(), NOW)


def test_short_lived_warning() -> None:
    rec = record(D, lifetime=DAY)  # renews at half: 12 h before expiry
    plan = plan_of(D, rec, now=NB)
    assert plan.warnings == ("www: only 12.0 h between renewal time and expiry; run "
                             "`certplan apply` at least hourly (see README, short-lived "
                             "certificates)",)
    assert plan_of(D, record(D, lifetime=2 * DAY), now=NB).warnings == ()
    assert plan_of(D, None).warnings == ()


def test_ari_refreshed_flag_passes_through() -> None:
    assert plan_of(D, None, obs=Observations(ari_refreshed=True)).ari_refreshed
    assert not plan_of(D, None).ari_refreshed


def test_unfinished_renewal_order_is_resumed_even_when_not_due() -> None:
    rec = record(D, pending_order=open_order(D))
    assert only(plan_of(D, rec)) == (
        Action.RENEW, "an open order from 2026-05-31 23:10 UTC is recorded; apply resumes "
        "it if the CA still has it")


def test_failed_install_is_installed_again() -> None:
    t = FilesTarget(fullchain_file="/etc/ssl/a.pem")
    d = desired(install=[t])
    rec = record(d, installs=[InstallRecord(installer="files", digest=t.digest(),
                                            status="failed", installed_at=NOW)])
    plan = plan_of(d, rec)
    assert only(plan) == (Action.INSTALL, "install[0]: the last install failed; installing again")
    assert plan.changes[0].install_targets == (0,)
