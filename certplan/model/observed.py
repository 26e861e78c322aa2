"""What was observed before planning, handed to the pure planner.

Gathered by `certplan.observe` (installed targets, asked of their installers;
ARI windows); the planner only reads it.
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
class Observations:
    """What was looked at before planning."""

    # (certificate name, install index) -> what its installer sees there now
    installs: Mapping[tuple[str, int], Observed] = field(default_factory=dict)
    ari: Mapping[str, AriWindow] = field(default_factory=dict)  # certificate name -> window
    ari_notes: Mapping[str, str] = field(default_factory=dict)  # name -> why no window
    ari_refreshed: bool = False
