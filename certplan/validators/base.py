"""What a validator is handed, and what it must do.

apply groups the challenges of one order by the challenge spec that covers
each name, builds one validator per group, and then, for every group:
present() all, check() all, answers the CA, waits, and cleanup() in finally.
"""

from __future__ import annotations

from typing import Protocol

from certplan.model.challenge import Challenge


class Validator(Protocol):
    """Proves control of names. Every method takes all challenges of its group."""

    challenge_type: str  # the ACME challenge type it answers: "http-01" or "dns-01"

    def present(self, challenges: list[Challenge]) -> None:
        """Make every challenge answerable (write token files, add TXT records)."""

    def check(self, challenges: list[Challenge], deadline: float) -> None:
        """Verify, before the CA is told, that each challenge is visible.

        `deadline` is a time.monotonic() value. Raise ChallengeError naming each
        name that is not ready, and why."""

    def cleanup(self, challenges: list[Challenge]) -> None:
        """Undo present(): remove exactly what present() added. Must not raise
        for a challenge that was never presented."""
