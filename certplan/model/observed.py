"""What was observed before planning, handed to the pure planner.

Gathered by `certplan.observe` (installed targets, asked of their installers;
ARI windows; with a probe, what each verified endpoint serves); the planner only
reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from certplan.model.installed import Observed


@dataclass(frozen=True)
class AriWindow:
    """A renewal window suggested by the CA, as observed before planning."""

    start: datetime
    end: datetime
    explanation_url: str | None = None
    retry_after: int | None = None


@dataclass(frozen=True)
class Served:
    """What a TLS handshake to an install target's `verify` endpoint found: the serial
    of the leaf it presented, or why it did not answer (serial None)."""

    url: str  # "https://HOST:PORT", as the plan names it
    serial: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Observations:
    """What was looked at before planning."""

    # (certificate name, install index) -> what its installer sees there now
    installs: Mapping[tuple[str, int], Observed] = field(default_factory=dict)
    ari: Mapping[str, AriWindow] = field(default_factory=dict)  # certificate name -> window
    ari_notes: Mapping[str, str] = field(default_factory=dict)  # name -> why no window
    ari_refreshed: bool = False
    # (certificate name, install index) -> what its verify endpoint serves; only
    # with a probe (apply, `plan --probe`), never in a plain plan
    served: Mapping[tuple[str, int], Served] = field(default_factory=dict)
    probed: bool = False
