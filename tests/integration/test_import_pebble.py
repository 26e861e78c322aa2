"""Import, then renew through a real CA: a certificate really issued by Pebble to an
account whose key is then placed in an acme.sh home or a certbot folder. After the
import `validate` accepts the project, keys are 0600, `plan` issues nothing, and
`apply --replace` renews through Pebble with the imported account (Pebble finds
the same account URL for that key: no new account is created)."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from certplan.store.keystore import Keystore
from tests.importers.trees import (
    Issued,
    acmesh_account,
    acmesh_cert,
    b64,
    certbot_account,
    certbot_live,
    certbot_renewal,
    write,
)
from tests.integration.apply_project import CertplanProject, spec_toml
from tests.servers.nginx import NginxServer
from tests.servers.pebble import PebbleServer, start_pebble

pytestmark = pytest.mark.integration
EMAIL = "test@example.test"  # the address tests.servers.project_config writes


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    server = start_pebble(tmp_path_factory.mktemp("pebble"))
    yield server
    server.stop()


def issue_elsewhere(tmp_path: Path, pebble: PebbleServer, site: NginxServer,
                    domain: str) -> tuple[Issued, bytes, str]:
    """A certificate from Pebble through a throw-away project: (key and chain, the
    account key, the account URL), as another client would hold them."""
    donor = CertplanProject(tmp_path / "donor", pebble)
    donor.root.mkdir()
    donor.write_config()
    donor.write_spec("d.toml", spec_toml("donor", [domain], site.webroot, None))
    res = donor.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    keystore = Keystore(donor.root / ".certplan")
    current = keystore.load_current("donor")
    assert current is not None
    (account,) = keystore.accounts()
    assert account.record.account_url
    leaf_end = current[1].index(b"-----END CERTIFICATE-----") + len(b"-----END CERTIFICATE-----\n")
    return Issued(current[0], current[1][:leaf_end], current[1][leaf_end:]), account.key_pem, \
        account.record.account_url


def renew_imported(project: CertplanProject, name: str, account_url: str,
                   old_serial: str) -> None:
    assert project.run("validate").returncode == 0
    key = project.root / ".certplan" / "certs" / name / "current" / "key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    for account_key in (project.root / ".certplan" / "accounts").glob("*.key.pem"):
        assert stat.S_IMODE(account_key.stat().st_mode) == 0o600
    plan = project.plan_json()
    assert plan["changes"] == [], plan["changes"]
    assert project.state(name)["certificate"]["serial"] == old_serial

    res = project.apply("--replace", name)
    assert res.returncode == 0, res.stdout + res.stderr
    record = project.state(name)
    assert record["certificate"]["serial"] != old_serial and record["renewals"] == 1
    assert record["account_url"] == account_url
    (account,) = Keystore(project.root / ".certplan").accounts()
    assert account.record.account_url == account_url


def test_acmesh_import_then_renew_through_pebble(tmp_path: Path, pebble: PebbleServer,
                                                 site: NginxServer,
                                                 project: CertplanProject) -> None:
    issued, account_key, account_url = issue_elsewhere(tmp_path, pebble, site,
                                                       "moved.example.test")
    home, out = tmp_path / ".acme.sh", tmp_path / "out"
    write(home / "account.conf", "ACCOUNT_EMAIL='test@example.test'\n")
    parts = urlsplit(pebble.directory_url)
    acmesh_account(home, f"{parts.hostname}{parts.path}", account_key, account_url)
    write(out / "moved.key", issued.key_pem, 0o600)
    write(out / "moved.pem", issued.fullchain_pem)
    acmesh_cert(home, "moved.example.test_ecc", issued, {
        "Le_API": pebble.directory_url, "Le_Webroot": str(site.webroot),
        "Le_RealKeyPath": f"{out}/moved.key", "Le_RealFullChainPath": f"{out}/moved.pem",
        "Le_ReloadCmd": b64("true")})
    res = project.run("import", "acme.sh", str(home))
    assert res.returncode == 0, res.stdout + res.stderr
    old = json.loads((project.root / "state" / "moved.example.test.json").read_text())
    renew_imported(project, "moved.example.test", account_url, old["certificate"]["serial"])
    assert (out / "moved.pem").read_bytes() != issued.fullchain_pem  # installed anew


def test_certbot_import_then_renew_through_pebble(tmp_path: Path, pebble: PebbleServer,
                                                  site: NginxServer,
                                                  project: CertplanProject) -> None:
    issued, account_key, account_url = issue_elsewhere(tmp_path, pebble, site,
                                                       "bot.example.test")
    root = tmp_path / "letsencrypt"
    parts = urlsplit(pebble.directory_url)
    certbot_account(root, f"{parts.netloc}{parts.path}", "a1b2c3", account_key, account_url)
    certbot_live(root, "bot.example.test", [issued])
    certbot_renewal(root, "bot.example.test", pebble.directory_url, "a1b2c3",
                    f"authenticator = webroot\nwebroot_path = {site.webroot},\n")
    res = project.run("import", "certbot", str(root))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "cp --remove-destination" in res.stdout
    # as the import says: once certbot is stopped, live/ holds files, not links
    for link in (root / "live" / "bot.example.test").glob("*.pem"):
        target = link.resolve()
        link.unlink()
        shutil.copy2(target, link)
    old = json.loads((project.root / "state" / "bot.example.test.json").read_text())
    renew_imported(project, "bot.example.test", account_url, old["certificate"]["serial"])
    live = root / "live" / "bot.example.test" / "fullchain.pem"
    assert not live.is_symlink() and live.read_bytes() != issued.fullchain_pem
