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
from certplan.validators.http01 import SELF_CHECK_TIMEOUT, WebrootValidator
from certplan.validators.standalone import StandalonePool, StandaloneValidator


@dataclass(frozen=True)
class ValidatorContext:
    """Settings from certplan.toml that validators need besides their rule."""

    http01_port: int = 80                      # [http01] port: where self-checks connect
    self_check_timeout: float = SELF_CHECK_TIMEOUT  # [http01] self_check_timeout
    resolvers: tuple[str, ...] = ()            # [dns] resolvers, "HOST:PORT"
    # e.g. providers and dns settings for dns-01, the run's StandalonePool ("standalone")
    extra: Mapping[str, Any] = field(default_factory=dict)


ValidatorFactory = Callable[[ChallengeRule, ValidatorContext], Validator]
VALIDATORS: Registry[ValidatorFactory] = Registry("validator")


def validator_name(rule: ChallengeRule) -> str:
    if rule.type == "http-01":
        return "standalone" if rule.standalone else "webroot"
    return rule.type


def build_validator(rule: ChallengeRule, *, http01_port: int = 80,
                    resolvers: list[str] | tuple[str, ...] = (),
                    self_check_timeout: float = SELF_CHECK_TIMEOUT, **extra: Any) -> Validator:
    """The validator for `rule`. Extra keyword arguments reach the factory as context.extra."""
    context = ValidatorContext(http01_port, self_check_timeout, tuple(resolvers), dict(extra))
    return VALIDATORS.get(validator_name(rule))(rule, context)


def _webroot(rule: ChallengeRule, ctx: ValidatorContext) -> Validator:
    assert rule.webroot is not None  # the spec model guarantees it for webroot rules
    return WebrootValidator(rule.webroot, self_check=rule.self_check, port=ctx.http01_port,
                            resolvers=list(ctx.resolvers),
                            self_check_timeout=ctx.self_check_timeout)


def _standalone(rule: ChallengeRule, ctx: ValidatorContext) -> Validator:
    """Shares the run's server on the rule's listen address when apply passes a pool."""
    pool = ctx.extra.get("standalone")
    return StandaloneValidator(rule.listen_address, self_check=rule.self_check,
                               port=ctx.http01_port, resolvers=list(ctx.resolvers),
                               self_check_timeout=ctx.self_check_timeout,
                               pool=pool if isinstance(pool, StandalonePool) else None)


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

__all__ = ["VALIDATORS", "Challenge", "StandalonePool", "StandaloneValidator", "Validator",
           "ValidatorContext", "ValidatorFactory", "WebrootValidator", "build_validator",
           "validator_name"]
