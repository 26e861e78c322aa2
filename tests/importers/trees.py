"""Realistic acme.sh and certbot folders, built by the tests themselves: keys and
certificates made with `cryptography` (a root, an intermediate, a leaf), or
taken from a real CA (Pebble) for the renewal tests."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certplan.model.crypto import generate_key, key_to_pem

NOW = datetime(2026, 11, 1, tzinfo=UTC)
# credentials acme.sh and certbot saved: none of these may reach a file certplan writes
SECRETS = {"SAVED_Ali_Key": "LTAI5tAliKeyValue0001", "SAVED_Ali_Secret": "AliSecretValue0002zz",
           "SAVED_CF_Token": "CfTokenValue0003abcdef", "SAVED_GD_Key": "GdKeyValue0004",
           "SAVED_GD_Secret": "GdSecretValue0005"}
CERTBOT_SECRETS = {"dns_cloudflare_api_token": "CertbotCfTokenValue0006"}


@dataclass(frozen=True)
class Issued:
    key_pem: bytes
    leaf_pem: bytes
    chain_pem: bytes

    @property
    def fullchain_pem(self) -> bytes:
        return self.leaf_pem + self.chain_pem


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class SigningCA:
    """A root and an intermediate that sign leaf certificates."""

    def __init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._sign(_name("Import Test Root"), self.root_key.public_key(),
                               _name("Import Test Root"), self.root_key, ca=True)
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = self._sign(_name("Import Test R3"), self.int_key.public_key(),
                                       self.root.subject, self.root_key, ca=True)

    @staticmethod
    def _sign(subject: x509.Name, public: object, issuer: x509.Name, key: object, *,
              ca: bool, domains: list[str] | None = None, days: int = 3650,
              not_before: datetime = NOW - timedelta(days=10)) -> x509.Certificate:
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(public)  # type: ignore[arg-type]
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_before + timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if domains:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False)
        return builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]

    def issue(self, domains: list[str], key_type: str = "ec-256", days: int = 90,
              traditional_key: bool = True) -> Issued:
        key = generate_key(key_type)
        leaf = self._sign(_name(domains[0]), key.public_key(), self.intermediate.subject,
                          self.int_key, ca=False, domains=domains, days=days)
        if traditional_key:  # acme.sh and certbot keys: "BEGIN EC/RSA PRIVATE KEY"
            key_pem = key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.TraditionalOpenSSL,
                                        serialization.NoEncryption())
        else:
            key_pem = key_to_pem(key)
        return Issued(key_pem, _pem(leaf), _pem(self.intermediate))


def b64(text: str) -> str:
    return "__ACME_BASE64__START_" + base64.b64encode(text.encode()).decode() + \
        "__ACME_BASE64__END_"


def write(path: Path, data: bytes | str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)
    return path


def conf_text(values: dict[str, str]) -> str:
    """As acme.sh's _setopt writes them: KEY='value' lines."""
    return "".join(f"{k}='{v}'\n" for k, v in values.items())


def acmesh_cert(home: Path, folder: str, issued: Issued, conf: dict[str, str]) -> Path:
    domain = folder.removesuffix("_ecc")
    base = home / folder
    write(base / f"{domain}.key", issued.key_pem, 0o600)
    write(base / f"{domain}.cer", issued.leaf_pem)
    write(base / "ca.cer", issued.chain_pem)
    write(base / "fullchain.cer", issued.fullchain_pem)
    write(base / f"{domain}.csr", "-----BEGIN CERTIFICATE REQUEST-----\n")
    values = {"Le_Domain": domain, "Le_Alt": "no", "Le_Webroot": "no",
              "Le_PreHook": "", "Le_PostHook": "", "Le_RenewHook": "",
              "Le_API": "https://acme-v02.api.letsencrypt.org/directory",
              "Le_Keylength": "ec-256" if folder.endswith("_ecc") else "2048",
              "Le_OrderFinalize": "https://acme.example/finalize/1",
              "Le_CertCreateTime": "1761955200", "Le_RenewalDays": "",
              "Le_NextRenewTime": "1767139200"} | conf
    write(base / f"{domain}.conf", conf_text(values), 0o600)
    return base


