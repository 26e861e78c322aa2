"""The files state backend: round trip, atomic writes, corrupt files reported and never
overwritten, serial and lineage, its on-disk format. (What every backend must do is in
tests/contract/test_state_backend.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from certplan.model.errors import StateConflict, StateError
from certplan.model.records import CertRecord, State, StateMeta
from certplan.store.files import META_FILE, FilesBackend
from tests.unit.test_plan import desired, record, target


def full_record(name: str = "www") -> CertRecord:
    d = desired(name, install=[target(0)], profile="tlsserver",
                on_remove={"revoke": True, "delete_files": False})
    return record(d, account_url="https://ca.example/acct/1",
                  on_remove={"revoke": True, "delete_files": False}, renewals=3)


def load_state(folder: Path) -> State:
    return FilesBackend(folder).load()


def write(folder: Path, record: CertRecord) -> StateMeta:
    """The next write to the state in `folder` (expecting the serial it holds now)."""
    store = FilesBackend(folder)
    return store.write(record, store.load().serial)


def test_round_trip(tmp_path: Path) -> None:
    store = FilesBackend(tmp_path / "state")
    a, b = full_record("www"), record(desired("api", ["api.example.com"]), cert=False)
    store.write(a, 0)
    store.write(b, 1)
    state = load_state(tmp_path / "state")
    assert state.problems == []
    assert state.records == {"www": a, "api": b}


def test_files_are_sorted_stable_json(tmp_path: Path) -> None:
    store = FilesBackend(tmp_path)
    store.write(full_record(), 0)
    first = (tmp_path / "www.json").read_bytes()
    data = json.loads(first)
    assert list(data) == sorted(data) and first.endswith(b"\n")
    assert "private" not in first.decode().lower()
    store.write(CertRecord.model_validate(data), 1)
    assert (tmp_path / "www.json").read_bytes() == first


def test_no_temp_files_left(tmp_path: Path) -> None:
    store = FilesBackend(tmp_path)
    for i in range(3):
        store.write(full_record(f"c{i}"), i)
    store.delete("c1", 3)
    assert sorted(os.listdir(tmp_path)) == [META_FILE, "c0.json", "c2.json"]


def test_serial_increments_lineage_stable(tmp_path: Path) -> None:
    store = FilesBackend(tmp_path)
    assert load_state(tmp_path).serial == 0 and load_state(tmp_path).lineage is None
    m1 = store.write(full_record("a"), 0)
    m2 = store.write(full_record("b"), 1)
    m3 = store.delete("a", 2)
    assert (m1.serial, m2.serial, m3.serial) == (1, 2, 3)
    assert m1.lineage == m2.lineage == m3.lineage
    state = load_state(tmp_path)
    assert (state.serial, state.lineage) == (3, m1.lineage)
    assert set(state.records) == {"b"}


def test_new_folder_new_lineage(tmp_path: Path) -> None:
    a = FilesBackend(tmp_path / "a").write(full_record(), 0)
    b = FilesBackend(tmp_path / "b").write(full_record(), 0)
    assert a.lineage != b.lineage


@pytest.mark.parametrize("content", ["{not json", '{"name": "www"}', "\xff\xfe"],
                         ids=["bad-json", "wrong-fields", "not-utf8"])
def test_corrupt_file_reported_and_never_overwritten(tmp_path: Path, content: str) -> None:
    path = tmp_path / "www.json"
    path.write_bytes(content.encode("latin-1"))
    state = load_state(tmp_path)
    # only its own certificate stops: the problem is filed under its name
    assert state.problems == [] and list(state.broken) == ["www"]
    assert all(p.file == str(path) for p in state.broken["www"])
    assert "www" not in state.records
    with pytest.raises(StateError, match="refusing to overwrite") as info:
        FilesBackend(tmp_path).write(full_record(), 0)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content.encode("latin-1")
    assert not (tmp_path / META_FILE).exists()  # nothing else was written either


def test_corrupt_meta_stops_a_write_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / META_FILE).write_text("[1, 2")
    with pytest.raises(StateError, match=META_FILE):
        FilesBackend(tmp_path).write(full_record(), 0)
    assert not (tmp_path / "www.json").exists()
    assert load_state(tmp_path).problems[0].file == str(tmp_path / META_FILE)


def test_field_problems_name_the_field(tmp_path: Path) -> None:
    data = json.loads(full_record().model_dump_json())
    data["installs"][0]["parts"] = "nope"
    del data["ca_directory"]
    data["colour"] = "blue"
    (tmp_path / "www.json").write_text(json.dumps(data))
    shown = {(p.path, p.message) for p in load_state(tmp_path).broken["www"]}
    assert ("ca_directory", "field required") in shown
    assert ("installs[0].parts", "input should be a valid dictionary") in shown
    assert ("colour", "extra inputs are not permitted") in shown


def test_name_must_match_file(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(full_record("www").model_dump_json())
    problem = load_state(tmp_path).broken["other"][0]
    assert (problem.file, problem.path) == (str(tmp_path / "other.json"), "name")


def test_missing_folder_is_empty_state(tmp_path: Path) -> None:
    state = load_state(tmp_path / "nope")
    assert state.records == {} and state.problems == [] and state.serial == 0


def test_hidden_and_lock_files_ignored(tmp_path: Path) -> None:
    write(tmp_path, full_record())
    (tmp_path / ".certplan.lock").write_text("123\n")
    (tmp_path / ".www.json.certplan-1-ab.tmp").write_text("{")
    (tmp_path / ".gitkeep").write_text("")
    state = load_state(tmp_path)
    assert state.problems == [] and list(state.records) == ["www"]


# -- compare-and-swap and faults, as bytes on disk ---------------------------------------------

def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in the folder, hidden ones too (a temp file left behind shows)."""
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def test_stale_serial_changes_no_byte(tmp_path: Path) -> None:
    store = FilesBackend(tmp_path)
    store.write(full_record("www"), 0)
    store.write(full_record("api"), 1)
    before = snapshot(tmp_path)
    changed = full_record("www").model_copy(update={"renewals": 9})
    with pytest.raises(StateConflict, match="expected serial 1, found serial 2"):
        store.write(changed, 1)
    with pytest.raises(StateConflict):
        store.write(full_record("new"), 3)
    with pytest.raises(StateConflict):
        store.delete("api", 1)
    assert snapshot(tmp_path) == before


