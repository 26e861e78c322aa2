"""Recorded state, as models: what certplan last did for each certificate.

Public facts only (never a private key). A state backend (`certplan.store`)
reads and writes these; the planner compares them with the specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AliasChoices, Field, model_validator

from certplan.model.base import RecordModel
from certplan.model.errors import Problem
from certplan.model.installed import fingerprint_of
from certplan.model.spec import DEFAULT_INSTALLER, OnRemove

FORMAT_VERSION = 1


def _readable(version: int) -> int:
    """Refuse what a newer certplan wrote: its fields may mean what this one cannot know."""
    if version > FORMAT_VERSION:
        raise ValueError(f"written by a newer certplan (format {version}; this certplan reads "
                         f"format {FORMAT_VERSION} and older): upgrade certplan")
    return version


FormatVersion = Annotated[int, AfterValidator(_readable)]



class CertFacts(RecordModel):
    """The certificate currently issued for a spec (public)."""

    serial: str
    not_before: datetime
    not_after: datetime
    issuer: str
    fingerprint_sha256: str
    chain_pem: str
    ari_id: str | None = None
    issued_at: datetime


InstallStatus = Literal["installed", "failed"]
# what the previous format stored in its digest field for a failed install
_PREVIOUS_FAILED = "failed"


class InstallRecord(RecordModel):
    """One install target as last installed, in its installer's own terms.

    `digest` is the target's definition digest (InstallTarget.digest), `fingerprint`
    and `parts` what the installer reported (files: path -> SHA-256 of the bytes
    written), which is also all that `remove` gets once the spec is gone. A failed
    install has status "failed" and no parts (its installer put back what was there).

    The previous format (`target_digest`, `files`, "failed" as the digest) is read
    through the aliases and `_from_previous_format`, and written in this one.
    """

    installer: str = DEFAULT_INSTALLER
    digest: str = Field(validation_alias=AliasChoices("digest", "target_digest"))
    status: InstallStatus = "installed"
    fingerprint: str | None = None
    parts: dict[str, str] = Field(default_factory=dict,
                                  validation_alias=AliasChoices("parts", "files"))
    installed_at: datetime

    @model_validator(mode="after")
    def _from_previous_format(self) -> InstallRecord:
        if self.fingerprint is not None or self.status != "installed":
            return self  # the current format (an after-validator: no cost to speak of)
        if self.digest == _PREVIOUS_FAILED:
            return self.model_copy(update={"digest": "", "status": "failed"})
        return self.model_copy(update={"fingerprint": fingerprint_of(self.parts)})


class PendingOrder(RecordModel):
    """The one record of an open order: created at the CA, not yet recorded as a
    certificate. The next apply resumes it instead of ordering twice (also after a
    crash). Public facts only: the order's new private key waits in the keystore."""

    url: str
    ca: str
    directory: str
    created_at: datetime
    # The CSR the order is finalized with: it binds the order to its names and to the
    # key in the keystore. None in records written by certplan 0.1 (not resumed).
    csr_pem: str | None = None


class Revocation(RecordModel):
    revoked_at: datetime
    reason: str
    serial: str


class CertRecord(RecordModel):
    format_version: FormatVersion = FORMAT_VERSION
    name: str
    domains: list[str]
    key_type: str
    ca: str
    ca_directory: str
    account_url: str | None = None
    profile: str | None = None
    created_at: datetime
    certificate: CertFacts | None = None
    installs: list[InstallRecord] = Field(default_factory=list)
    pending_order: PendingOrder | None = None
    revoked: Revocation | None = None
    on_remove: OnRemove = Field(default_factory=OnRemove)
    renewals: int = 0
    # Written by certplan 0.1 and never read (the planner compares the fields
    # themselves): still accepted so that those state files load, no longer written.
    spec_digest: str | None = Field(default=None, exclude=True)


class StateMeta(RecordModel):
    format_version: FormatVersion = FORMAT_VERSION
    lineage: str
    serial: int


@dataclass
class State:
    """Every record that loads, and what did not.

    `problems` are state-wide (the folder, the meta file): nothing can be planned.
    `broken` maps a certificate name to the problems of its own record: only that
    certificate stops (named, never acted on); the others plan and apply."""

    meta: StateMeta | None
    records: dict[str, CertRecord] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    broken: dict[str, list[Problem]] = field(default_factory=dict)

    def all_problems(self) -> list[Problem]:
        return self.problems + [p for name in sorted(self.broken) for p in self.broken[name]]

    def broken_reasons(self) -> dict[str, str]:
        """Certificate name -> its record's problems as one line."""
        return {name: "; ".join(str(p) for p in problems)
                for name, problems in self.broken.items()}

    @property
    def lineage(self) -> str | None:
        return self.meta.lineage if self.meta else None

    @property
    def serial(self) -> int:
        return self.meta.serial if self.meta else 0