def acmesh_account(home: Path, directory_path: str, key_pem: bytes, url: str,
                   email: str = "ops@example.com") -> None:
    """ca/<host>/<path>/account.key and ca.conf, as acme.sh keeps them."""
    folder = home / "ca" / directory_path
    write(folder / "account.key", key_pem, 0o600)
    write(folder / "ca.conf", conf_text({"CA_EMAIL": email, "ACCOUNT_URL": url,
                                         "CA_KEY_HASH": "abc"}), 0o600)


def acmesh_home(home: Path, ca: SigningCA, out: Path) -> dict[str, Issued]:
    """Four certificates (RSA and _ecc, webroot, dns_ali with an alias, standalone, a
    base64 reload command, a missing install path) and account.conf with saved keys."""
    write(home / "account.conf", conf_text({
        "LOG_FILE": f"{home}/acme.sh.log", "ACCOUNT_EMAIL": "ops@example.com",
        "DEFAULT_ACME_SERVER": "https://acme-v02.api.letsencrypt.org/directory",
        "UPGRADE_HASH": "0123", "USER_PATH": "/usr/bin:/bin", **SECRETS}), 0o600)
    (home / "dnsapi").mkdir(parents=True)
    write(home / "dnsapi" / "dns_ali.sh", "#!/bin/sh\n")
    account_key = key_to_pem(generate_key("ec-256"))
    acmesh_account(home, "acme-v02.api.letsencrypt.org/directory", account_key,
                   "https://acme-v02.api.letsencrypt.org/acme/acct/4242")
    certs = {
        "www": ca.issue(["www.example.com", "example.com"], "rsa-2048"),
        "www-ecc": ca.issue(["www.example.com", "example.com"], "ec-256"),
        "api": ca.issue(["api.example.com", "*.api.example.com"], "ec-256"),
        "standalone": ca.issue(["standalone.example.org"], "ec-384"),
    }
    www = certs["www"]
    write(out / "www.key", www.key_pem, 0o600)
    write(out / "www.fullchain.pem", www.fullchain_pem)
    acmesh_cert(home, "www.example.com", www, {
        "Le_Alt": "example.com", "Le_Webroot": "/srv/www/example",
        "Le_RealKeyPath": f"{out}/www.key", "Le_RealFullChainPath": f"{out}/www.fullchain.pem",
        "Le_RealCertPath": "", "Le_RealCACertPath": "",
        "Le_ReloadCmd": b64("systemctl reload nginx")})
    acmesh_cert(home, "www.example.com_ecc", certs["www-ecc"], {
        "Le_Alt": "example.com", "Le_Webroot": "/srv/www/example"})
    api = certs["api"]
    write(out / "api.key", api.key_pem, 0o600)
    write(out / "api.chain.pem", api.chain_pem)
    write(out / "api.fullchain.pem", api.fullchain_pem)  # api.pem (cert file) is missing
    acmesh_cert(home, "api.example.com_ecc", api, {
        "Le_Alt": "*.api.example.com", "Le_Webroot": "dns_ali,dns_ali",
        "Le_ChallengeAlias": "acme.example.net,acme.example.net,",
        "Le_RealKeyPath": f"{out}/api.key", "Le_RealCertPath": f"{out}/api.pem",
        "Le_RealCACertPath": f"{out}/api.chain.pem",
        "Le_RealFullChainPath": f"{out}/api.fullchain.pem",
        "Le_ReloadCmd": b64("service haproxy reload && logger 'cert renewed'"),
        "Le_DeployHook": "haproxy,"})
    acmesh_cert(home, "standalone.example.org_ecc", certs["standalone"], {
        "Le_Webroot": "no", "Le_Keylength": "ec-384", "Le_HTTPPort": "8080",
        "Le_RenewalDays": "30"})
    return certs


