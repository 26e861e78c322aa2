"""Prove control of every name of an order: present all, check all, answer, wait, clean up.

The spec's challenge rules decide the validator of each name; names that share a
rule share one validator, so a wildcard and its apex are presented together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from certplan.model.errors import CertplanError, ChallengeError
from certplan.model.spec import CertSpec, ChallengeRule
from certplan.validators import build_validator
from certplan.validators.base import Validator

if TYPE_CHECKING:
    from certplan.ca import AcmeClient, Order, PendingChallenge


def _rule_key(rule: ChallengeRule) -> str:
    return rule.model_dump_json()


def solve(client: AcmeClient, order: Order, spec: CertSpec, deadline: float,
          validator_args: dict[str, Any], log: Any) -> None:
    """Make every authorization of `order` valid, or raise ChallengeError per name."""
    def type_for(identifier: str, wildcard: bool) -> str:
        return spec.challenge.rule_for(("*." if wildcard else "") + identifier).type

    pending = client.pending_challenges(order, type_for)
    if not pending:
        log(f"{spec.name}: every authorization is already valid")
        return
    groups: dict[str, tuple[Validator, list[PendingChallenge]]] = {}
    for item in pending:
        rule = spec.challenge.rule_for(item.challenge.domain)
        key = _rule_key(rule)
        if key not in groups:
            groups[key] = (build_validator(rule, **validator_args), [])
        groups[key][1].append(item)
    presented: list[tuple[Validator, list[PendingChallenge]]] = []
    try:
        for validator, items in groups.values():
            presented.append((validator, items))
            log(f"{spec.name}: presenting {_which(items)}")
            validator.present([i.challenge for i in items])
        for validator, items in groups.values():
            log(f"{spec.name}: self-checking {_which(items)}")
            validator.check([i.challenge for i in items], deadline)
        log(f"{spec.name}: {len(pending)} challenge(s) in place, telling the CA")
        client.answer(pending)
        log(f"{spec.name}: waiting for the CA to validate {_names(pending)}")
        client.wait_authorizations(order, deadline)
        log(f"{spec.name}: the CA validated every name")
    finally:
        if presented:
            log(f"{spec.name}: removing the challenge responses")
        errors = _cleanup(presented)
        if errors:
            log(f"{spec.name}: cleanup problems: {'; '.join(errors)}")


def _names(items: list[PendingChallenge]) -> str:
    return ", ".join(i.challenge.domain for i in items)


def _which(items: list[PendingChallenge]) -> str:
    """"http-01 for a.example, b.example": what one validator handles."""
    return f"{items[0].challenge.type} for {_names(items)}"


def _cleanup(presented: list[tuple[Validator, list[PendingChallenge]]]) -> list[str]:
    errors = []
    for validator, items in presented:
        try:
            validator.cleanup([i.challenge for i in items])
        except (CertplanError, OSError) as exc:
            errors.append(str(exc))
    return errors


__all__ = ["ChallengeError", "solve"]
