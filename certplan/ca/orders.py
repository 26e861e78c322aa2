"""Local handles for ACME orders and challenges, apart from the wire objects."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from acme import messages
from josepy import json_util

from certplan.ca.network import problem_text
from certplan.model.challenge import Challenge
from certplan.model.errors import AcmeError


class NewOrderWithReplaces(messages.NewOrder):
    """newOrder payload with RFC 9773 `replaces` (the library has no such field)."""

    replaces: str | None = json_util.field("replaces", omitempty=True)


class ReplacesRejected(AcmeError):
    """The CA refused the order's `replaces` (RFC 9773); retry without it."""


@dataclass(frozen=True)
class DirectoryMeta:
    """What the directory says about the CA."""

    terms_of_service: str | None
    external_account_required: bool
    profiles: dict[str, str] = field(default_factory=dict)
    website: str | None = None
    renewal_info: bool = False  # the CA serves RFC 9773 renewal information


@dataclass
class Order:
    """An open order: its URL, the CSR it will be finalized with, what the CA said."""

    url: str
    csr_pem: bytes
    body: messages.Order
    authorizations: list[messages.AuthorizationResource] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.body.status.name)

    @property
    def identifiers(self) -> list[str]:
        return [ident.value for ident in self.body.identifiers or ()]

    @property
    def expires(self) -> datetime.datetime | None:
        return self.body.expires


@dataclass(frozen=True)
class PendingChallenge:
    """A challenge to solve (for validators) plus what answering it needs."""

    challenge: Challenge
    url: str              # the challenge URL to POST {} to
    authz_url: str
    status: str           # the challenge's status when fetched: pending | processing
    body: messages.ChallengeBody


def domain_of(authz: messages.Authorization) -> str:
    name = str(authz.identifier.value)
    return f"*.{name}" if authz.wildcard else name


def authz_problem(authz: messages.Authorization) -> str:
    for challb in authz.challenges:
        if challb.error is not None:
            return f"{challb.typ}: {problem_text(challb.error)}"
    return f"authorization is {authz.status.name}"


def is_replaces_problem(cause: BaseException | None) -> bool:
    if not isinstance(cause, messages.Error):
        return False
    kind = str(cause.typ).rsplit(":", 1)[-1]
    return kind in ("alreadyReplaced", "conflict") or "replace" in (cause.detail or "").lower()