def certbot_live(root: Path, name: str, versions: list[Issued]) -> None:
    """archive/NAME/{cert,chain,fullchain,privkey}N.pem and live/NAME links to the last."""
    for n, issued in enumerate(versions, start=1):
        archive = root / "archive" / name
        write(archive / f"cert{n}.pem", issued.leaf_pem)
        write(archive / f"chain{n}.pem", issued.chain_pem)
        write(archive / f"fullchain{n}.pem", issued.fullchain_pem)
        write(archive / f"privkey{n}.pem", issued.key_pem, 0o600)
    live = root / "live" / name
    live.mkdir(parents=True, exist_ok=True)
    for kind in ("cert", "chain", "fullchain", "privkey"):
        os.symlink(f"../../archive/{name}/{kind}{len(versions)}.pem", live / f"{kind}.pem")


def certbot_renewal(root: Path, name: str, server: str, account: str, params: str,
                    extra: str = "") -> None:
    live = root / "live" / name
    write(root / "renewal" / f"{name}.conf", f"""# renew_before_expiry = 30 days
version = 2.11.0
archive_dir = {root}/archive/{name}
cert = {live}/cert.pem
privkey = {live}/privkey.pem
chain = {live}/chain.pem
fullchain = {live}/fullchain.pem

# Options used in the renewal process
[renewalparams]
account = {account}
server = {server}
{params}
{extra}""")


def certbot_account(root: Path, server_path: str, account_id: str, key: object,
                    url: str) -> None:
    """accounts/<server path>/<id>/ with private_key.json (JWK), regr.json, meta.json."""
    from josepy.jwk import JWK

    folder = root / "accounts" / server_path / account_id
    jwk = JWK.load(key_pem_of(key))
    write(folder / "private_key.json", json.dumps(jwk.to_json()), 0o400)
    write(folder / "regr.json", json.dumps({"body": {}, "uri": url}))
    write(folder / "meta.json", json.dumps({"creation_dt": "2025-01-01T00:00:00Z",
                                            "creation_host": "web1"}))


def key_pem_of(key: object) -> bytes:
    if isinstance(key, bytes):
        return key
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    return key_to_pem(key)


def certbot_tree(root: Path, ca: SigningCA) -> dict[str, list[Issued]]:
    """webroot (three versions), standalone, and the cloudflare DNS plugin."""
    server = "https://acme-v02.api.letsencrypt.org/directory"
    account_id = "0d2b4b6e9f3c4a5b8c7d6e5f4a3b2c1d"
    account_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certbot_account(root, "acme-v02.api.letsencrypt.org/directory", account_id, account_key,
                    "https://acme-v02.api.letsencrypt.org/acme/acct/777")
    versions = {"example.com": [ca.issue(["example.com", "www.example.com"]) for _ in range(3)],
                "shop.example.com": [ca.issue(["shop.example.com"], "rsa-2048")],
                "wild.example.com": [ca.issue(["wild.example.com", "*.wild.example.com"])]}
    for name, issued in versions.items():
        certbot_live(root, name, issued)
    certbot_renewal(root, "example.com", server, account_id,
                    "authenticator = webroot\nwebroot_path = /var/www/html,\n"
                    "key_type = ecdsa\nelliptic_curve = secp256r1\n"
                    "renew_hook = systemctl reload nginx",
                    "[[webroot_map]]\nexample.com = /var/www/html\n"
                    "www.example.com = /var/www/www\n")
    certbot_renewal(root, "shop.example.com", server, account_id,
                    "authenticator = standalone\nkey_type = rsa\nrsa_key_size = 2048\n"
                    "pre_hook = systemctl stop haproxy\npost_hook = systemctl start haproxy")
    creds = write(root / "cloudflare.ini",
                  "".join(f"{k} = {v}\n" for k, v in CERTBOT_SECRETS.items()), 0o600)
    certbot_renewal(root, "wild.example.com", server, account_id,
                    f"authenticator = dns-cloudflare\ndns_cloudflare_credentials = {creds}\n"
                    "dns_cloudflare_propagation_seconds = 30\nkey_type = ecdsa\n"
                    "installer = nginx")
    return versions
