"""`certplan import acme.sh` on a realistic acme.sh home built by the test."""

from __future__ import annotations

import grp
import json
import os
import stat
import tomllib
from pathlib import Path

from certplan.ops.importers.common import files_target
from certplan.ops.importers.shellconf import parse_shell_conf
from certplan.store.keystore import Keystore
from tests.importers.conftest import run
from tests.importers.trees import SECRETS, SigningCA, acmesh_home, b64

LE = "https://acme-v02.api.letsencrypt.org/directory"
AT = "2026-11-01T00:00:00Z"


def spec(ops: Path, name: str) -> dict:
    return tomllib.loads((ops / "specs" / f"{name}.toml").read_text())["certificate"][0]


def plan(ops: Path) -> dict:
    res = run(ops, "plan", "--format", "json", "--no-refresh", "--at", AT)
    assert res.exit_code in (0, 2), res.output
    return json.loads(res.stdout)


def test_shell_conf_reads_quotes_and_base64_without_running_anything() -> None:
    text = ("Le_Domain='a.example'\nLe_Alt=\"b.example\"\nexport X=bare # comment\n"
            f"Le_ReloadCmd='{b64('nginx -s reload && echo $(id)')}'\n#Le_API='no'\n"
            "Le_Webroot='$(touch /tmp/pwned)'\n")
    conf = parse_shell_conf(text)
    assert conf == {"Le_Domain": "a.example", "Le_Alt": "b.example", "X": "bare",
                    "Le_ReloadCmd": "nginx -s reload && echo $(id)",
                    "Le_Webroot": "$(touch /tmp/pwned)"}


def test_import_writes_specs_state_and_keystore(ops: Path, tmp_path: Path,
                                                test_ca: SigningCA) -> None:
    home, out = tmp_path / ".acme.sh", tmp_path / "out"
    certs = acmesh_home(home, test_ca, out)
    res = run(ops, "import", "acme.sh", str(home))
    assert res.exit_code == 0, res.output

    names = sorted(p.stem for p in (ops / "specs").glob("*.toml"))
    assert names == ["api.example.com", "standalone.example.org", "www.example.com",
                     "www.example.com-ecc"]
    www = spec(ops, "www.example.com")
    assert www["domains"] == ["www.example.com", "example.com"] and www["ca"] == "letsencrypt"
    assert www["key"] == "rsa-2048"
    assert www["challenge"] == {"type": "http-01", "webroot": "/srv/www/example"}
    assert www["install"] == [{"key_file": f"{out}/www.key",
                               "fullchain_file": f"{out}/www.fullchain.pem",
                               "reload": "systemctl reload nginx"}]  # base64 decoded
    assert spec(ops, "www.example.com-ecc")["key"] == "ec-256"
    api = spec(ops, "api.example.com")
    assert api["challenge"] == {"type": "dns-01", "provider": "ali", "alias": "acme.example.net"}
    assert api["install"][0]["reload"] == "service haproxy reload && logger 'cert renewed'"
    assert api["install"][0]["cert_file"] == f"{out}/api.pem"
    alone = spec(ops, "standalone.example.org")
    assert alone["challenge"] == {"type": "http-01", "standalone": True, "listen": ":8080"}
    assert alone["renew_before_days"] == 60  # renewed 30 days after issuance, of 90
    assert alone["key"] == "ec-384" and "install" not in alone
    config = tomllib.loads((ops / "certplan.toml").read_text())
    assert config["providers"]["ali"] == {"type": "aliyun",
                                          "access_key_id": {"env": "Ali_Key"},
                                          "access_key_secret": {"env": "Ali_Secret"}}
    assert run(ops, "validate").exit_code == 0

    # what to set, and what was not carried over
    assert "Ali_Key: acme.sh saved it as SAVED_Ali_Key" in res.output
    assert "Ali_Secret" in res.output and "deploy hook(s) haproxy" in res.output
    assert "acme.sh --uninstall-cronjob" in res.output

    # keystore: keys 0600, the same bytes; the account adopted with its URL
    keystore = Keystore(ops / ".certplan")
    for name, issued in (("www.example.com", certs["www"]), ("api.example.com", certs["api"])):
        key_path = keystore.cert_dir(name) / "current" / "key.pem"
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        assert keystore.load_current(name) == (issued.key_pem, issued.fullchain_pem)
    key_path, info_path = keystore.account_paths(LE, "ops@example.com")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes() == (home / "ca/acme-v02.api.letsencrypt.org/directory/"
                                     "account.key").read_bytes()
    assert json.loads(info_path.read_text())["account_url"].endswith("/acct/4242")

    # state: the current certificates; the plan issues nothing and installs only where a
    # target really differs (api's cert_file is missing; www's files are what certplan
    # would write)
    record = json.loads((ops / "state" / "www.example.com.json").read_text())
    assert record["certificate"]["fingerprint_sha256"]
    assert record["account_url"].endswith("/acct/4242")
    changes = plan(ops)["changes"]
    assert [(c["certificate"], c["action"]) for c in changes] == [("api.example.com", "install")]
    assert changes[0]["reasons"] == [f"install[0]: {out}/api.pem is missing"]