def test_conflict_names_the_folder(tmp_path: Path) -> None:
    FilesBackend(tmp_path).write(full_record(), 0)
    with pytest.raises(StateConflict) as info:
        FilesBackend(tmp_path).write(full_record(), 0)
    assert str(info.value).startswith(f"state folder {tmp_path}: another writer changed")
    assert (info.value.expected, info.value.found) == (0, 1)


# A real write error, as root too: RLIMIT_FSIZE makes write(2) fail with EFBIG (as a full
# disk fails it with ENOSPC) once a file would grow past `limit` bytes.
FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from certplan.model.errors import StateConflict, StateError
from certplan.model.records import CertRecord
from certplan.store.files import FilesBackend

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
store = FilesBackend(Path(sys.argv[1]))
record = CertRecord.model_validate_json(sys.stdin.read())
serial = store.load().serial
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
try:
    store.write(record, serial)
except StateError as exc:
    print(exc)
    sys.exit(3)
"""


@pytest.mark.parametrize("limit,failing", [(16, META_FILE), (400, "www.json")],
                         ids=["serial-fails", "record-fails"])
def test_write_error_leaves_record_and_serial(tmp_path: Path, limit: int, failing: str) -> None:
    store = FilesBackend(tmp_path)
    store.write(full_record(), 0)
    before = snapshot(tmp_path)
    assert len(before[META_FILE]) < 400 < len(before["www.json"])
    changed = full_record().model_copy(update={"renewals": 4})
    proc = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path), str(limit)],
                          input=changed.model_dump_json(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"{tmp_path / failing}: cannot write: File too large")
    assert "the state is unchanged" in proc.stdout
    assert snapshot(tmp_path) == before  # record, serial, and no temp file left
    assert store.write(changed, 1).serial == 2  # and the state is still writable


def test_delete_error_names_the_file(tmp_path: Path) -> None:
    store = FilesBackend(tmp_path)
    store.write(full_record(), 0)
    (tmp_path / "gone.json").mkdir()  # unlink(2) cannot remove a folder
    (tmp_path / "gone.json" / "x").write_text("")
    with pytest.raises(StateError, match=f"{tmp_path / 'gone.json'}: cannot delete"):
        store.delete("gone", 1)
    assert load_state(tmp_path).records["www"] == full_record()
