"""Revoke the current certificate of a spec with the account key, and record it.

Used by `certplan revoke NAME` and by apply's `remove` when the spec said
`on_remove.revoke = true`. Callers hold the state lock while state is written.
After a recorded revocation the planner shows `issue` for that certificate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from certplan.engine.revocation import proven_record, reason_code, revoke_at_ca
from certplan.model.errors import CertplanError
from certplan.model.records import CertRecord, Revocation

if TYPE_CHECKING:
    from certplan.engine.sessions import Sessions
    from certplan.store.base import StateBackend

Clock = Callable[[], datetime]


def revoke_recorded(sessions: Sessions, store: StateBackend, record: CertRecord, reason: str,
                    *, expect_serial: int,
                    clock: Clock = lambda: datetime.now(UTC)) -> tuple[CertRecord, str]:
    """Revoke the record's certificate at the CA that issued it and record the
    revocation in state (`expect_serial`: the serial of the state `record` came
    from). The caller holds the state lock."""
    cert = record.certificate
    if cert is None:
        raise CertplanError(f"{record.name}: no certificate is recorded, nothing to revoke")
    if record.revoked is not None and record.revoked.serial == cert.serial:
        raise CertplanError(f"{record.name}: serial {cert.serial} was already revoked "
                            f"{record.revoked.revoked_at:%Y-%m-%d %H:%M} UTC "
                            f"({record.revoked.reason}); `certplan apply` issues a new one")
    reason_code(reason)  # before any network
    # state comes from git: only the keystore's own copy, serial for serial, is revoked
    record = proven_record(record, sessions.keystore.load_current(record.name),
                           f"state record {record.name!r} in the {store.describe()}")
    client, endpoint = sessions.client(record.ca)
    if endpoint.directory != record.ca_directory:
        raise CertplanError(
            f"{record.name}: issued by {record.ca_directory}, but CA {record.ca!r} now points "
            f"at {endpoint.directory}; the account there cannot revoke it")
    note = revoke_at_ca(client, record, reason)
    revoked = record.model_copy(update={"revoked": Revocation(
        revoked_at=clock(), reason=reason, serial=cert.serial)})
    store.write(revoked, expect_serial)
    return revoked, note
