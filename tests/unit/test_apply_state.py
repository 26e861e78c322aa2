"""Apply and the state backend: every write expects the serial the previous one left,
shared by the parallel workers; a write by anyone else in between stops apply's
writes with a conflict instead of losing an update. (Removals only: no CA needed.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from certplan.core.plan import Action, make_plan
from certplan.engine.apply import Applier, Outcome
from certplan.load import load_project
from certplan.model.observed import Observations
from certplan.model.project import Project
from certplan.store.backends import open_state_backend
from tests.unit.stateutil import save_record, state_of
from tests.unit.test_plan import desired, record
from tests.unit.test_project import write_project

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def recorded_without_specs(root: Path, names: list[str]) -> Project:
    """A project whose specs are all gone: each recorded certificate is to be removed."""
    project = load_project(write_project(root, specs={}))
    for name in names:
        save_record(project, record(desired(name, [f"{name}.example.com"])))
    return project


def remove_all(project: Project, parallel: int,
               before_run: Callable[[], object] | None = None) -> list[Outcome]:
    store = open_state_backend(project)
    state = store.load()
    plan = make_plan(project.desired, state.records, Observations(), NOW)
    assert {c.action for c in plan.changes} == {Action.REMOVE}
    applier = Applier(project, state, store=store, log=lambda line: None)
    if before_run is not None:
        before_run()
    return applier.run(plan, parallel=parallel)


def test_parallel_writes_each_expect_the_last_serial(tmp_path: Path) -> None:
    names = [f"c{i}" for i in range(6)]
    project = recorded_without_specs(tmp_path, names)
    outcomes = remove_all(project, parallel=4)
    assert [(o.name, o.ok) for o in outcomes] == [(n, True) for n in names]
    state = state_of(project)
    assert state.records == {} and state.serial == 2 * len(names)


def test_a_write_by_another_writer_is_never_overwritten(tmp_path: Path) -> None:
    project = recorded_without_specs(tmp_path, ["old"])
    other = record(desired("other", ["other.example.com"]))
    outcomes = remove_all(project, parallel=1,
                          before_run=lambda: save_record(project, other))
    assert [(o.name, o.ok) for o in outcomes] == [("old", False)]
    assert "another writer changed the state" in outcomes[0].detail
    assert "expected serial 1, found serial 2" in outcomes[0].detail
    state = state_of(project)
    assert set(state.records) == {"old", "other"} and state.serial == 2


def test_a_damaged_keystore_chain_is_named_and_nothing_is_revoked() -> None:
    from datetime import UTC, datetime

    import pytest

    from certplan.engine.revocation import proven_record
    from certplan.model.errors import CertplanError
    from certplan.model.records import CertFacts, CertRecord

    now = datetime(2026, 1, 1, tzinfo=UTC)
    facts = CertFacts(serial="ab", not_before=now, not_after=now, issuer="CN=x",
                      fingerprint_sha256="00", chain_pem="", issued_at=now)
    record = CertRecord(name="www", domains=["www.example.test"], key_type="ec-256",
                        ca="pebble", ca_directory="https://ca.test/dir", created_at=now,
                        certificate=facts)
    with pytest.raises(CertplanError, match="fullchain.pem for 'www' cannot be read"):
        proven_record(record, (b"key", b"-----BEGIN CERTIFICATE-----\ngarbage\n"), "state www")
