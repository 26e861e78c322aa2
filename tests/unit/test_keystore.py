"""Keystore: modes, account keys, rotation, the open order's key, archive, git warning."""

from __future__ import annotations

import datetime
import json
import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from certplan.model import crypto
from certplan.store.keystore import Keystore, KeystoreError
from tests.unit.test_crypto import issue

DIR = "https://ca.example/dir"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def previous(ks: Keystore, name: str) -> tuple[bytes, bytes] | None:
    """The rollback copy, read as an operator would: certs/NAME/previous/."""
    folder = ks.cert_dir(name) / "previous"
    if not folder.exists():
        return None
    return (folder / "key.pem").read_bytes(), (folder / "fullchain.pem").read_bytes()


def pair(domains: list[str] | None = None) -> tuple[bytes, bytes]:
    key = crypto.generate_key("ec-256")
    return crypto.key_to_pem(key), issue(key, domains or ["a.example.com"])


def test_account_key_created_private_and_stable(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / ".certplan")
    pem = ks.account_key(DIR, "ops@example.com")
    assert crypto.describe_key(crypto.load_key(pem)) == "ec-256"
    key_path, info_path = ks.account_paths(DIR, "ops@example.com")
    assert mode(ks.root) == 0o700 and mode(ks.root / "accounts") == 0o700
    assert mode(key_path) == 0o600
    assert ks.account_key(DIR, "ops@example.com") == pem
    assert ks.account_key(DIR, "other@example.com") != pem
    assert ks.account_key("https://other/dir", "ops@example.com") != pem
    info = json.loads(info_path.read_text())
    assert info["directory"] == DIR and info["email"] == "ops@example.com"
    assert info["account_url"] is None
    assert "PRIVATE KEY" not in info_path.read_text()
    assert not [p for p in key_path.parent.iterdir() if p.name.startswith(".")]


def test_account_url_saved_keeps_created(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "ks")
    ks.account_key(DIR, "a@example.com")
    created = ks.load_account(DIR, "a@example.com")
    assert created is not None
    ks.save_account_url(DIR, "a@example.com", "https://ca.example/acct/7")
    rec = ks.load_account(DIR, "a@example.com")
    assert rec is not None and rec.account_url == "https://ca.example/acct/7"
    assert rec.created == created.created
    assert ks.load_account(DIR, "nobody@example.com") is None


