"""Issue 10, items 1, 2 and 6 in the pure planner: an install record says which
serial it installed; a different serial is an install that runs again; a remove
keeps the places a wanted certificate installs."""

from __future__ import annotations

from certplan.core.plan import Action, make_plan
from certplan.model.records import CertRecord, InstallRecord
from tests.unit.test_plan import NOW, desired, files_ok, observed, record, target


def at_serial(done: InstallRecord, serial: str | None) -> InstallRecord:
    return done.model_copy(update={"serial": serial})


def test_an_install_of_another_serial_is_an_install_change_even_when_files_match() -> None:
    d = desired(install=[target(0), target(1)])
    rec = record(d)  # its certificate is serial 0a1b2c
    rec = rec.model_copy(update={"installs": [at_serial(rec.installs[0], "0a1b2c"),
                                              at_serial(rec.installs[1], "99ff")]})
    plan = make_plan([d], {"www": rec}, observed(files_ok(d), d), NOW)
    (change,) = plan.changes
    assert change.action is Action.INSTALL and change.install_targets == (1,)
    assert change.reasons == ("install[1]: installed serial 99ff, current 0a1b2c (check, "
                              "reload and verify run again)",)


def test_an_install_never_done_for_any_certificate_says_so() -> None:
    d = desired(install=[target(0)])
    rec = record(d)
    rec = rec.model_copy(update={"installs": [at_serial(rec.installs[0], "")]})
    (change,) = make_plan([d], {"www": rec}, observed(files_ok(d), d), NOW).changes
    assert change.reasons[0].startswith("install[0]: never installed, current 0a1b2c")


def test_records_without_a_serial_are_trusted_as_before() -> None:
    """Written by a certplan that did not record serials, after the install."""
    d = desired(install=[target(0)])
    rec = record(d)
    assert rec.installs[0].serial is None
    assert make_plan([d], {"www": rec}, observed(files_ok(d), d), NOW).empty
    assert make_plan([d], {"www": rec.model_copy(update={"installs": [
        at_serial(rec.installs[0], "0a1b2c")]})}, observed(files_ok(d), d), NOW).empty


def test_a_serial_in_the_state_file_round_trips() -> None:
    d = desired(install=[target(0)])
    rec = record(d)
    rec = rec.model_copy(update={"installs": [at_serial(rec.installs[0], "0a1b2c")]})
    back = CertRecord.model_validate_json(rec.model_dump_json())
    assert back.installs[0].serial == "0a1b2c"


def test_a_renamed_spec_keeps_the_files_the_new_name_installs() -> None:
    """Item 6: "www" renamed "shop", same paths, on_remove.delete_files: the remove of
    "www" must not delete what "shop" installs (under --parallel in any order)."""
    shared, own = target(0), target(1)
    old = desired("www", install=[shared, own])
    rec = record(old, on_remove={"revoke": False, "delete_files": True})
    new = desired("shop", install=[shared])
    plan = make_plan([new], {"www": rec}, observed(files_ok(new), new), NOW)
    issue, remove = plan.changes
    assert (issue.name, issue.action) == ("shop", Action.ISSUE)
    assert (remove.name, remove.action) == ("www", Action.REMOVE)
    assert remove.delete_files
    assert remove.delete_paths == tuple(sorted(own.files().values()))
    for path in shared.files().values():
        assert f"keeps {path}: certificate 'shop' installs it" in remove.reasons
        assert not any(r.startswith(f"deletes {path}") for r in remove.reasons)


def test_a_remove_keeps_what_a_certificate_with_nothing_to_do_installs() -> None:
    """Also when the new name was applied already (`--target shop`): no change for it."""
    shared = target(0)
    rec = record(desired("www", install=[shared]),
                 on_remove={"revoke": False, "delete_files": True})
    new = desired("shop", install=[shared])
    plan = make_plan([new], {"www": rec, "shop": record(new)},
                     observed(files_ok(new), new), NOW, targets=["www"])
    (remove,) = plan.changes
    assert remove.delete_paths == ()
    assert remove.delete_files
