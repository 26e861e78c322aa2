"""exec provider: runs a real script with present|cleanup FQDN VALUE."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from certplan.model.errors import ProviderError
from certplan.providers import PROVIDERS
from certplan.providers.base import Provider

SCRIPT = """\
import os, sys
action, fqdn, value = sys.argv[1:]
log = os.environ["HOOK_LOG"]
if value == "fail":
    print("zone is locked for", fqdn)
    sys.exit(3)
if value == "hang":
    import time
    print("working...", flush=True)
    time.sleep(30)
with open(log, "a") as out:
    out.write(f"{action} {fqdn} {value}\\n")
"""


@pytest.fixture()
def hook(tmp_path: Path) -> tuple[Provider, Path]:
    script = tmp_path / "hook.py"
    script.write_text(SCRIPT)
    log = tmp_path / "calls.log"
    provider = PROVIDERS.get("exec")("mine", {
        "command": [sys.executable, str(script)], "timeout": 1,
        "env": {"HOOK_LOG": str(log)}})
    return provider, log


def test_present_and_cleanup_are_passed_lego_style(hook: tuple[Provider, Path]) -> None:
    provider, log = hook
    provider.add_txt("_acme-challenge.example.org", "abc")
    provider.delete_txt("_acme-challenge.example.org.", "abc")
    assert log.read_text().splitlines() == ["present _acme-challenge.example.org. abc",
                                            "cleanup _acme-challenge.example.org. abc"]


def test_failure_quotes_exit_code_and_output(hook: tuple[Provider, Path]) -> None:
    provider, _ = hook
    with pytest.raises(ProviderError) as info:
        provider.add_txt("_acme-challenge.example.org", "fail")
    message = str(info.value)
    assert message.startswith("mine (exec): present _acme-challenge.example.org: ")
    assert "exited with code 3" in message
    assert "zone is locked for _acme-challenge.example.org." in message


def test_timeout_and_missing_program(hook: tuple[Provider, Path]) -> None:
    provider, _ = hook
    with pytest.raises(ProviderError, match=r"did not finish within 1s; output:\nworking"):
        provider.add_txt("_acme-challenge.example.org", "hang")
    missing = PROVIDERS.get("exec")("mine", {"command": "/nonexistent/hook --flag"})
    assert missing.config.command == ["/nonexistent/hook", "--flag"]  # type: ignore[attr-defined]
    with pytest.raises(ProviderError, match="program not found: /nonexistent/hook"):
        missing.add_txt("_acme-challenge.example.org", "x")
