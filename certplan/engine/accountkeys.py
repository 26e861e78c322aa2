"""Account key rollover that survives a crash or a lost answer (RFC 8555 section 7.3.5).

The new key is staged beside the account key (0600, `<id>.key.pem.next`) before the
CA is asked, and stays until an answer of the CA proves which key is current:

- the CA accepted the key change: the staged key replaces the old one;
- the CA refused it (a problem document, a 4xx): the staged key is deleted;
- anything else (timeout, lost connection, 5xx, a crash): both keys are kept, and
  the account is looked up with each (newAccount with onlyReturnExisting). When the
  CA finds it by the new key, that becomes the account key. When it finds it by the
  old key, the old key stays in use but the new one is kept until the next run asks
  again (the lost request may still arrive late). When neither lookup answers, both
  stay and nothing signs with either until one does.

`settle_staged_key` runs before any use of the account (apply, `account rollover`),
so a rollover cut short never makes apply create a second account with the old key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from certplan.engine.crashpoints import crashpoint
from certplan.model.crypto import generate_key, key_to_pem, load_key
from certplan.model.errors import AcmeError, CertplanError
from certplan.store.keystore import Keystore

if TYPE_CHECKING:
    from certplan.ca import AcmeClient

Log = Callable[[str], None]


class CaEndpoint(Protocol):
    """What this needs of engine.sessions.CaEndpoint (which imports this module)."""

    @property
    def name(self) -> str: ...
    @property
    def directory(self) -> str: ...
    @property
    def ca_bundle(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...


def _find(endpoint: CaEndpoint, key_pem: bytes, what: str, timeout: float) -> str | None:
    """The account URL the CA has for this key (never creates one)."""
    from certplan.ca import AcmeClient

    client = AcmeClient.connect(endpoint.directory, load_key(key_pem, source=what),
                                ca_bundle=endpoint.ca_bundle, timeout=timeout)
    return client.find_account()


def current_key(endpoint: CaEndpoint, old_pem: bytes, new_pem: bytes,
                timeout: float) -> str | None:
    """"new" or "old": the key the CA finds the account for; None when it cannot tell
    (unreachable, or neither key has an account)."""
    for which, pem in (("new", new_pem), ("old", old_pem)):
        try:
            if _find(endpoint, pem, f"{which} account key", timeout) is not None:
                return which
        except AcmeError:
            return None
    return None


def settle_staged_key(keystore: Keystore, endpoint: CaEndpoint, timeout: float,
                      log: Log) -> None:
    """Finish a rollover cut short: make the key the CA has the account key.
    CertplanError, both keys kept, when the CA cannot tell which it has."""
    directory, email = endpoint.directory, endpoint.email or ""
    staged = keystore.load_staged_account_key(directory, email)
    if staged is None:
        return
    path = keystore.staged_account_key(directory, email)
    old = keystore.load_account_key(directory, email)
    try:
        load_key(staged, source=str(path))
    except CertplanError as exc:
        raise CertplanError(f"{exc}: a key rollover of CA {endpoint.name} was cut short and "
                            f"left this file; nothing was changed") from None
    which = current_key(endpoint, old, staged, timeout) if old is not None else "new"
    if which == "new":
        keystore.commit_staged_account_key(directory, email)
        log(f"CA {endpoint.name}: an earlier key rollover had taken effect; {path.name} "
            f"is now the account key")
    elif which == "old":
        keystore.discard_staged_account_key(directory, email)
        log(f"CA {endpoint.name}: an earlier key rollover had not taken effect; the staged "
            f"key {path.name} was deleted")
    else:
        raise CertplanError(
            f"CA {endpoint.name}: a key rollover was cut short and the CA ({directory}) "
            f"could not say which key it now has; both are kept ({path}); certplan "
            f"asks again on the next run")


def roll_over(keystore: Keystore, endpoint: CaEndpoint, client: AcmeClient, key_type: str,
              timeout: float, log: Log) -> bytes:
    """Replace the account key of `client`'s account; returns the new key's PEM.
    On a lost answer the CA is asked which key it has; a key it may require is
    never deleted."""
    from certplan.ca import ca_refused

    directory, email = endpoint.directory, endpoint.email or ""
    old_pem = keystore.load_account_key(directory, email)
    if old_pem is None:
        raise CertplanError(f"the account key of CA {endpoint.name} is gone from the keystore")
    new_pem = key_to_pem(generate_key(key_type))
    keystore.stage_account_key(directory, email, new_pem)
    try:
        client.rollover(load_key(new_pem, source="new account key"))
    except AcmeError as exc:
        if ca_refused(exc):
            keystore.discard_staged_account_key(directory, email)
            raise
        which = current_key(endpoint, old_pem, new_pem, timeout)
        if which == "old":
            # the request may still be on its way: the next run settles it (and deletes
            # the new key then, if the CA still has the old one)
            raise AcmeError(
                f"{exc}; the CA still has the old key, which stays; the new key is kept "
                f"({keystore.staged_account_key(directory, email)}) until the next run "
                f"confirms the change did not arrive late") from exc
        if which is None:
            raise AcmeError(
                f"{exc}; the CA could not say which key it now has: both are kept "
                f"({keystore.staged_account_key(directory, email)}); the next apply or "
                f"`certplan account rollover` asks again") from exc
        log(f"CA {endpoint.name}: the answer to the key change was lost ({exc}); the CA "
            f"finds the account by the new key, which is kept")
    crashpoint("after-rollover")
    keystore.commit_staged_account_key(directory, email)
    return new_pem
