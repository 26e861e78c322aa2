"""Validators: prove control of names to the CA.

VALIDATORS maps a validator name to a factory `(rule, context) -> Validator`:
"webroot" and "standalone" (http-01) and "dns-01" are registered here, and
`build_validator` finds one by name. `validator_name(rule)` says which name a challenge rule needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from certplan.model.challenge import Challenge
from certplan.model.errors import CertplanError
from certplan.model.registry import Registry
from certplan.model.spec import ChallengeRule
from certplan.validators.base import Validator
from certplan.validators.http01 import StandaloneValidator, WebrootValidator


@dataclass(frozen=True)
class ValidatorContext:
    """Settings from certplan.toml that validators need besides their rule."""

    http01_port: int = 80                      # [http01] port: where self-checks connect
    resolvers: tuple[str, ...] = ()            # [dns] resolvers, "HOST:PORT"
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. providers, for dns-01


ValidatorFactory = Callable[[ChallengeRule, ValidatorContext], Validator]
VALIDATORS: Registry[ValidatorFactory] = Registry("validator")


def validator_name(rule: ChallengeRule) -> str:
    if rule.type == "http-01":
        return "standalone" if rule.standalone else "webroot"
    return rule.type


def build_validator(rule: ChallengeRule, *, http01_port: int = 80,
                    resolvers: list[str] | tuple[str, ...] = (), **extra: Any) -> Validator:
    """The validator for `rule`. Extra keyword arguments reach the factory as context.extra."""
    context = ValidatorContext(http01_port, tuple(resolvers), dict(extra))
    return VALIDATORS.get(validator_name(rule))(rule, context)


def _webroot(rule: ChallengeRule, ctx: ValidatorContext) -> Validator:
    assert rule.webroot is not None  # the spec model guarantees it for webroot rules
    return WebrootValidator(rule.webroot, self_check=rule.self_check, port=ctx.http01_port,
                            resolvers=list(ctx.resolvers))


def _standalone(rule: ChallengeRule, ctx: ValidatorContext) -> Validator:
    return StandaloneValidator(rule.listen_address, self_check=rule.self_check,
                               port=ctx.http01_port, resolvers=list(ctx.resolvers))


def _dns01(rule: ChallengeRule, ctx: ValidatorContext) -> Validator:
    """A rule's provider (built from certplan.toml), the [dns] settings, its alias."""
    from certplan.validators.dns01.validator import Dns01Validator

    providers = ctx.extra.get("providers", {})
    if rule.provider not in providers:
        raise CertplanError(f"dns-01: provider {rule.provider!r} is not declared")
    return Dns01Validator(providers[rule.provider], ctx.extra["dns"], alias=rule.alias)


VALIDATORS.register("webroot", _webroot)
VALIDATORS.register("standalone", _standalone)
VALIDATORS.register("dns-01", _dns01)

__all__ = ["VALIDATORS", "Challenge", "StandaloneValidator", "Validator", "ValidatorContext",
           "ValidatorFactory", "WebrootValidator", "build_validator", "validator_name"]
