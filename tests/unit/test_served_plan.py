"""Issue 10, item 2 (what the endpoint serves) in the pure planner and the saved-plan
binding: a probe's finding is an install with a reason, forced (check, reload and
verify run even when the files match); a plain plan, without a probe, has none."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from certplan.core.plan import Action, Change, Plan, make_plan
from certplan.core.planfile import Stamp, decode_plan, encode_plan
from certplan.model.observed import Observations, Served
from certplan.model.records import CertRecord
from certplan.ops.planfiles import served_warnings
from tests.unit.test_plan import DAY, NOW, desired, files_ok, observed, record, target

URL = "https://127.0.0.1:8443"
CURRENT = "0a1b2c"  # the serial test_plan.record records
AGAIN = "(check, reload and verify run again)"


def probed(files: dict[str, str | None], *ds: Any, **served: Served) -> Observations:
    """Observations with a probe: `served` maps "name:index" to what it found."""
    found = {(k.split(":")[0], int(k.split(":")[1])): v for k, v in served.items()}
    return replace(observed(files, *ds), served=found, probed=True)


def plan_with(rec: CertRecord, obs: Observations, *ds: Any) -> Plan:
    return make_plan(list(ds), {rec.name: rec}, obs, NOW)


def two_targets() -> tuple[Any, CertRecord]:
    d = desired(install=[target(0), target(1, verify="127.0.0.1:8443")])
    return d, record(d)


def test_the_current_serial_served_is_no_change() -> None:
    d, rec = two_targets()
    plan = plan_with(rec, probed(files_ok(d), d, **{"www:1": Served(URL, serial=CURRENT)}), d)
    assert plan.empty and plan.probed
    assert plan.noops[0].action is Action.NOOP


def test_another_serial_served_is_a_forced_install_of_that_target() -> None:
    d, rec = two_targets()
    plan = plan_with(rec, probed(files_ok(d), d, **{"www:1": Served(URL, serial="77")}), d)
    (change,) = plan.changes
    assert change.action is Action.INSTALL
    assert change.install_targets == (1,) and change.force_targets == (1,)
    assert change.reasons == (f"install[1]: {URL} serves serial 77, current {CURRENT} {AGAIN}",)


def test_an_endpoint_that_does_not_answer_is_a_forced_install_with_the_reason() -> None:
    d, rec = two_targets()
    down = Served(URL, error="connection refused")
    (change,) = plan_with(rec, probed(files_ok(d), d, **{"www:1": down}), d).changes
    assert (change.action, change.install_targets, change.force_targets) == \
        (Action.INSTALL, (1,), (1,))
    assert change.reasons == (f"install[1]: {URL} did not answer: connection refused {AGAIN}",)


def test_a_plan_without_a_probe_sees_nothing_served() -> None:
    """A plain `plan` (CI) asks no endpoint: files and state agree, nothing to do."""
    d, rec = two_targets()
    plan = plan_with(rec, observed(files_ok(d), d), d)
    assert plan.empty and not plan.probed


def test_drift_and_a_wrong_serial_on_one_target_are_one_reason_and_forced() -> None:
    d, rec = two_targets()
    files = files_ok(d)
    files[target(1).fullchain_file or ""] = "ff" * 32
    (change,) = plan_with(rec, probed(files, d, **{"www:1": Served(URL, serial="77")}),
                          d).changes
    assert change.install_targets == (1,) and change.force_targets == (1,)
    (reason,) = change.reasons
    assert reason.startswith("install[1]: /srv/t1/fullchain.pem drifted (changed on disk); ")
    assert reason.endswith(f"{URL} serves serial 77, current {CURRENT} {AGAIN}")


def test_a_changed_target_whose_endpoint_is_wrong_is_forced() -> None:
    """"target changed" alone installs without force (the files may match); with a
    wrong serial served, check, reload and verify must run."""
    d, rec = two_targets()
    changed = desired(install=[target(0), target(1, verify="127.0.0.1:8443",
                                                   reload="true")])
    (change,) = plan_with(rec, probed(files_ok(changed), changed,
                                      **{"www:1": Served(URL, serial="77")}), changed).changes
    assert change.force_targets == (1,)
    assert change.reasons[0].startswith("install[1]: target changed; ")


def test_a_failed_install_is_installed_again_without_a_second_reason() -> None:
    d, rec = two_targets()
    failed = rec.installs[1].model_copy(update={"status": "failed", "parts": {}})
    rec = rec.model_copy(update={"installs": [rec.installs[0], failed]})
    (change,) = plan_with(rec, probed(files_ok(d), d, **{"www:1": Served(URL, serial="77")}),
                          d).changes
    assert change.reasons == ("install[1]: the last install failed; installing again",)
    assert change.force_targets == ()  # apply forces a failed target anyway


def test_a_due_renewal_wins_over_what_is_served() -> None:
    d, _ = two_targets()
    rec = record(d, not_before=NOW - 89 * DAY)  # 90 days valid: one day left
    (change,) = plan_with(rec, probed(files_ok(d), d, **{"www:1": Served(URL, serial="77")}),
                          d).changes
    assert change.action is Action.RENEW


def test_a_saved_plan_says_whether_it_was_probed() -> None:
    stamp = Stamp(lineage="l", serial=3, inputs_sha256="x")
    plan = Plan(now=NOW, changes=(), noops=(), probed=True)
    assert decode_plan(encode_plan(plan, stamp), stamp, "f").probed
    assert not decode_plan(encode_plan(replace(plan, probed=False), stamp), stamp, "f").probed
    older = encode_plan(plan, stamp).replace(b'"probed": true,', b"")
    assert b"probed" not in older
    assert not decode_plan(older, stamp, "f").probed  # files from before the field


def change(name: str, targets: tuple[int, ...], force: tuple[int, ...] = ()) -> Change:
    return Change(name=name, action=Action.INSTALL, domains=("a.test",),
                  reasons=tuple(f"install[{i}]: why {i}" for i in targets),
                  install_targets=targets, force_targets=force)


@pytest.mark.parametrize(("applied", "expected"), [
    ((), ["www: install[1]: why 1", "api: install[0]: why 0"]),
    ((change("www", (0, 1)),), ["api: install[0]: why 0"]),
    ((change("www", (0,)), change("api", (0,))), ["www: install[1]: why 1"]),
])
def test_a_saved_plan_made_without_probe_names_what_it_leaves(
        applied: tuple[Change, ...], expected: list[str]) -> None:
    found = Plan(now=NOW, changes=(change("www", (0, 1), force=(1,)),
                                   change("api", (0,), force=(0,))), noops=())
    warnings = served_warnings(Plan(now=NOW, changes=applied, noops=()), found)
    assert [w.split(" (not in the saved plan")[0] for w in warnings] == expected
    assert all("run `certplan apply`, or `certplan plan --probe --out`" in w for w in warnings)


def test_probe_and_offline_exclude_each_other(tmp_path: Path) -> None:
    from tests.unit.test_cli_core import settled
    from tests.unit.test_exit_codes import certplan

    res = certplan(settled(tmp_path), "plan", "--probe", "--offline")
    assert res.returncode == 1
    assert "--probe asks the servers, --offline asks nothing: choose one" in res.stderr
    assert "Traceback" not in res.stderr
