"""External Account Binding against a Pebble that requires it: the right key creates
the account and issues; a wrong key or no key fails with one clear line, exit 1,
no traceback and never the HMAC key in the output."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from certplan.engine.sessions import Sessions
from certplan.load import load_project
from certplan.model.errors import AcmeError
from certplan.model.presets import PRESETS, CaPreset
from certplan.store.keystore import Keystore
from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import (
    assert_clean_failure,
    make_project,
    standalone_spec,
)
from tests.servers.pebble import PebbleServer, start_pebble

pytestmark = pytest.mark.integration

KID = "kid-certplan"
HMAC = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
WRONG = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
EAB_LINES = f'eab_kid = "{KID}"\neab_hmac_key = {{ env = "TEST_EAB_HMAC" }}'


@pytest.fixture(scope="module")
def pebble_eab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    server = start_pebble(tmp_path_factory.mktemp("pebble-eab"), eab={KID: HMAC})
    yield server
    server.stop()


def eab_project(root: Path, pebble: PebbleServer, hmac: str | None) -> CertplanProject:
    project = make_project(root, pebble, ca_extra=EAB_LINES if hmac else "")
    if hmac:
        project.env["TEST_EAB_HMAC"] = hmac
    standalone_spec(project, "eab", ["eab.example.test"])
    return project


def test_right_key_creates_the_account_and_issues(tmp_path: Path,
                                                  pebble_eab: PebbleServer) -> None:
    project = eab_project(tmp_path / "ok", pebble_eab, HMAC)
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Apply: 1 done, 0 failed." in res.stdout
    assert project.state("eab")["account_url"].startswith("https://127.0.0.1:")
    for path in project.root.rglob("*"):
        if path.is_file():
            assert HMAC.encode() not in path.read_bytes(), path


def test_wrong_key_fails_clearly_without_the_secret(tmp_path: Path,
                                                    pebble_eab: PebbleServer) -> None:
    project = eab_project(tmp_path / "wrong", pebble_eab, WRONG)
    out = assert_clean_failure(project.apply(), WRONG, HMAC)
    assert "Apply: 0 done, 1 failed." in out
    assert "refused the new account" in out and "unauthorized" in out, out
    assert not (project.root / "state" / "eab.json").exists()


def test_key_not_base64url_fails_clearly(tmp_path: Path, pebble_eab: PebbleServer) -> None:
    bad = "not base64 at all!!"
    project = eab_project(tmp_path / "bad", pebble_eab, bad)
    out = assert_clean_failure(project.apply(), bad)
    assert f"external account binding for key id '{KID}': HMAC key is not valid " \
           f"base64url" in out, out


def test_eab_required_but_not_configured(tmp_path: Path, pebble_eab: PebbleServer) -> None:
    project = eab_project(tmp_path / "none", pebble_eab, None)
    out = assert_clean_failure(project.apply())
    assert "CA pebble requires External Account Binding: set eab_kid and eab_hmac_key in " \
           "[ca.pebble] of certplan.toml" in out, out


def test_secret_reference_unset_names_the_variable(tmp_path: Path,
                                                   pebble_eab: PebbleServer) -> None:
    project = eab_project(tmp_path / "unset", pebble_eab, HMAC)
    del project.env["TEST_EAB_HMAC"]
    out = assert_clean_failure(project.apply())
    assert "TEST_EAB_HMAC" in out, out


def test_eab_fetched_by_email_like_zerossl(tmp_path: Path, pebble_eab: PebbleServer,
                                           httpserver: HTTPServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A preset with an EAB-by-e-mail API (ZeroSSL's protocol, served by the test) gets
    its credentials from there for a new account, and not again once it exists."""
    httpserver.expect_request("/acme/eab-credentials-email", method="POST",
                              data="email=test%40example.test").respond_with_json(
        {"success": True, "eab_kid": KID, "eab_hmac_key": HMAC})
    monkeypatch.setitem(PRESETS, "pebble", CaPreset(
        "pebble", "https://unused.invalid/dir", True, "test preset",
        eab_email_url=httpserver.url_for("/acme/eab-credentials-email")))
    project = make_project(tmp_path / "fetch", pebble_eab)
    loaded = load_project(project.root)
    keystore = Keystore(loaded.keystore_dir)
    client, target = Sessions(loaded, keystore).client("pebble")
    assert target.directory == pebble_eab.directory_url
    assert client.account_url and client.account_url.startswith("https://127.0.0.1:")
    assert len(httpserver.log) == 1
    again, _ = Sessions(loaded, keystore).client("pebble")  # a later run: account exists
    assert again.account_url == client.account_url and len(httpserver.log) == 1
    for path in project.root.rglob("*"):
        if path.is_file():
            assert HMAC.encode() not in path.read_bytes(), path


def test_eab_by_email_refused(tmp_path: Path, pebble_eab: PebbleServer,
                              httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/eab", method="POST").respond_with_json(
        {"success": False, "error": {"code": 2900, "type": "invalid_email"}})
    monkeypatch.setitem(PRESETS, "pebble", CaPreset(
        "pebble", "https://unused.invalid/dir", True, "test preset",
        eab_email_url=httpserver.url_for("/eab")))
    loaded = load_project(make_project(tmp_path / "refused", pebble_eab).root)
    with pytest.raises(AcmeError, match=r"for test@example.test refused \(HTTP 200\): "
                                        r"code 2900, type invalid_email"):
        Sessions(loaded, Keystore(loaded.keystore_dir)).client("pebble")
