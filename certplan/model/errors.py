"""Error types, and problems located in input files. A leaf module: imports nothing of
certplan's own (pydantic only for a type annotation).

Every error a user can cause derives from CertplanError; the CLI turns those
into one clear message and exit code 1. Anything else is a bug and may show
a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

UNKNOWN_KEY = "unknown key (check the spelling)"


class CertplanError(Exception):
    """An expected failure with a message fit for the operator."""


@dataclass(frozen=True)
class Problem:
    """One problem in one input file: FILE: field.path: message."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}: " if self.path else f"{self.file}: "
        return where + self.message


def field_path(loc: tuple[Any, ...], prefix: str = "") -> str:
    """pydantic's error location as a path: certificate[0].install[1].key_file."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def problems_from(file: str, exc: ValidationError, prefix: str = "", *,
                  unknown_key: str | None = UNKNOWN_KEY) -> list[Problem]:
    """One Problem per pydantic error, located at `prefix` + the field path.

    Messages lose pydantic's "Value error, " and start lower case; a missing
    field reads "field required"; an unknown key reads `unknown_key` (None keeps
    pydantic's own "extra inputs are not permitted")."""
    out = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "field required"
        elif err["type"] == "extra_forbidden" and unknown_key is not None:
            msg = unknown_key
        out.append(Problem(file, field_path(err["loc"], prefix), msg[:1].lower() + msg[1:]))
    return out


class InputError(CertplanError):
    """One or more problems in specs, config or state, reported together."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class StateError(CertplanError):
    """The recorded state cannot be read or written."""


class StateConflict(StateError):
    """A compare-and-swap failed: another writer changed the state since it was read.

    Nothing was written. `expected` is the serial the writer had read, `found` the
    serial the state holds now.
    """

    def __init__(self, where: str, expected: int, found: int):
        self.expected = expected
        self.found = found
        super().__init__(f"{where}: another writer changed the state since it was read "
                         f"(expected serial {expected}, found serial {found}); nothing was "
                         f"written; run again to work from the current state")


class LockError(CertplanError):
    """Another certplan process holds the state lock."""


class StalePlanError(CertplanError):
    """A saved plan no longer matches the state or the specs."""


class SecretError(CertplanError):
    """A secret reference could not be resolved."""


class RegistryError(CertplanError):
    """Unknown or duplicate backend name."""


class AcmeError(CertplanError):
    """The CA refused or failed a request; carries the problem document text."""


class ChallengeError(CertplanError):
    """Proving control of one or more names failed; lists each failure."""

    def __init__(self, failures: dict[str, str]):
        self.failures = dict(failures)
        lines = [f"{name}: {why}" for name, why in sorted(self.failures.items())]
        super().__init__("challenge failed:\n  " + "\n  ".join(lines))


class ProviderError(CertplanError):
    """A DNS provider failed. The message starts with the provider name."""

    def __init__(self, provider: str, message: str):
        self.provider = provider
        super().__init__(f"{provider}: {message}")


class PropagationError(CertplanError):
    """A TXT record did not appear on every authoritative nameserver in time."""


class InstallError(CertplanError):
    """Writing files, the check or the reload command failed."""
