"""Write a whole state into a state folder, exactly as the files backend writes
it (the same bytes: `store.files.dump_json`), lineage and serial included.

Record names come from the source store, which may be a database others write:
only a certificate name (what a spec may be called) becomes a file name, so no
row can make certplan write outside the folder. Records the folder holds and the
source does not are removed; `_state.json` is written last, so an interrupted
copy leaves a folder whose serial has not moved yet.
"""

from __future__ import annotations

from pathlib import Path

from certplan.model.errors import StateError
from certplan.model.records import State
from certplan.model.spec import NAME_RE
from certplan.store.atomic import StagedWrite, fsync_dir
from certplan.store.files import META_FILE, dump_json


def write_folder(folder: Path, state: State, current: State) -> None:
    """Make `folder` hold `state` (the caller holds the folder's lock and has
    checked that `current`, what the folder held, may be replaced)."""
    assert state.meta is not None
    bad = [name for name in state.records if not NAME_RE.fullmatch(name)]
    if bad:
        raise StateError(f"record {bad[0]!r} is not a certificate name: refusing to write "
                         f"it as a file; nothing was written")
    try:
        for name, record in sorted(state.records.items()):
            StagedWrite(folder / f"{name}.json", dump_json(record)).commit()
        for name in sorted(set(current.records) - set(state.records)):
            (folder / f"{name}.json").unlink(missing_ok=True)
        StagedWrite(folder / META_FILE, dump_json(state.meta)).commit()
        fsync_dir(folder)
    except OSError as exc:
        raise StateError(f"{exc.filename or folder}: cannot write: {exc.strerror or exc}; "
                         f"its serial is unchanged, run the command again") from None

