"""Recorded state: `state/<name>.json` per certificate plus `state/_state.json`.

Public facts only (never a private key). Sorted keys for stable diffs. Every
write is atomic; the state-wide serial grows by one with each write, and the
lineage (a UUID) is fixed when the state folder is first written, so that a
saved plan can be refused as stale.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from certplan.model.errors import Problem, StateError
from certplan.model.gcpause import gc_paused
from certplan.model.records import CertRecord, State, StateMeta
from certplan.store.atomic import atomic_write, fsync_dir

META_FILE = "_state.json"


def _problem_from(path: Path, exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = ""
        for part in err["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else ("." if loc else "") + str(part)
        msg = "field required" if err["type"] == "missing" else _lower_first(err["msg"])
        out.append(Problem(str(path), loc, msg))
    return out


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _read_json(path: Path) -> tuple[Any, list[Problem]]:
    try:
        return json.loads(path.read_text(encoding="utf-8")), []
    except UnicodeDecodeError:
        return None, [Problem(str(path), "", "not UTF-8 text")]
    except json.JSONDecodeError as exc:
        return None, [Problem(str(path), "", f"not valid JSON: {exc.msg} at line {exc.lineno}")]
    except OSError as exc:
        return None, [Problem(str(path), "", f"cannot read: {exc.strerror}")]


def _read_record_fast(path: Path) -> CertRecord | None:
    """Parse and validate in one step (pydantic-core reads the JSON); None on any problem."""
    try:
        with open(path, "rb") as fh:  # plain open(): faster than Path.read_bytes()
            return CertRecord.model_validate_json(fh.read())
    except (OSError, ValidationError):
        return None


def load_state(folder: Path) -> State:
    """Read every state file; problems are collected, never raised, never 'fixed'."""
    with gc_paused():
        return _load_state(folder)


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
    if meta_path.exists():
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
        data, problems = _read_json(path)  # the slow path, for its problem messages
        state.problems += problems
        if data is None:
            continue
        try:
            record = CertRecord.model_validate(data)
        except ValidationError as exc:
            state.problems += _problem_from(path, exc)
            continue
        if record.name != path.stem:
            state.problems.append(
                Problem(str(path), "name", f"{record.name!r} does not match the file name")
            )
            continue
        state.records[record.name] = record
    return state


def dump_json(model: BaseModel) -> bytes:
    data = model.model_dump(mode="json")
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


class StateStore:
    """Writes state. Callers hold the apply lock (see `lock.py`)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _next_meta(self) -> StateMeta:
        """The meta to write after a change; raises StateError (before anything is
        written) when the current one does not parse."""
        current = load_state_meta(self.folder / META_FILE)
        if current is None:
            return StateMeta(lineage=str(uuid.uuid4()), serial=1)
        return current.model_copy(update={"serial": current.serial + 1})

    def _check_writable(self, path: Path) -> None:
        if not path.exists():
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

    def write(self, record: CertRecord) -> StateMeta:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{record.name}.json"
        self._check_writable(path)
        meta = self._next_meta()
        # Serial first: a crash between the two writes leaves a serial that moved
        # without a change (saved plans refused: safe), never a change without one.
        atomic_write(self.folder / META_FILE, dump_json(meta))
        atomic_write(path, dump_json(record))
        return meta

    def delete(self, name: str) -> StateMeta:
        meta = self._next_meta()
        atomic_write(self.folder / META_FILE, dump_json(meta))  # serial first, as in write()
        path = self.folder / f"{name}.json"
        path.unlink(missing_ok=True)
        fsync_dir(self.folder)
        return meta


def load_state_meta(path: Path) -> StateMeta | None:
    if not path.exists():
        return None
    data, problems = _read_json(path)
    if problems:
        raise StateError(str(problems[0]))
    try:
        return StateMeta.model_validate(data)
    except ValidationError as exc:
        raise StateError(str(_problem_from(path, exc)[0])) from None


def records_by_name(state: State) -> Mapping[str, CertRecord]:
    return state.records
