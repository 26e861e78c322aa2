"""Resume the open order that state records, only while it is still the order to finish.

An order is resumed when state records it, it matches the spec (names, key type,
profile, CA directory: core.pending), the keystore holds the key its CSR was made
for, and the CA still has it open or valid. A valid order whose certificate state
already records, or whose certificate was revoked, is not finished again (a crash
after the state write, `--replace`, `revoke`). Anything else is dropped with a log
line, and the caller makes a fresh order. Only a CA that cannot be reached keeps the
order for the next run: that proves nothing about it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from certplan.core.pending import open_order_mismatch
from certplan.model.crypto import cert_info, csr_matches_key
from certplan.model.errors import AcmeError, CertplanError
from certplan.model.project import ResolvedSpec
from certplan.model.records import CertRecord
from certplan.store.keystore import Keystore

if TYPE_CHECKING:
    from certplan.ca import AcmeClient, Order

Log = Callable[[str], None]
_FINISHED = ("invalid", "expired", "deactivated", "revoked")
T = TypeVar("T")


@dataclass
class Resumed:
    order: Order
    key_pem: bytes
    chains: list[str] | None  # the certificate, downloaded already when the order was valid


class Dropped(Exception):
    """The open order is not the one to finish; the message says why."""


def resume_open_order(client: AcmeClient, directory: str, spec: ResolvedSpec,
                      record: CertRecord | None, keystore: Keystore, deadline: float,
                      log: Log, forget: Callable[[str], None]) -> Resumed | None:
    """The recorded open order, ready to be finished, or None (its key then deleted,
    and `forget(name)` called to drop it from state). Raises AcmeError only when the
    CA cannot be asked."""
    pending = record.pending_order if record is not None else None
    if record is None or pending is None:
        return None
    try:
        resumed = _check(client, directory, spec, record, keystore, deadline)
    except Dropped as why:
        log(f"{spec.name}: open order {pending.url} cannot be resumed ({why}); ordering anew")
        keystore.clear_pending(spec.name)
        forget(spec.name)
        return None
    log(f"{spec.name}: resuming order {pending.url} ({resumed.order.status})")
    return resumed


def _check(client: AcmeClient, directory: str, spec: ResolvedSpec, record: CertRecord,
           keystore: Keystore, deadline: float) -> Resumed:
    pending = record.pending_order
    assert pending is not None and record is not None
    why = open_order_mismatch(pending, spec, (directory,))
    if why is not None:
        raise Dropped(why)
    if _origin(pending.url) != _origin(directory):
        # the URL comes from state (git): only the CA certplan.toml names is asked
        raise Dropped(f"its URL is not on the CA's host ({_origin(directory)})")
    assert pending.csr_pem is not None
    csr_pem = pending.csr_pem.encode("ascii")
    key_pem = keystore.load_pending_key(spec.name)
    if key_pem is None:
        raise Dropped("its key is not in the keystore")
    if not _csr_of(csr_pem, key_pem):
        raise Dropped("the keystore's pending key is not the one its CSR was made for")
    order = _ask(lambda: client.fetch_order(pending.url, csr_pem), "the CA no longer has it")
    _check_order(order, spec)
    chains = None
    if order.status == "valid":
        chains = _ask(lambda: client.finalize(order, deadline),
                      "its certificate cannot be downloaded")
        _check_certificate(chains, record)
    return Resumed(order, key_pem, chains)


def _check_order(order: Order, spec: ResolvedSpec) -> None:
    """What the CA says about the order, against the spec."""
    if order.status in _FINISHED:
        raise Dropped(f"the CA reports it {order.status}")
    if set(order.identifiers) != set(spec.domains):
        raise Dropped(f"the CA has it for {', '.join(order.identifiers)}")
    profile = order.body.profile  # a CA may name its default: only a set profile counts
    if spec.profile and profile and profile != spec.profile:
        raise Dropped(f"the CA made it with profile {profile}, the spec asks for "
                      f"{spec.profile}")


def _check_certificate(chains: list[str], record: CertRecord) -> None:
    """A valid order's certificate must be new: not the one state records, not revoked."""
    try:
        serial = cert_info(chains[0].encode("ascii")).serial
    except (CertplanError, IndexError, UnicodeError):
        raise Dropped("the CA's certificate for it is not readable") from None
    recorded = record.certificate
    if recorded is not None and serial == recorded.serial.lower():
        raise Dropped(f"its certificate, serial {serial}, is the one state records already")
    if record.revoked is not None and serial == record.revoked.serial.lower():
        raise Dropped(f"its certificate, serial {serial}, was revoked "
                      f"({record.revoked.reason})")


def _ask(call: Callable[[], T], gone: str) -> T:
    """The CA's answer; Dropped when the CA refused for good, AcmeError re-raised
    when it could not be asked (the order stays recorded for the next run)."""
    from certplan.ca import ca_refused

    try:
        return call()
    except AcmeError as exc:
        if ca_refused(exc):
            raise Dropped(f"{gone}: {exc}") from exc
        raise


def _origin(url: str) -> str:
    """scheme://host:port of a URL ("" when it has none)."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    return f"{parts.scheme.lower()}://{host}:{port}" if host else ""


def _csr_of(csr_pem: bytes, key_pem: bytes) -> bool:
    """The CSR was made for this key (a key from another order's attempt is not)."""
    try:
        return csr_matches_key(csr_pem, key_pem)
    except CertplanError:
        return False
