"""Issue 9, case 10: a symlinked `.well-known` or `acme-challenge` in the webroot
never makes root write (or delete) a token file where the link points."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from certplan.model.challenge import Challenge
from certplan.validators.http01 import WebrootValidator
from tests.integration.apply_project import CertplanProject, spec_toml
from tests.security.conftest import assert_refused
from tests.servers.nginx import NginxServer

pytestmark = pytest.mark.integration


def _root_only(tmp_path: Path) -> Path:
    folder = tmp_path / "root-only-dir"
    folder.mkdir(mode=0o700)
    return folder


@pytest.mark.parametrize("link", [".well-known", ".well-known/acme-challenge"])
def test_symlinked_challenge_folder_gets_no_token(project: CertplanProject, site: NginxServer,
                                                  tmp_path: Path, link: str) -> None:
    target = _root_only(tmp_path)
    planted = site.webroot / link
    planted.parent.mkdir(parents=True, exist_ok=True)
    if planted.is_dir() and not planted.is_symlink():
        planted.rmdir()
    planted.symlink_to(target)  # a web user who can write the webroot planted it
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    assert_refused(project.apply(), str(planted), "symbolic link")
    assert list(target.iterdir()) == []
    assert planted.is_symlink()


def _challenge(token: str) -> Challenge:
    return Challenge(identifier="web.example.test", wildcard=False, type="http-01", token=token,
                     key_authorization=f"{token}.thumbprint")


def test_cleanup_never_deletes_through_a_link_swapped_in_after_present(
        tmp_path: Path) -> None:
    webroot = tmp_path / "www"
    validator = WebrootValidator(webroot, self_check=False)
    ch = _challenge("tok_" + "a" * 40)
    validator.present([ch])
    token = validator.token_path(ch)
    assert token.read_text() == ch.key_authorization
    assert (os.stat(token).st_mode & 0o777, os.stat(token.parent).st_mode & 0o777) == \
        (0o644, 0o755)
    # between present and cleanup the folder is swapped for a link to a folder with
    # a file of the same name
    elsewhere = _root_only(tmp_path)
    (elsewhere / token.name).write_text("keep me\n")
    token.unlink()
    token.parent.rmdir()
    token.parent.symlink_to(elsewhere)
    validator.cleanup([ch])
    assert (elsewhere / token.name).read_text() == "keep me\n"


def test_a_hard_link_at_the_token_name_is_replaced_not_written_through(
        tmp_path: Path, secret: Path) -> None:
    webroot = tmp_path / "www"
    ch = _challenge("tok_" + "b" * 40)
    validator = WebrootValidator(webroot, self_check=False)
    folder = validator.token_path(ch).parent
    folder.mkdir(parents=True)
    os.link(secret, folder / validator.token_path(ch).name)
    validator.present([ch])
    assert secret.read_bytes() == b"root's secret\n"
    validator.cleanup([ch])
    assert secret.read_bytes() == b"root's secret\n"
