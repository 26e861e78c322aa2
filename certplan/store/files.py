"""The "files" state backend: `state/<name>.json` per certificate plus `state/_state.json`.

Public facts only (never a private key). Sorted keys for stable diffs. Every
write is atomic; the state-wide serial grows by one with each write, and the
lineage (a UUID) is fixed when the state folder is first written, so that a
saved plan can be refused as stale. A file that does not parse is reported by
name and never overwritten; every file is read bounded (a regular file, not
through a symbolic link, at most 1 MiB: safefs.read_regular).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from certplan.model.errors import Problem, StateConflict, StateError, problems_from
from certplan.model.gcpause import gc_paused
from certplan.model.project import Project
from certplan.model.records import CertRecord, State, StateMeta
from certplan.store.atomic import StagedWrite, fsync_dir
from certplan.store.lock import state_lock
from certplan.store.safefs import make_dirs, read_regular

META_FILE = "_state.json"


def _problem_from(path: Path, exc: ValidationError) -> list[Problem]:
    return problems_from(str(path), exc, unknown_key=None)  # state is not typed by hand


def _read_json(path: Path) -> tuple[Any, list[Problem]]:
    try:
        return json.loads(read_regular(path).decode("utf-8")), []
    except UnicodeDecodeError:
        return None, [Problem(str(path), "", "not UTF-8 text")]
    except json.JSONDecodeError as exc:
        return None, [Problem(str(path), "", f"not valid JSON: {exc.msg} at line {exc.lineno}")]
    except OSError as exc:
        return None, [Problem(str(path), "", f"cannot read: {exc.strerror}")]


def _read_record_fast(path: Path) -> CertRecord | None:
    """Parse and validate in one step (pydantic-core reads the JSON); None on any problem."""
    try:
        return CertRecord.model_validate_json(read_regular(path))
    except (OSError, ValidationError):
        return None


def _load_state(folder: Path) -> State:
    state = State(meta=None)
    if not folder.exists():
        return state
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        state.problems.append(Problem(str(folder), "", f"cannot read the state folder: "
                                                       f"{exc.strerror}"))
        return state
    meta_path = folder / META_FILE
    if os.path.lexists(meta_path):
        data, problems = _read_json(meta_path)
        state.problems += problems
        if data is not None:
            try:
                state.meta = StateMeta.model_validate(data)
            except ValidationError as exc:
                state.problems += _problem_from(meta_path, exc)
    for name in names:
        if not name.endswith(".json") or name.startswith((".", "_")):
            continue
        path = folder / name
        record = _read_record_fast(path)
        if record is not None and record.name == path.stem:
            state.records[record.name] = record
            continue
        # the slow path, for its problem messages: a record that does not load stops
        # only its own certificate (State.broken, under the file's name)
        record, problems = _read_record_slow(path)
        if record is not None:
            state.records[record.name] = record
        else:
            state.broken[path.stem] = problems
    return state


def _read_record_slow(path: Path) -> tuple[CertRecord | None, list[Problem]]:
    data, problems = _read_json(path)
    if data is None:
        return None, problems
    try:
        record = CertRecord.model_validate(data)
    except ValidationError as exc:
        return None, _problem_from(path, exc)
    if record.name != path.stem:
        return None, [Problem(str(path), "name",
                              f"{record.name!r} does not match the file name")]
    return record, []


def dump_json(model: BaseModel) -> bytes:
    data = model.model_dump(mode="json")
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


class FilesBackend:
    """The "files" state backend: `<folder>/<name>.json` and `<folder>/_state.json`.

    Writes in this process are serialized (the compare-and-swap reads `_state.json`
    and replaces it without another writer in between); other processes are kept
    out by `lock()`, which every writer holds, and caught by the compare-and-swap.
    """

    def __init__(self, folder: Path):
        self.folder = folder

    @classmethod
    def for_project(cls, project: Project) -> FilesBackend:
        return cls(project.state_dir)

    def describe(self) -> str:
        return f"state folder {self.folder}"

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        return state_lock(self.folder, timeout)

    def run_lock(self, timeout: float) -> AbstractContextManager[None]:
        return self.lock(timeout)  # one writer per folder, so no certificate locks

    def lock_certificate(self, name: str, timeout: float) -> AbstractContextManager[None]:
        return nullcontext()

    def load(self) -> State:
        with gc_paused():
            return _load_state(self.folder)

    def write(self, record: CertRecord, expect_serial: int) -> StateMeta:
        path = self.folder / f"{record.name}.json"
        with _WRITES:
            self._make_folder()
            self._check_writable(path)
            meta = self._next_meta(expect_serial)
            # Serial first: a crash between the two renames leaves a serial that moved
            # without a change (saved plans refused: safe), never a change without one.
            self._replace([(self.folder / META_FILE, dump_json(meta)),
                           (path, dump_json(record))], meta)
        return meta

    def delete(self, name: str, expect_serial: int) -> StateMeta:
        path = self.folder / f"{name}.json"
        with _WRITES:
            self._make_folder()
            meta = self._next_meta(expect_serial)
            self._replace([(self.folder / META_FILE, dump_json(meta))], meta)  # as in write()
            try:
                path.unlink(missing_ok=True)
                fsync_dir(self.folder)
            except OSError as exc:
                raise StateError(f"{path}: cannot delete: {exc.strerror or exc}; the serial "
                                 f"moved to {meta.serial}, the record stays") from exc
        return meta

    # -- the write path -------------------------------------------------------------------

    def _make_folder(self) -> None:
        try:
            make_dirs(self.folder, 0o755)
        except OSError as exc:
            raise StateError(f"{self.folder}: cannot create the state folder: "
                             f"{exc.strerror or exc}") from exc

    def _next_meta(self, expect_serial: int) -> StateMeta:
        """The meta to write after a change, if the serial is still `expect_serial`.
        Raises (before anything is written) StateConflict when it is not, StateError
        when `_state.json` does not parse."""
        current = _read_meta(self.folder / META_FILE)
        found = current.serial if current is not None else 0
        if found != expect_serial:
            raise StateConflict(self.describe(), expect_serial, found)
        if current is None:
            return StateMeta(lineage=str(uuid.uuid4()), serial=1)
        return current.model_copy(update={"serial": found + 1})

    def _check_writable(self, path: Path) -> None:
        if not os.path.lexists(path):
            return
        data, problems = _read_json(path)
        if not problems:
            try:
                CertRecord.model_validate(data)
            except ValidationError as exc:
                problems = _problem_from(path, exc)
        if problems:
            raise StateError(f"{path}: refusing to overwrite a state file that does not "
                             f"parse ({problems[0].path or 'file'}: {problems[0].message}); "
                             f"fix or remove it by hand")

    def _replace(self, files: list[tuple[Path, bytes]], meta: StateMeta) -> None:
        """Stage every file, then rename them in order. A full disk or a permission
        error strikes while staging, so it changes nothing."""
        staged: list[StagedWrite] = []
        try:
            for path, data in files:
                staged.append(StagedWrite(path, data))
        except OSError as exc:
            for s in staged:
                s.discard()
            raise StateError(f"{path}: cannot write: {exc.strerror or exc}; the state is "
                             f"unchanged") from exc
        for i, s in enumerate(staged):
            try:
                s.commit()
            except OSError as exc:
                for rest in staged[i + 1:]:
                    rest.discard()
                left = "the state is unchanged" if i == 0 else \
                    f"the serial moved to {meta.serial}, the record is unchanged"
                raise StateError(f"{s.target}: cannot write: {exc.strerror or exc}; "
                                 f"{left}") from exc


_WRITES = threading.Lock()


def _read_meta(path: Path) -> StateMeta | None:
    if not os.path.lexists(path):
        return None
    data, problems = _read_json(path)
    if problems:
        raise StateError(str(problems[0]))
    try:
        return StateMeta.model_validate(data)
    except ValidationError as exc:
        raise StateError(str(_problem_from(path, exc)[0])) from None
