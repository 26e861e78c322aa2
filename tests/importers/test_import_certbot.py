"""`certplan import certbot` on a realistic /etc/letsencrypt built by the test."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tomllib
from pathlib import Path

from certplan.model.crypto import cert_info
from certplan.store.keystore import Keystore
from tests.importers.conftest import run
from tests.importers.test_import_acmesh import AT, LE, plan, spec
from tests.importers.trees import (
    CERTBOT_SECRETS,
    SigningCA,
    certbot_live,
    certbot_renewal,
    certbot_tree,
    write,
)


def test_import_certbot_tree(ops: Path, tmp_path: Path, test_ca: SigningCA) -> None:
    root = tmp_path / "letsencrypt"
    versions = certbot_tree(root, test_ca)
    res = run(ops, "import", "certbot", str(root))
    assert res.exit_code == 0, res.output

    site = spec(ops, "example.com")
    live = root / "live" / "example.com"
    assert site["domains"] == ["example.com", "www.example.com"] and site["key"] == "ec-256"
    assert site["challenge"] == {"type": "http-01", "webroot": "/var/www/html", "domains": {
        "www.example.com": {"type": "http-01", "webroot": "/var/www/www"}}}
    assert site["install"] == [{"key_file": f"{live}/privkey.pem", "cert_file": f"{live}/cert.pem",
                                "chain_file": f"{live}/chain.pem",
                                "fullchain_file": f"{live}/fullchain.pem",
                                "reload": "systemctl reload nginx"}]
    shop = spec(ops, "shop.example.com")
    assert shop["challenge"] == {"type": "http-01", "standalone": True}
    assert shop["key"] == "rsa-2048" and "reload" not in shop["install"][0]
    wild = spec(ops, "wild.example.com")
    assert wild["challenge"] == {"type": "dns-01", "provider": "cloudflare"}
    assert (wild["install"][0]["check"], wild["install"][0]["reload"]) == \
        ("nginx -t", "nginx -s reload")
    config = tomllib.loads((ops / "certplan.toml").read_text())
    assert config["providers"]["cloudflare"] == {"type": "cloudflare",
                                                 "api_token": {"env": "CLOUDFLARE_API_TOKEN"}}
    assert run(ops, "validate").exit_code == 0
    assert f"CLOUDFLARE_API_TOKEN: the value of dns_cloudflare_api_token in {root}" in res.output
    assert "pre_hook 'systemctl stop haproxy'" in res.output
    assert "systemctl disable --now certbot.timer" in res.output

    # the newest version of the lineage (live/ points at archive/*3.pem)
    record = json.loads((ops / "state" / "example.com.json").read_text())
    assert record["certificate"]["serial"] == cert_info(versions["example.com"][-1].leaf_pem).serial
    assert record["account_url"] == "https://acme-v02.api.letsencrypt.org/acme/acct/777"
    keystore = Keystore(ops / ".certplan")
    key_path, _ = keystore.account_paths(LE, "ops@example.com")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key_path.read_bytes()
    for name in versions:
        key = keystore.cert_dir(name) / "current" / "key.pem"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600

    # certplan writes no link: until live/ holds files, each target is an install
    changes = plan(ops)["changes"]
    assert {(c["certificate"], c["action"]) for c in changes} == {
        (n, "install") for n in versions}
    assert "is a symbolic link" in changes[0]["reason"]
    # the command the import printed makes them files with the same bytes: nothing to do
    for name in versions:
        for link in (root / "live" / name).glob("*.pem"):
            target = link.resolve()
            link.unlink()
            shutil.copy2(target, link)
    assert plan(ops)["changes"] == []


def test_no_certbot_credential_leaves_certbot(ops: Path, tmp_path: Path,
                                              test_ca: SigningCA) -> None:
    root = tmp_path / "letsencrypt"
    certbot_tree(root, test_ca)
    outputs = [run(ops, "import", "certbot", str(root), "--dry-run").output,
               run(ops, "import", "certbot", str(root)).output,
               run(ops, "plan", "--no-refresh", "--at", AT).output]
    written = [p.read_bytes() for p in ops.rglob("*") if p.is_file()]
    for value in CERTBOT_SECRETS.values():
        assert not any(value in text for text in outputs)
        assert not any(value.encode() in data for data in written)


def test_unreadable_lineage_is_listed_and_the_rest_imported(ops: Path, tmp_path: Path,
                                                            test_ca: SigningCA) -> None:
    root = tmp_path / "letsencrypt"
    certbot_tree(root, test_ca)
    os.unlink(root / "live" / "shop.example.com" / "privkey.pem")
    res = run(ops, "import", "certbot", str(root))
    assert res.exit_code == 0, res.output
    assert "shop.example.com.conf: not imported: cannot read" in res.output
    assert sorted(p.stem for p in (ops / "specs").glob("*.toml")) == ["example.com",
                                                                      "wild.example.com"]


def test_rfc2136_plugin_keeps_its_public_settings_not_its_secret(
        ops: Path, tmp_path: Path, test_ca: SigningCA) -> None:
    root = tmp_path / "letsencrypt"
    certbot_live(root, "int.example.com", [test_ca.issue(["int.example.com"])])
    creds = write(root / "rfc2136.ini", "dns_rfc2136_server = 192.0.2.53\n"
                  "dns_rfc2136_port = 5353\ndns_rfc2136_name = certbot-key.\n"
                  "dns_rfc2136_secret = c2VjcmV0LXRzaWctdmFsdWU=\n"
                  "dns_rfc2136_algorithm = HMAC-SHA512\n", 0o600)
    certbot_renewal(root, "int.example.com", LE, "none",
                    f"authenticator = dns-rfc2136\ndns_rfc2136_credentials = {creds}\n"
                    "post_hook = systemctl reload nginx")
    res = run(ops, "import", "certbot", str(root))
    assert res.exit_code == 0, res.output
    config = tomllib.loads((ops / "certplan.toml").read_text())
    assert config["providers"]["rfc2136"] == {
        "type": "rfc2136", "tsig_secret": {"env": "RFC2136_TSIG_SECRET"},
        "server": "192.0.2.53:5353", "tsig_name": "certbot-key.",
        "tsig_algorithm": "hmac-sha512"}
    assert spec(ops, "int.example.com")["install"][0]["reload"] == "systemctl reload nginx"
    assert "account none" in res.output  # no account folder: listed, a new one at renewal
    assert run(ops, "validate").exit_code == 0
    assert "c2VjcmV0LXRzaWctdmFsdWU=" not in res.output + (ops / "certplan.toml").read_text()


def test_account_json_not_an_object_is_listed_not_a_traceback(
        ops: Path, tmp_path: Path, test_ca: SigningCA) -> None:
    root = tmp_path / "letsencrypt"
    certbot_tree(root, test_ca)
    for folder in (root / "accounts").rglob("private_key.json"):
        folder.write_text("[]")
        (folder.parent / "regr.json").write_text('"uri"')
    res = run(ops, "import", "certbot", str(root))
    assert res.exit_code == 0, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "not read" in res.output and "Traceback" not in res.output
