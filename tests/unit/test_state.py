"""State: round trip, atomic writes, corrupt files reported and never overwritten,
serial and lineage."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from certplan.model.errors import StateError
from certplan.model.records import CertRecord
from certplan.store.files import META_FILE, StateStore, load_state
from tests.unit.test_plan import desired, record, target


def full_record(name: str = "www") -> CertRecord:
    d = desired(name, install=[target(0)], profile="tlsserver",
                on_remove={"revoke": True, "delete_files": False})
    return record(d, account_url="https://ca.example/acct/1",
                  on_remove={"revoke": True, "delete_files": False}, renewals=3)


def test_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    a, b = full_record("www"), record(desired("api", ["api.example.com"]), cert=False)
    store.write(a)
    store.write(b)
    state = load_state(tmp_path / "state")
    assert state.problems == []
    assert state.records == {"www": a, "api": b}


def test_files_are_sorted_stable_json(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.write(full_record())
    first = (tmp_path / "www.json").read_bytes()
    data = json.loads(first)
    assert list(data) == sorted(data) and first.endswith(b"\n")
    assert "private" not in first.decode().lower()
    store.write(CertRecord.model_validate(data))
    assert (tmp_path / "www.json").read_bytes() == first


def test_no_temp_files_left(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    for i in range(3):
        store.write(full_record(f"c{i}"))
    store.delete("c1")
    assert sorted(os.listdir(tmp_path)) == [META_FILE, "c0.json", "c2.json"]


def test_serial_increments_lineage_stable(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    assert load_state(tmp_path).serial == 0 and load_state(tmp_path).lineage is None
    m1 = store.write(full_record("a"))
    m2 = store.write(full_record("b"))
    m3 = store.delete("a")
    assert (m1.serial, m2.serial, m3.serial) == (1, 2, 3)
    assert m1.lineage == m2.lineage == m3.lineage
    state = load_state(tmp_path)
    assert (state.serial, state.lineage) == (3, m1.lineage)
    assert set(state.records) == {"b"}


def test_new_folder_new_lineage(tmp_path: Path) -> None:
    a = StateStore(tmp_path / "a").write(full_record())
    b = StateStore(tmp_path / "b").write(full_record())
    assert a.lineage != b.lineage


@pytest.mark.parametrize("content", ["{not json", '{"name": "www"}', "\xff\xfe"],
                         ids=["bad-json", "wrong-fields", "not-utf8"])
def test_corrupt_file_reported_and_never_overwritten(tmp_path: Path, content: str) -> None:
    path = tmp_path / "www.json"
    path.write_bytes(content.encode("latin-1"))
    state = load_state(tmp_path)
    assert state.problems and all(p.file == str(path) for p in state.problems)
    assert "www" not in state.records
    with pytest.raises(StateError, match="refusing to overwrite") as info:
        StateStore(tmp_path).write(full_record())
    assert str(path) in str(info.value)
    assert path.read_bytes() == content.encode("latin-1")
    assert not (tmp_path / META_FILE).exists()  # nothing else was written either


def test_corrupt_meta_stops_a_write_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / META_FILE).write_text("[1, 2")
    with pytest.raises(StateError, match=META_FILE):
        StateStore(tmp_path).write(full_record())
    assert not (tmp_path / "www.json").exists()
    assert load_state(tmp_path).problems[0].file == str(tmp_path / META_FILE)


def test_field_problems_name_the_field(tmp_path: Path) -> None:
    data = json.loads(full_record().model_dump_json())
    data["installs"][0]["parts"] = "nope"
    del data["spec_digest"]
    data["colour"] = "blue"
    (tmp_path / "www.json").write_text(json.dumps(data))
    shown = {(p.path, p.message) for p in load_state(tmp_path).problems}
    assert ("spec_digest", "field required") in shown
    assert ("installs[0].parts", "input should be a valid dictionary") in shown
    assert ("colour", "extra inputs are not permitted") in shown


def test_name_must_match_file(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(full_record("www").model_dump_json())
    problem = load_state(tmp_path).problems[0]
    assert (problem.file, problem.path) == (str(tmp_path / "other.json"), "name")


def test_missing_folder_is_empty_state(tmp_path: Path) -> None:
    state = load_state(tmp_path / "nope")
    assert state.records == {} and state.problems == [] and state.serial == 0


def test_hidden_and_lock_files_ignored(tmp_path: Path) -> None:
    StateStore(tmp_path).write(full_record())
    (tmp_path / ".certplan.store.lock").write_text("123\n")
    (tmp_path / ".www.json.certplan-1-ab.tmp").write_text("{")
    (tmp_path / ".gitkeep").write_text("")
    state = load_state(tmp_path)
    assert state.problems == [] and list(state.records) == ["www"]
