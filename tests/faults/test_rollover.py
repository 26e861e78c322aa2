"""Account key rollover cut short, against real Pebble: a SIGKILL right after the CA
changed the key, and a proxy that lets the change through but loses the answer (or
never delivers it, or goes down). The key the CA now requires is never deleted; the
next run finds out which key is current and goes on with the same account."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from certplan.load import load_project
from certplan.model.errors import CertplanError
from certplan.ops.accounts import rollover_account
from tests.faults.acme_proxy import AcmeProxy, acme_proxy
from tests.faults.killed_apply import run_killed_at
from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import EMAIL, make_project, standalone_spec
from tests.servers.pebble import PebbleServer, pebble
from tests.servers.project_config import pebble_config

__all__ = ["acme_proxy", "pebble"]

pytestmark = pytest.mark.integration


def key_files(project: CertplanProject) -> tuple[Path, Path]:
    (key,) = (project.root / ".certplan" / "accounts").glob("*.key.pem")
    return key, key.with_name(key.name + ".next")


def issued(project: CertplanProject) -> str:
    standalone_spec(project, "acct", ["acct.example.test"])
    res = project.apply("--replace", "acct") if (project.root / "state" / "acct.json").exists() \
        else project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    return str(project.state("acct")["account_url"])


def test_killed_right_after_the_key_change_keeps_the_new_key(
        tmp_path: Path, pebble: PebbleServer) -> None:
    project = make_project(tmp_path / "ops", pebble)
    account = issued(project)
    key, staged = key_files(project)
    old = key.read_bytes()

    run_killed_at(project, "after-rollover", "account", "rollover", "pebble")
    new = staged.read_bytes()  # the CA has this one now; the keystore still names the old
    assert key.read_bytes() == old and new != old
    assert stat.S_IMODE(os.stat(staged).st_mode) == 0o600

    res = project.apply("--replace", "acct")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "an earlier key rollover had taken effect" in res.stderr
    assert project.state("acct")["account_url"] == account  # not a second account
    assert key.read_bytes() == new and not staged.exists()


def proxied_project(tmp_path: Path, pebble: PebbleServer, proxy: AcmeProxy,
                    monkeypatch: pytest.MonkeyPatch) -> CertplanProject:
    project = make_project(tmp_path / "ops", pebble)
    (project.root / "certplan.toml").write_text(pebble_config(
        proxy.directory_url, pebble.ca_bundle, pebble.http_port, email=EMAIL,
        resolvers=[f"127.0.0.1:{pebble.dns_port}"]))
    monkeypatch.chdir(project.root)
    return project


def test_a_lost_answer_to_an_applied_key_change_keeps_the_new_key(
        tmp_path: Path, pebble: PebbleServer, acme_proxy: AcmeProxy,
        monkeypatch: pytest.MonkeyPatch) -> None:
    project = proxied_project(tmp_path, pebble, acme_proxy, monkeypatch)
    account = issued(project)
    key, staged = key_files(project)
    old = key.read_bytes()
    acme_proxy.mode, acme_proxy.delay = "slow", 4.5

    said: list[str] = []
    rollover_account(load_project(Path(".")), "pebble", timeout=3.0, log=said.append)
    assert acme_proxy.key_changes == 1
    (line,) = said  # the transport's words for the timeout are ca/network.py's
    assert line.startswith("CA pebble: the answer to the key change was lost (")
    assert line.endswith("); the CA finds the account by the new key, which is kept")
    assert key.read_bytes() != old and not staged.exists()
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    acme_proxy.mode = "pass"
    assert issued(project) == account  # the same account, signed with the new key


def test_a_key_change_that_never_arrived_keeps_the_old_key(
        tmp_path: Path, pebble: PebbleServer, acme_proxy: AcmeProxy,
        monkeypatch: pytest.MonkeyPatch) -> None:
    project = proxied_project(tmp_path, pebble, acme_proxy, monkeypatch)
    account = issued(project)
    key, staged = key_files(project)
    old = key.read_bytes()
    acme_proxy.mode, acme_proxy.delay = "lost", 4.5

    with pytest.raises(CertplanError, match="the CA still has the old key, which stays; "
                                            "the new key is kept"):
        rollover_account(load_project(Path(".")), "pebble", timeout=3.0)
    assert acme_proxy.key_changes == 0
    assert key.read_bytes() == old and staged.exists()  # it might still arrive
    acme_proxy.mode = "pass"
    res = project.apply("--replace", "acct")  # the next run asks again and settles it
    assert res.returncode == 0, res.stdout + res.stderr
    assert "an earlier key rollover had not taken effect" in res.stderr
    assert project.state("acct")["account_url"] == account
    assert key.read_bytes() == old and not staged.exists()


def test_a_ca_that_cannot_say_keeps_both_keys_until_it_can(
        tmp_path: Path, pebble: PebbleServer, acme_proxy: AcmeProxy,
        monkeypatch: pytest.MonkeyPatch) -> None:
    project = proxied_project(tmp_path, pebble, acme_proxy, monkeypatch)
    account = issued(project)
    key, staged = key_files(project)
    old = key.read_bytes()
    acme_proxy.mode, acme_proxy.delay = "down", 4.5

    with pytest.raises(CertplanError, match="both are kept"):
        rollover_account(load_project(Path(".")), "pebble", timeout=3.0)
    assert acme_proxy.key_changes == 1  # Pebble has the new key
    assert key.read_bytes() == old and staged.exists()
    new = staged.read_bytes()

    # still down: apply signs with neither key, and creates no second account
    down = project.apply("--replace", "acct")
    assert down.returncode == 1
    assert "could not say which key it now has" in down.stdout + down.stderr
    assert key.read_bytes() == old and staged.read_bytes() == new

    acme_proxy._down, acme_proxy.mode = False, "pass"
    assert issued(project) == account
    assert key.read_bytes() == new and not staged.exists()
