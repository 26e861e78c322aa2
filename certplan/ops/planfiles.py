"""Saved plans on disk: `plan --out FILE` writes one, `apply FILE` reads it back.

The document's schema is `certplan.core.planfile`; here are the file and the
digest of the inputs (certplan.toml and the spec files) it is stamped with.
"""

from __future__ import annotations

from pathlib import Path

from certplan.core.plan import Plan
from certplan.core.planfile import Stamp, decode_plan, encode_plan
from certplan.load import inputs_digest
from certplan.model.errors import CertplanError
from certplan.model.project import Project
from certplan.model.records import State
from certplan.store.atomic import atomic_write
from certplan.store.safefs import read_regular


def _stamp(state: State, project: Project) -> Stamp:
    return Stamp(lineage=state.lineage, serial=state.serial,
                 inputs_sha256=inputs_digest(project))


def save_plan(path: Path, plan: Plan, state: State, project: Project) -> None:
    data = encode_plan(plan, _stamp(state, project))
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise CertplanError(f"{path}: cannot write the saved plan: {exc.strerror or exc}") \
            from None


def load_plan(path: Path, state: State, project: Project) -> Plan:
    """Read a saved plan; StalePlanError if the state or the inputs moved on since."""
    try:
        data = read_regular(path)
    except OSError as exc:
        raise CertplanError(f"{path}: cannot read the saved plan: {exc.strerror}") from None
    return decode_plan(data, _stamp(state, project), str(path))
