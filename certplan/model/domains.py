"""Domain names in specs: IDNA to A-labels, lower case, wildcard rules."""

from __future__ import annotations

import re

from certplan.model.hostport import is_ip_address
from certplan.model.text import bad_character

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")  # whole label: fullmatch
# The common case, checked in one step: lower-case LDH labels, a top-level label that
# starts with a letter (so neither numeric nor an IP address). Anything else, and any
# xn-- label, takes the full path below.
_PLAIN = re.compile(r"(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                    r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalise_domain(name: str) -> str:
    """Return the A-label form of `name`, or raise ValueError saying what is wrong.

    Accepted: host names of two or more labels; "*" only as the whole leftmost label.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("empty domain name")
    if (bad := bad_character(name, formatting=False)) is not None:
        raise ValueError(f"{name!r}: {bad}")
    raw = name.strip().rstrip(".")
    if raw.isascii() and "xn--" not in (low := raw.lower()) and _PLAIN.fullmatch(low) \
            and len(low) - (2 if low.startswith("*.") else 0) <= 253:
        return low
    return _normalise_full(name)


def _normalise_full(name: str) -> str:
    """Every rule, one by one, with a message for each; same result as the fast path."""
    raw = name.strip().rstrip(".")
    if raw != name.strip().rstrip(".") or " " in raw:
        raise ValueError(f"{name!r}: spaces are not allowed")
    wildcard = raw.startswith("*.")
    rest = raw[2:] if wildcard else raw
    if "*" in rest:
        raise ValueError(f"{name!r}: a wildcard is allowed only as the whole leftmost label")
    if is_ip_address(rest):
        raise ValueError(f"{name!r}: IP addresses are not supported, use a DNS name")
    labels = rest.split(".")
    if len(labels) < 2:
        raise ValueError(f"{name!r}: needs at least two labels (e.g. example.com)")
    ascii_labels = [_to_alabel(label, name) for label in labels]
    for label in ascii_labels:
        if not _LABEL.fullmatch(label):
            raise ValueError(f"{name!r}: invalid label {label!r}")
    result = ".".join(ascii_labels)
    if len(result) > 253:
        raise ValueError(f"{name!r}: longer than 253 characters")
    if ascii_labels[-1].isdigit():
        raise ValueError(f"{name!r}: the top-level label cannot be numeric")
    return ("*." if wildcard else "") + result


def _to_alabel(label: str, name: str) -> str:
    if not label:
        raise ValueError(f"{name!r}: empty label")
    import idna  # comes with requests; IDNA 2008 with UTS 46 mapping (cached after once)

    if label.isascii():
        label = label.lower()
        if label.startswith("xn--"):  # an A-label must decode to a valid U-label
            try:
                idna.decode(label)
            except idna.IDNAError as exc:
                raise ValueError(f"{name!r}: {label!r} is not a valid A-label ({exc})") from None
        return label

    try:
        return idna.encode(label, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"{name!r}: not a valid internationalised name ({exc})") from None


def base_name(domain: str) -> str:
    """The name without a leading wildcard label."""
    return domain[2:] if domain.startswith("*.") else domain