def test_no_saved_credential_leaves_acmesh(ops: Path, tmp_path: Path, test_ca: SigningCA) -> None:
    home = tmp_path / ".acme.sh"
    acmesh_home(home, test_ca, tmp_path / "out")
    outputs = [run(ops, "import", "acme.sh", "--dry-run", str(home)).output,
               run(ops, "import", "acme.sh", str(home)).output,
               run(ops, "plan", "--no-refresh", "--at", AT).output]
    written = [p.read_bytes() for p in ops.rglob("*") if p.is_file()]
    assert len(written) > 10
    for value in SECRETS.values():
        assert not any(value in text for text in outputs), value
        assert not any(value.encode() in data for data in written), value


def test_dry_run_writes_nothing_and_conflicts_name_what_exists(ops: Path, tmp_path: Path,
                                                               test_ca: SigningCA) -> None:
    home = tmp_path / ".acme.sh"
    acmesh_home(home, test_ca, tmp_path / "out")
    before = sorted(str(p) for p in ops.rglob("*"))
    config = (ops / "certplan.toml").read_bytes()
    res = run(ops, "import", "acme.sh", "--dry-run", "--config-home", str(home))
    assert res.exit_code == 0, res.output
    assert "[[certificate]]" in res.output and 'name = "api.example.com"' in res.output
    assert "Would write state records: " in res.output
    assert sorted(str(p) for p in ops.rglob("*")) == before
    assert (ops / "certplan.toml").read_bytes() == config

    assert run(ops, "import", "acme.sh", str(home)).exit_code == 0
    after = {p: p.read_bytes() for p in ops.rglob("*") if p.is_file()}
    again = run(ops, "import", "acme.sh", str(home))
    assert again.exit_code == 1 and "Traceback" not in again.output
    for what in ("spec file", "specs/www.example.com.toml", "state record 'api.example.com'",
                 "keystore entry", "nothing was written"):
        assert what in again.output
    assert {p: p.read_bytes() for p in ops.rglob("*") if p.is_file()} == after


