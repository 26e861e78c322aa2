"""The self-check deadlines in certplan.toml: defaults, bounds, and that they reach the
validators; the self-check loop itself on an injected clock."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from certplan.model.challenge import Challenge
from certplan.model.config import Config
from certplan.model.errors import ChallengeError
from certplan.model.spec import ChallengeRule
from certplan.validators import StandaloneValidator, WebrootValidator, build_validator
from certplan.validators.http01 import NameNotFound, self_check


def test_defaults_are_30_seconds() -> None:
    config = Config()
    assert (config.http01.self_check_timeout, config.dns.propagation_timeout) == (30, 30)


@pytest.mark.parametrize("value", [0, -1, 3601, "soon"])
def test_bounds(value: object) -> None:
    with pytest.raises(ValidationError, match="self_check_timeout"):
        Config.model_validate({"http01": {"self_check_timeout": value}})


def test_the_setting_reaches_both_http01_validators() -> None:
    web = build_validator(ChallengeRule(type="http-01", webroot="/srv/www"),
                          self_check_timeout=2.5)
    alone = build_validator(ChallengeRule(type="http-01", standalone=True),
                            self_check_timeout=4)
    assert isinstance(web, WebrootValidator) and web.self_check_timeout == 2.5
    assert isinstance(alone, StandaloneValidator) and alone.self_check_timeout == 4


CH = Challenge(identifier="www.example.com", wildcard=False, type="http-01", token="tok",
               key_authorization="tok.thumb")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_retries_until_the_deadline_then_says_what_it_saw() -> None:
    clock = Clock()

    def refused(name: str, timeout: float) -> list[str]:
        raise OSError("cannot connect to 192.0.2.1 port 80: Connection refused")

    with pytest.raises(ChallengeError) as info:
        self_check([CH], 30.0, port=80, resolve=refused, where=lambda ch: "token file /x",
                   clock=clock, sleep=clock.sleep)
    assert clock.now == pytest.approx(30.0) and max(clock.sleeps) <= 1.0
    assert str(info.value.failures["www.example.com"]) == (
        "self-check fetched http://www.example.com/.well-known/acme-challenge/tok: cannot "
        "connect to 192.0.2.1 port 80: Connection refused (expected the content of token "
        "file /x; gave up after 30.0s)")


def test_a_name_that_does_not_exist_is_not_retried() -> None:
    clock = Clock()

    def missing(name: str, timeout: float) -> list[str]:
        raise NameNotFound(f"cannot resolve {name} (system resolver): Name or service not "
                           f"known")

    with pytest.raises(ChallengeError, match="Name or service not known"):
        self_check([CH], 30.0, port=80, resolve=missing, where=lambda ch: "token file /x",
                   clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []
