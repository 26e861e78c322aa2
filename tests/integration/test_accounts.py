"""`certplan account list|show|rollover|deactivate` against Pebble. The account key
is never printed; after a key rollover the same account issues with the new key;
after deactivation the CA refuses the old key and apply creates a new account."""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import (
    assert_clean_failure,
    make_project,
    standalone_spec,
)
from tests.servers.pebble import PebbleServer, pebble  # noqa: F401

pytestmark = pytest.mark.integration


def account_key_file(project: CertplanProject) -> Path:
    keys = list((project.root / ".certplan" / "accounts").glob("*.key.pem"))
    assert len(keys) == 1, keys
    return keys[0]


def secret_fragments(key_file: Path) -> list[str]:
    """Pieces of the private key that must never show: PEM body lines and the
    private scalar in base64url (as a JWK 'd' would carry it)."""
    pem = key_file.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    scalar = key.private_numbers().private_value  # type: ignore[union-attr]
    d = base64.urlsafe_b64encode(scalar.to_bytes(32, "big")).rstrip(b"=").decode()
    lines = [line for line in pem.decode().splitlines() if not line.startswith("-----")]
    return [*lines, d, "PRIVATE KEY"]


def test_list_show_rollover_issue_deactivate(tmp_path: Path,
                                             pebble: PebbleServer) -> None:  # noqa: F811
    project = make_project(tmp_path / "ops", pebble)
    none_yet = project.run("account", "list")
    assert none_yet.returncode == 0 and "No accounts yet" in none_yet.stdout
    standalone_spec(project, "acct", ["acct.example.test"])
    assert project.apply().returncode == 0
    account_url = project.state("acct")["account_url"]
    key_file = account_key_file(project)
    old_secrets = secret_fragments(key_file)

    listed = project.run("account", "list")
    assert listed.returncode == 0, listed.stderr
    assert "pebble" in listed.stdout and account_url in listed.stdout
    assert "test@example.test" in listed.stdout and "ec-256" in listed.stdout
    shown = project.run("account", "show")
    assert shown.returncode == 0, shown.stderr
    assert f"account URL:    {account_url}" in shown.stdout
    assert "status:         valid" in shown.stdout
    assert "contact:        mailto:test@example.test" in shown.stdout
    old_thumb = next(line.split()[-1] for line in shown.stdout.splitlines()
                     if line.startswith("key thumbprint:"))

    rolled = project.run("account", "rollover", "pebble")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert f"Rolled over the key of {account_url}: thumbprint {old_thumb} -> " in rolled.stdout
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert secret_fragments(key_file) != old_secrets
    assert not list(key_file.parent.glob("*.next"))
    new_thumb = rolled.stdout.strip().rstrip(".").split()[-1]
    assert new_thumb != old_thumb

    # a staged file that is no key: refused and kept (a rollover cut short is settled
    # by asking the CA with each key: tests/faults/test_rollover.py)
    staged = key_file.with_name(key_file.name + ".next")
    staged.write_bytes(b"the key the CA may have now")
    cut = assert_clean_failure(project.run("account", "rollover", "pebble"))
    assert f"accounts/{staged.name}: not a readable unencrypted PEM private key" in cut
    assert "a key rollover of CA pebble was cut short" in cut
    assert staged.read_bytes() == b"the key the CA may have now"
    staged.unlink()

    # the same account, now signed with the new key, issues again
    res = project.apply("--replace", "acct")
    assert res.returncode == 0, res.stdout + res.stderr
    assert project.state("acct")["account_url"] == account_url
    after = project.run("account", "show", "--local")
    assert f"key thumbprint: {new_thumb}" in after.stdout and "status:" not in after.stdout
    new_secrets = secret_fragments(key_file)

    refused = assert_clean_failure(project.run("account", "deactivate", "pebble"))
    assert "pass --yes" in refused
    deact = project.run("account", "deactivate", "pebble", "--yes")
    assert deact.returncode == 0, deact.stdout + deact.stderr
    assert f"Deactivated {account_url}" in deact.stdout
    assert not key_file.exists()  # set aside; the next apply makes a new account
    res = project.apply("--replace", "acct")
    assert res.returncode == 0, res.stdout + res.stderr
    assert project.state("acct")["account_url"] != account_url

    everything = "".join(r.stdout + r.stderr for r in (listed, shown, rolled, after, deact))
    for fragment in old_secrets + new_secrets:
        assert fragment not in everything


def test_unknown_ca_and_missing_account(tmp_path: Path,
                                        pebble: PebbleServer) -> None:  # noqa: F811
    project = make_project(tmp_path / "ops", pebble)
    out = assert_clean_failure(project.run("account", "show", "nosuch"))
    assert "unknown CA 'nosuch' (known: " in out and "letsencrypt" in out
    out = assert_clean_failure(project.run("account", "rollover"))
    assert "no account for CA pebble" in out and "`certplan apply` creates it" in out


def test_apply_needs_the_terms_agreed_to_create_an_account(
        tmp_path: Path, pebble: PebbleServer) -> None:  # noqa: F811
    """The check lives in one place (AcmeAccount.ensure_account); apply says it in the
    words of certplan.toml. Terms are agreed when an account is created: an account
    that exists is found by its key whatever agree_tos says now."""
    project = make_project(tmp_path / "ops", pebble)
    standalone_spec(project, "tos", ["tos.example.test"])
    config = project.root / "certplan.toml"
    agreed = config.read_text()
    assert "agree_tos = true" in agreed
    config.write_text(agreed.replace("agree_tos = true", "agree_tos = false"))
    out = assert_clean_failure(project.apply())
    assert re.search(r"CA pebble: its terms of service \(\S+\) must be agreed: set agree_tos = "
                     r"true in \[defaults\] or \[ca\.pebble\] of certplan\.toml", out), out
    assert not list((project.root / "state").glob("tos.json"))  # nothing recorded

    config.write_text(agreed)
    assert project.apply().returncode == 0
    account_url = project.state("tos")["account_url"]
    config.write_text(agreed.replace("agree_tos = true", "agree_tos = false"))
    res = project.apply("--replace", "tos")
    assert res.returncode == 0, res.stdout + res.stderr
    assert project.state("tos")["account_url"] == account_url
