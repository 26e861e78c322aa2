"""Revoke the current certificate of a spec with the account key, and record it.

Used by `certplan revoke NAME` and by apply's `remove` when the spec said
`on_remove.revoke = true`. Callers hold the state lock while state is written.
After a recorded revocation the planner shows `issue` for that certificate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from certplan.errors import AcmeError, CertplanError
from certplan.state import CertRecord, Revocation, StateStore

if TYPE_CHECKING:
    from certplan.accounts import Sessions
    from certplan.ca import AcmeClient

# RFC 5280 CRLReason codes a subscriber may ask for (RFC 8555 section 7.6; the CA/B
# Forum baseline requirements allow these from subscribers).
REASONS: dict[str, int] = {
    "unspecified": 0,
    "keyCompromise": 1,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
}

Clock = Callable[[], datetime]


def reason_code(reason: str) -> int:
    if reason not in REASONS:
        raise CertplanError(f"--reason {reason!r}: choose one of {', '.join(REASONS)}")
    return REASONS[reason]


def revoke_at_ca(client: AcmeClient, record: CertRecord, reason: str) -> str:
    """Ask the CA to revoke the record's certificate. Returns a note for the user;
    a certificate the CA reports as already revoked counts as revoked."""
    code = reason_code(reason)
    if record.certificate is None:
        raise CertplanError(f"{record.name}: no certificate is recorded, nothing to revoke")
    serial = record.certificate.serial
    try:
        client.revoke(record.certificate.chain_pem, code)
    except AcmeError as exc:
        if _already_revoked(exc):
            return f"serial {serial} was already revoked at the CA"
        raise AcmeError(f"{record.name}: revoking serial {serial} failed: {exc}") from exc
    return f"revoked serial {serial} ({reason})"


def _already_revoked(exc: AcmeError) -> bool:
    cause = exc.__cause__
    code = getattr(cause, "code", None)
    return code == "alreadyRevoked"


def revoke_recorded(sessions: Sessions, store: StateStore, record: CertRecord, reason: str,
                    clock: Clock = lambda: datetime.now(UTC)) -> tuple[CertRecord, str]:
    """Revoke the record's certificate at the CA that issued it and record the
    revocation in state. The caller holds the state lock."""
    cert = record.certificate
    if cert is None:
        raise CertplanError(f"{record.name}: no certificate is recorded, nothing to revoke")
    if record.revoked is not None and record.revoked.serial == cert.serial:
        raise CertplanError(f"{record.name}: serial {cert.serial} was already revoked "
                            f"{record.revoked.revoked_at:%Y-%m-%d %H:%M} UTC "
                            f"({record.revoked.reason}); `certplan apply` issues a new one")
    reason_code(reason)  # before any network
    client, target = sessions.client(record.ca)
    if target.directory != record.ca_directory:
        raise CertplanError(
            f"{record.name}: issued by {record.ca_directory}, but CA {record.ca!r} now points "
            f"at {target.directory}; the account there cannot revoke it")
    note = revoke_at_ca(client, record, reason)
    revoked = record.model_copy(update={"revoked": Revocation(
        revoked_at=clock(), reason=reason, serial=cert.serial)})
    store.write(revoked)
    return revoked, note