def test_not_an_acmesh_home_is_one_clear_error(ops: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = run(ops, "import", "acme.sh", str(tmp_path / "empty"))
    assert res.exit_code == 1 and "not an acme.sh home" in res.output
    res = run(ops, "import", "acme.sh", str(tmp_path / "missing"))
    assert res.exit_code == 1 and "no such folder" in res.output


def test_install_table_keeps_the_key_mode_and_group_the_server_reads(tmp_path: Path) -> None:
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    key.write_bytes(b"key")
    cert.write_bytes(b"cert")
    os.chmod(key, 0o640)
    os.chown(key, -1, 65534)
    table = files_target({"key_file": str(key), "fullchain_file": str(cert)}, reload="r")
    assert table == {"key_file": str(key), "fullchain_file": str(cert), "key_mode": "0640",
                     "allow_shared_key": True, "group": grp.getgrgid(65534).gr_name,
                     "reload": "r"}
    # one path named as two kinds keeps the last (acme.sh --cert-file = --fullchain-file)
    assert files_target({"cert_file": str(cert), "fullchain_file": str(cert)}) == {
        "fullchain_file": str(cert)}


def test_account_key_in_the_old_layout_is_found(ops: Path, tmp_path: Path,
                                                test_ca: SigningCA) -> None:
    """acme.sh before 2.9 kept the account in ca/<host>/ (it moves it when it runs)."""
    home = tmp_path / ".acme.sh"
    acmesh_home(home, test_ca, tmp_path / "out")
    new = home / "ca/acme-v02.api.letsencrypt.org/directory"
    for name in ("account.key", "ca.conf"):
        (new / name).rename(home / "ca/acme-v02.api.letsencrypt.org" / name)
    assert run(ops, "import", "acme.sh", str(home)).exit_code == 0
    key_path, info = Keystore(ops / ".certplan").account_paths(LE, "ops@example.com")
    assert json.loads(info.read_text())["account_url"].endswith("/acct/4242")
    assert key_path.read_bytes() == (home / "ca/acme-v02.api.letsencrypt.org/"
                                     "account.key").read_bytes()


def test_cert_home_that_is_not_a_folder_is_one_clear_error(ops: Path, tmp_path: Path) -> None:
    home = tmp_path / "acme.sh"
    home.mkdir()
    (home / "account.conf").write_text(f"CERT_HOME='{tmp_path / 'gone'}'\n")
    res = run(ops, "import", "acme.sh", str(home))
    assert res.exit_code == 1 and not isinstance(res.exception, OSError), res.output
    assert f"CERT_HOME {tmp_path / 'gone'}" in res.output


def test_unreadable_account_conf_is_one_clear_error(ops: Path, tmp_path: Path) -> None:
    home = tmp_path / "acme.sh"
    (home / "account.conf").mkdir(parents=True)  # read fails (as unreadable would, not as root)
    (home / "a.example").mkdir()
    (home / "a.example" / "a.example.conf").write_text("Le_Domain='a.example'\n")
    res = run(ops, "import", "acme.sh", str(home))
    assert res.exit_code == 1 and not isinstance(res.exception, OSError), res.output
    assert f"{home / 'account.conf'}: cannot read" in res.output


def test_an_install_path_certplan_refuses_is_one_clear_error(ops: Path, tmp_path: Path,
                                                             test_ca: SigningCA) -> None:
    from tests.importers.trees import acmesh_cert

    home = tmp_path / "acme.sh"
    acmesh_cert(home, "a.example.com", test_ca.issue(["a.example.com"]),
                {"Le_RealCertPath": "/etc/nginx/ssl/", "Le_RealKeyPath": "/etc/nginx/ssl/"})
    res = run(ops, "import", "acme.sh", str(home))
    assert res.exit_code == 1 and not isinstance(res.exception, ValueError), res.output
    assert "a.example.com" in res.output and "names a folder" in res.output
    assert not list((ops / "specs").iterdir())


def test_an_account_key_that_is_not_a_key_is_listed_not_adopted(ops: Path, tmp_path: Path,
                                                                 test_ca: SigningCA) -> None:
    home = tmp_path / ".acme.sh"
    acmesh_home(home, test_ca, tmp_path / "out")
    (home / "ca/acme-v02.api.letsencrypt.org/directory/account.key").write_bytes(b"garbage\n")
    res = run(ops, "import", "acme.sh", str(home))
    assert res.exit_code == 0, res.output
    assert "account.key" in res.output and "not adopted" in res.output
    key_path, _ = Keystore(ops / ".certplan").account_paths(LE, "ops@example.com")
    assert not key_path.exists()