def test_account_key_concurrent_first_use_agrees(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "ks")
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(ks.account_key(DIR, "x@y.z")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 8


def test_accounts_lists_those_with_key_and_record(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "ks")
    assert ks.accounts() == []
    key_a = ks.account_key(DIR, "a@example.com")
    key_b = ks.account_key("https://other/dir", "")
    ks.save_account_url(DIR, "a@example.com", "https://ca.example/acct/1")
    ks.account_paths(DIR, "gone@example.com")[1].write_text('{"directory": "x"}')  # no key
    found = {a.id: a for a in ks.accounts()}
    a_id, b_id = ks.account_id(DIR, "a@example.com"), ks.account_id("https://other/dir", "")
    assert sorted(found) == sorted([a_id, b_id])
    assert (found[a_id].key_pem, found[a_id].record.account_url) == (
        key_a, "https://ca.example/acct/1")
    assert (found[b_id].key_pem, found[b_id].record.email) == (key_b, "")
    assert ks.load_account_key(DIR, "a@example.com") == key_a
    assert ks.load_account_key(DIR, "nobody@example.com") is None
    ks.account_paths(DIR, "a@example.com")[1].write_text("[1]")
    with pytest.raises(KeystoreError, match="not a valid account record"):
        ks.accounts()


def test_set_account_aside(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "ks")
    key = ks.account_key(DIR, "a@example.com")
    now = datetime.datetime(2026, 11, 3, 4, 5, 6, tzinfo=datetime.UTC)
    aside = ks.set_account_aside(DIR, "a@example.com", now)
    ident = ks.account_id(DIR, "a@example.com")
    assert aside.name == f"{ident}.deactivated-20261103T040506Z.key.pem.old"
    assert aside.read_bytes() == key and mode(aside) == 0o600
    assert aside.with_name(f"{ident}.deactivated-20261103T040506Z.json.old").exists()
    assert ks.accounts() == [] and ks.load_account(DIR, "a@example.com") is None
    assert ks.account_key(DIR, "a@example.com") != key  # the next apply: a new account


def test_staged_account_key_commit_and_discard(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "ks")
    old = ks.account_key(DIR, "a@example.com")
    new = crypto.key_to_pem(crypto.generate_key("ec-256"))
    staged = ks.staged_account_key(DIR, "a@example.com")
    ks.stage_account_key(DIR, "a@example.com", new)
    assert staged.read_bytes() == new and mode(staged) == 0o600
    with pytest.raises(KeystoreError, match="cut short"):
        ks.stage_account_key(DIR, "a@example.com", old)
    assert staged.read_bytes() == new  # the first staged key is kept: the CA may have it
    assert ks.load_account_key(DIR, "a@example.com") == old
    ks.discard_staged_account_key(DIR, "a@example.com")
    assert not staged.exists()
    ks.stage_account_key(DIR, "a@example.com", new)
    ks.commit_staged_account_key(DIR, "a@example.com")
    assert ks.load_account_key(DIR, "a@example.com") == new and not staged.exists()
    assert [a.key_pem for a in ks.accounts()] == [new]


def test_store_current_rotates_to_previous(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "ks")
    assert ks.load_current("web") is None
    first, second = pair(), pair()
    ks.store_current("web", *first)
    assert ks.load_current("web") == first
    assert previous(ks, "web") is None
    key_file = ks.cert_dir("web") / "current" / "key.pem"
    assert mode(key_file) == 0o600 and mode(ks.cert_dir("web")) == 0o700
    ks.store_current("web", *second)
    assert ks.load_current("web") == second
    assert previous(ks, "web") == first
    ks.store_current("web", *second)  # same again: no rotation
    assert previous(ks, "web") == first
    third = pair()
    ks.store_current("web", *third)
    assert previous(ks, "web") == second
    assert mode(ks.cert_dir("web") / "previous" / "key.pem") == 0o600


def test_pending_key_round_trip_and_clear(tmp_path: Path) -> None:
    """Only the open order's private key is kept here; the order is in state."""
    ks = Keystore(tmp_path / "ks")
    key_pem = crypto.key_to_pem(crypto.generate_key("ec-384"))
    assert ks.load_pending_key("web") is None
    ks.store_pending_key("web", key_pem)
    assert mode(ks.cert_dir("web") / "pending.key.pem") == 0o600
    assert ks.load_pending_key("web") == key_pem
    assert sorted(p.name for p in ks.cert_dir("web").iterdir()) == ["pending.key.pem"]
    ks.clear_pending("web")
    assert ks.load_pending_key("web") is None


def test_clear_pending_removes_a_pending_json_of_certplan_0_1(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "ks")
    ks.store_pending_key("web", crypto.key_to_pem(crypto.generate_key("ec-256")))
    legacy = ks.cert_dir("web") / "pending.json"
    legacy.write_text('{"order_url": "https://ca/order/1", "csr_pem": "...", '
                      '"directory": "https://ca/dir", "created": "2026-01-01T00:00:00+00:00"}')
    ks.clear_pending("web")
    assert list(ks.cert_dir("web").iterdir()) == []


def test_crash_between_rotation_steps_recovers(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "ks")
    first, second = pair(), pair()
    ks.store_current("web", *first)
    base = ks.cert_dir("web")
    # simulate: new pair staged in next/, current already moved to previous/
    (base / "next").mkdir(mode=0o700)
    (base / "next" / "key.pem").write_bytes(second[0])
    (base / "next" / "fullchain.pem").write_bytes(second[1])
    os.rename(base / "current", base / "previous")
    assert ks.load_current("web") == second
    assert previous(ks, "web") == first


def test_clear_pending_missing_is_fine(tmp_path: Path) -> None:
    Keystore(tmp_path / "ks").clear_pending("nothing")


def test_archive(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "ks")
    ks.store_current("web", *pair())
    now = datetime.datetime(2026, 11, 3, 4, 5, 6, tzinfo=datetime.UTC)
    target = ks.archive("web", now=now)
    assert target == ks.root / "archive" / "web-20261103T040506Z"
    assert (target / "current" / "key.pem").exists()
    assert not ks.cert_dir("web").exists()
    assert ks.load_current("web") is None
    assert ks.archive("web", now=now) is None
    ks.store_current("web", *pair())
    second = ks.archive("web", now=now)
    assert second is not None and second != target and second.exists()


def _git_init(path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(path)], check=True)


def test_gitignore_warning(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    ks = Keystore(Path(".certplan"))
    assert ks.gitignore_warning(project) is None  # not in git
    _git_init(project)
    warning = ks.gitignore_warning(project)
    assert warning is not None and ".gitignore" in warning and ".certplan" in warning
    (project / ".gitignore").write_text(".certplan/\n")
    assert ks.gitignore_warning(project) is None
    (project / ".certplan").mkdir()
    assert ks.gitignore_warning(project) is None
    outside = Keystore(tmp_path / "elsewhere")
    assert outside.gitignore_warning(project) is None  # outside the work tree
