"""Whether a recorded open order may still be the one to finish, from state and spec alone.

The same rule serves the planner (so that `plan` says what `apply` will do) and the
issuer (which then asks the keystore for the order's key and the CA for the order).
Pure: the CSR recorded with the order says which names and which key it is for.
"""

from __future__ import annotations

from collections.abc import Collection

from certplan.core.policy import moment
from certplan.model.crypto import csr_key_type, csr_names
from certplan.model.errors import CertplanError
from certplan.model.project import ResolvedSpec
from certplan.model.records import PendingOrder


def open_order_mismatch(pending: PendingOrder, spec: ResolvedSpec,
                        directories: Collection[str]) -> str | None:
    """Why the open order is not the one to finish (it is then dropped and a new
    order made), or None when it still matches the desired names, key type, profile
    and CA directory. `directories`: the CA directories the order may come from."""
    if pending.csr_pem is None:
        return "it was recorded without its CSR (certplan 0.1)"
    try:
        csr = pending.csr_pem.encode("ascii")
        names, key_type = csr_names(csr), csr_key_type(csr)
    except (CertplanError, UnicodeError):
        return "its recorded CSR is not readable"
    if pending.directory not in directories:
        return f"it was made at {pending.directory}, which the spec no longer names"
    if set(names) != set(spec.domains):
        return f"it is for {', '.join(names)}, not {', '.join(spec.domains)}"
    if key_type != spec.key:
        return f"it is for an {key_type} key, the spec now asks for {spec.key}"
    if (pending.profile or None) != (spec.profile or None):
        return (f"it was made with profile {pending.profile or '(CA default)'}, the spec "
                f"now asks for {spec.profile or '(CA default)'}")
    return None


def open_order_reason(pending: PendingOrder, spec: ResolvedSpec,
                      directories: Collection[str]) -> str:
    """The plan's words for a change that an open order is recorded for."""
    when = moment(pending.created_at)
    why = open_order_mismatch(pending, spec, directories)
    if why is not None:
        return f"the open order from {when} no longer matches ({why}); apply orders anew"
    return f"an open order from {when} is recorded; apply resumes it if the CA still has it"
