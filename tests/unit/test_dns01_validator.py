"""Dns01Validator bookkeeping with a real program as provider (exec); no DNS needed
because an explicit alias fixes the record name."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from certplan.model.challenge import Challenge
from certplan.model.dns import DnsSettings
from certplan.model.errors import ChallengeError, ProviderError
from certplan.providers import PROVIDERS
from certplan.validators.dns01.validator import Dns01Validator

SCRIPT = """\
import os, sys
action, fqdn, value = sys.argv[1:]
if action == "cleanup" and value in os.environ.get("FAIL_CLEANUP", "").split(","):
    print("cannot delete", value)
    sys.exit(1)
with open(os.environ["HOOK_LOG"], "a") as out:
    out.write(f"{action} {fqdn} {value}\\n")
"""


def challenge(domain: str, token: str) -> Challenge:
    return Challenge(identifier=domain.removeprefix("*."), wildcard=domain.startswith("*."),
                     type="dns-01", token=token, key_authorization=token + ".thumb")


@pytest.fixture()
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Dns01Validator, Path]:
    (tmp_path / "hook.py").write_text(SCRIPT)
    log = tmp_path / "log"
    monkeypatch.setenv("HOOK_LOG", str(log))
    provider = PROVIDERS.get("exec")("hook", {
        "command": [sys.executable, str(tmp_path / "hook.py")],
        "propagation_timeout": 7, "propagation_interval": 0.5})
    validator = Dns01Validator(provider, DnsSettings(), alias="validation.example.net")
    return validator, log


def test_present_adds_every_value_once_and_cleanup_removes_exactly_those(
        setup: tuple[Dns01Validator, Path]) -> None:
    validator, log = setup
    apex, wild = challenge("example.org", "t1"), challenge("*.example.org", "t2")
    validator.present([apex, wild])
    validator.present([apex, wild])     # a second call adds nothing twice
    name = "_acme-challenge.validation.example.net."
    assert log.read_text().splitlines() == [f"present {name} {apex.dns_value}",
                                            f"present {name} {wild.dns_value}"]
    assert validator.records([apex, wild]) == {name.rstrip("."): {apex.dns_value,
                                                                  wild.dns_value}}
    validator.cleanup([apex, wild, challenge("other.org", "never")])
    validator.cleanup([apex, wild])     # already cleaned: nothing more
    assert log.read_text().splitlines()[2:] == [f"cleanup {name} {apex.dns_value}",
                                                f"cleanup {name} {wild.dns_value}"]


def test_cleanup_tries_everything_and_reports_failures_together(
        setup: tuple[Dns01Validator, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    validator, log = setup
    first, second = challenge("a.example.org", "ta"), challenge("b.example.org", "tb")
    validator.present([first, second])
    monkeypatch.setenv("FAIL_CLEANUP", first.dns_value)
    with pytest.raises(ProviderError) as info:
        validator.cleanup([first, second])
    assert str(info.value).startswith("hook (exec): cleanup failed: ")
    assert f"cannot delete {first.dns_value}" in str(info.value)
    assert log.read_text().splitlines()[-1].endswith(second.dns_value)  # still attempted
    monkeypatch.setenv("FAIL_CLEANUP", "")
    validator.cleanup([first, second])  # the failed one is retried later
    assert log.read_text().splitlines()[-1].endswith(first.dns_value)


def test_check_refuses_unpresented_and_uses_provider_overrides(
        setup: tuple[Dns01Validator, Path]) -> None:
    validator, _ = setup
    with pytest.raises(ChallengeError, match="never presented"):
        validator.check([challenge("c.example.org", "tc")], time.monotonic() + 1)
    assert (validator.timeout, validator.interval) == (7, 0.5)
    assert validator.challenge_type == "dns-01"
