"""Registers the "dns-01" validator: a rule's provider, the [dns] settings, its alias."""

from __future__ import annotations

from certplan.errors import CertplanError
from certplan.spec import ChallengeRule
from certplan.validators import VALIDATORS, ValidatorContext
from certplan.validators.base import Validator


def _dns01(rule: ChallengeRule, ctx: ValidatorContext) -> Validator:
    from certplan.dns01.validator import Dns01Validator

    providers = ctx.extra.get("providers", {})
    if rule.provider not in providers:
        raise CertplanError(f"dns-01: provider {rule.provider!r} is not declared")
    return Dns01Validator(providers[rule.provider], ctx.extra["dns"], alias=rule.alias)


if "dns-01" not in VALIDATORS:
    VALIDATORS.register("dns-01", _dns01)
