"""Revoke a recorded certificate at its CA (RFC 8555 section 7.6), signed with the
account key. Used by apply's `remove` (on_remove.revoke) and by `certplan revoke`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from certplan.model.errors import AcmeError, CertplanError
from certplan.model.records import CertRecord

if TYPE_CHECKING:
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


def proven_record(record: CertRecord, current: tuple[bytes, bytes] | None,
                  where: str) -> CertRecord:
    """`record` with the keystore's own copy of its certificate, when the host proves
    it: the keystore holds a certificate for the record's name and its serial is the
    recorded one. State comes from git and proves nothing: a record copied from
    another certificate must not revoke that one. `current` is the keystore's
    (key, full chain) for the name; `where` names the record in messages."""
    from certplan.model.crypto import cert_info

    cert = record.certificate
    if cert is None:
        raise CertplanError(f"{record.name}: no certificate is recorded, nothing to revoke")
    if current is None:
        raise CertplanError(f"{where}, field certificate.serial: the keystore holds no "
                            f"certificate for {record.name!r}, so nothing proves serial "
                            f"{cert.serial} is its own; not revoked")
    try:
        held = cert_info(current[1]).serial
    except (ValueError, CertplanError) as exc:
        raise CertplanError(f"{where}: the keystore's fullchain.pem for {record.name!r} "
                            f"cannot be read ({exc}), so nothing proves serial "
                            f"{cert.serial} is its own; not revoked") from None
    if held != cert.serial.lower():
        raise CertplanError(f"{where}, field certificate.serial: the keystore's certificate "
                            f"for {record.name!r} is serial {held}, not {cert.serial}; "
                            f"not revoked")
    facts = cert.model_copy(update={"chain_pem": current[1].decode("ascii")})
    return record.model_copy(update={"certificate": facts})
