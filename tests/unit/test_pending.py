"""Whether a recorded open order still matches its spec (core.pending), and what the
plan says about it: apply resumes only what matches, the plan says the same."""

from __future__ import annotations

import pytest

from certplan.core.pending import open_order_mismatch
from certplan.core.plan import Action
from tests.unit.test_plan import LE, ZEROSSL, desired, open_order, plan_of, record

D = desired()


def test_a_matching_order_may_be_resumed() -> None:
    assert open_order_mismatch(open_order(D), D.spec, D.directories) is None
    # the names in another order are the same names
    swapped = open_order(D, domains=list(reversed(D.spec.domains)))
    assert open_order_mismatch(swapped, D.spec, D.directories) is None


@pytest.mark.parametrize("changed,expected", [
    ({"key": "rsa-2048"}, "it is for an ec-256 key, the spec now asks for rsa-2048"),
    ({"domains": ["example.com"]},
     "it is for example.com, www.example.com, not example.com"),
    ({"profile": "shortlived"},
     "it was made with profile (CA default), the spec now asks for shortlived"),
    ({"ca": ["zerossl"]}, f"it was made at {LE}, which the spec no longer names"),
])
def test_a_changed_spec_does_not_resume_the_order(changed: dict[str, object],
                                                  expected: str) -> None:
    now = desired(**changed)  # type: ignore[arg-type]
    pending = open_order(D)
    assert open_order_mismatch(pending, now.spec, now.directories) == expected
    rec = record(D, cert=False, pending_order=pending)
    (change,) = plan_of(now, rec).changes
    assert change.action is Action.ISSUE
    assert change.reasons[-1] == ("the open order from 2026-05-31 23:10 UTC no longer "
                                  f"matches ({expected}); apply orders anew")


def test_an_order_made_with_a_profile_is_not_finished_without_it() -> None:
    pending = open_order(D, profile="shortlived")
    assert open_order_mismatch(pending, D.spec, D.directories) == (
        "it was made with profile shortlived, the spec now asks for (CA default)")


def test_a_fallback_ca_directory_still_matches() -> None:
    two = desired(ca=["letsencrypt", "zerossl"])
    pending = open_order(two, directory=ZEROSSL)
    assert open_order_mismatch(pending, two.spec, two.directories) is None
    assert open_order_mismatch(pending, two.spec, (LE,)) is not None


def test_an_unreadable_csr_is_not_resumed() -> None:
    pending = open_order(D).model_copy(update={"csr_pem": "-----BEGIN CERTIFICATE REQUEST"})
    assert open_order_mismatch(pending, D.spec, D.directories) == (
        "its recorded CSR is not readable")


def test_a_recorded_open_order_is_named_beside_a_forced_reason() -> None:
    rec = record(D, pending_order=open_order(D))
    (change,) = plan_of(desired(domains=["example.com", "api.example.com"]), rec).changes
    assert change.action is Action.ISSUE and len(change.reasons) == 2
    assert "no longer matches (it is for example.com, www.example.com" in change.reasons[1]
