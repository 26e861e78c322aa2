"""The dns-01 Validator: present every TXT record, wait for all, clean up exactly.

One Dns01Validator serves the challenges of one provider (and optional
alias) in an order. present() works out each record's effective name (CNAMEs
followed, or the alias) and adds every value; check() waits until all values
are on every authoritative nameserver; cleanup() deletes exactly the values
present() added, attempting each and reporting the failures together.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from certplan.model.challenge import Challenge
from certplan.model.dns import DnsSettings
from certplan.model.errors import ChallengeError, PropagationError, ProviderError
from certplan.validators.dns01 import names, propagation

if TYPE_CHECKING:
    import dns.resolver



class TxtProvider(Protocol):
    """What dns-01 needs of a DNS provider (`certplan.providers` implements it): add and
    delete one TXT value at a final record name; errors are ProviderErrors."""

    @property
    def label(self) -> str: ...

    @property
    def propagation_timeout(self) -> float | None:
        """This provider's own propagation timeout, or None for the [dns] default."""

    @property
    def propagation_interval(self) -> float | None:
        """This provider's own polling interval, or None for the [dns] default."""

    def add_txt(self, fqdn: str, value: str) -> None: ...

    def delete_txt(self, fqdn: str, value: str) -> None: ...


class Dns01Validator:
    challenge_type = "dns-01"

    def __init__(self, provider: TxtProvider, settings: DnsSettings, alias: str | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.provider = provider
        self.settings = settings
        self.alias = alias
        self.clock = clock
        self.sleep = sleep
        self._resolver_cache: dns.resolver.Resolver | None = None
        self._added: dict[Challenge, tuple[str, str]] = {}

    @property
    def _resolver(self) -> dns.resolver.Resolver:
        # made on first use: an explicit alias never needs one for present()
        if self._resolver_cache is None:
            self._resolver_cache = names.make_resolver(self.settings)
        return self._resolver_cache

    @property
    def timeout(self) -> float:
        override = self.provider.propagation_timeout
        return override if override is not None else self.settings.propagation_timeout

    @property
    def interval(self) -> float:
        override = self.provider.propagation_interval
        return override if override is not None else self.settings.propagation_interval

    def record_for(self, challenge: Challenge) -> str:
        """The name the TXT value for this challenge is written at."""
        return names.effective_name(challenge.identifier, self.alias, self._resolver)

    def present(self, challenges: list[Challenge]) -> None:
        """Add every value; a wildcard and its apex add two values at one name."""
        targets = {c: (self.record_for(c), c.dns_value) for c in challenges}
        for challenge, (name, value) in targets.items():
            if challenge in self._added:
                continue
            self.provider.add_txt(name, value)
            self._added[challenge] = (name, value)

    def records(self, challenges: list[Challenge]) -> dict[str, set[str]]:
        """Effective name -> values, for the presented challenges among `challenges`."""
        wanted: dict[str, set[str]] = {}
        for challenge in challenges:
            if challenge in self._added:
                name, value = self._added[challenge]
                wanted.setdefault(name, set()).add(value)
        return wanted

    def check(self, challenges: list[Challenge], deadline: float) -> None:
        """Wait for every record on every authoritative nameserver, all in one loop."""
        missing = {c.domain: "TXT record was never presented"
                   for c in challenges if c not in self._added}
        if missing:
            raise ChallengeError(missing)
        deadline = min(deadline, self.clock() + self.timeout)
        try:
            propagation.wait_for_txt(self.records(challenges), self._resolver,
                                     self.settings.authoritative_port, deadline,
                                     self.interval, self.clock, self.sleep)
        except propagation.PropagationTimeout as exc:
            raise ChallengeError(self._failures(challenges, exc.pending)) from exc
        except PropagationError as exc:
            raise ChallengeError({c.domain: str(exc) for c in challenges}) from exc

    def _failures(self, challenges: list[Challenge],
                  pending: dict[str, list[str]]) -> dict[str, str]:
        failures: dict[str, str] = {}
        for challenge in challenges:
            name, _ = self._added[challenge]
            if name in pending:
                failures[challenge.domain] = (f"TXT {name} not on every authoritative "
                                              "nameserver: " + "; ".join(pending[name]))
        return failures

    def cleanup(self, challenges: list[Challenge]) -> None:
        """Delete exactly what present() added; try all, then report every failure."""
        errors: list[str] = []
        for challenge in challenges:
            added = self._added.get(challenge)
            if added is None:
                continue
            name, value = added
            try:
                self.provider.delete_txt(name, value)
            except ProviderError as exc:
                errors.append(f"{name}: {str(exc).removeprefix(exc.provider + ': ')}")
                continue
            except Exception as exc:  # keep going: every other record must still go
                errors.append(f"{name}: {exc.__class__.__name__}: {exc}")
                continue
            del self._added[challenge]
        if errors:
            raise ProviderError(self.provider.label, "cleanup failed: " + "; ".join(errors))
