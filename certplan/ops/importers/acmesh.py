"""Read an acme.sh home (default ~/.acme.sh) into `Found`.

Layout (acme.sh `_initpath`): `account.conf` (defaults, `SAVED_*` credentials of
the DNS APIs, `CERT_HOME`, `ACCOUNT_KEY_PATH`); per certificate `<domain>/` (RSA)
or `<domain>_ecc/` with `<domain>.conf` (`Le_*` keys), `<domain>.key`,
`<domain>.cer`, `ca.cer` and `fullchain.cer`; per CA
`ca/<host>/<directory path>/account.key` and `ca.conf` (`ACCOUNT_URL`), where
<host> is the directory URL's host without its port.

Credentials are never read into anything certplan writes: only the names of the
`SAVED_*` keys are looked at, to say which variables to set.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from certplan.model.crypto import cert_info, load_key
from certplan.model.errors import CertplanError
from certplan.ops.importers.common import (
    Rule,
    cert_name,
    challenge_table,
    files_target,
    key_type_of,
    read_bytes,
)
from certplan.ops.importers.dnsmap import ACMESH, exec_placeholder, provider_table
from certplan.ops.importers.found import Found, FoundAccount, FoundCert
from certplan.ops.importers.shellconf import read_shell_conf

# acme.sh's default CA since v3.0 (when neither Le_API nor DEFAULT_ACME_SERVER says)
ACMESH_DEFAULT_CA = "https://acme.zerossl.com/v2/DV90"
ECC_SUFFIX = "_ecc"
DEFAULT_RENEWAL_DAYS = 60


def ca_folder(ca_home: Path, directory: str) -> Path:
    """ca/<host>/<path>: the host without port, the path without its leading '/'
    (as acme.sh cuts the URL)."""
    parts = urlsplit(directory)
    host = (parts.hostname or "").lower()
    return ca_home / host / parts.path.strip("/")


def read_acmesh(home: Path) -> Found:
    if not (home / "account.conf").is_file() and not any(home.glob("*/*.conf")):
        raise CertplanError(f"{home}: not an acme.sh home (no account.conf, no "
                            "<domain>/<domain>.conf)")
    found = Found("acme.sh")
    account_conf = read_shell_conf(home / "account.conf")
    cert_home = Path(account_conf.get("CERT_HOME") or home)
    default_ca = account_conf.get("DEFAULT_ACME_SERVER") or ACMESH_DEFAULT_CA
    reader = _Reader(found, account_conf, home)
    try:
        folders = sorted(p for p in cert_home.iterdir() if p.is_dir() and _conf_of(p).is_file())
    except OSError as exc:
        raise CertplanError(f"{home / 'account.conf'}: CERT_HOME {cert_home}: cannot read "
                            f"the folder: {exc.strerror or exc}") from None
    plain = {p.name for p in folders if not p.name.endswith(ECC_SUFFIX)}
    taken: set[str] = set()
    for folder in folders:
        base = folder.name.removesuffix(ECC_SUFFIX)
        ecc_twin = folder.name.endswith(ECC_SUFFIX) and base in plain
        try:
            reader.certificate(folder, default_ca, taken, ecc_twin)
        except (CertplanError, OSError, ValueError, IndexError) as exc:
            found.todo.append(f"{folder}: not imported: {exc}")
    for directory in sorted({c.directory for c in found.certs}):
        reader.account(directory)
    return found


def _conf_of(folder: Path) -> Path:
    return folder / f"{folder.name.removesuffix(ECC_SUFFIX)}.conf"


class _Reader:
    def __init__(self, found: Found, account_conf: dict[str, str], home: Path):
        self.found = found
        self.account_conf = account_conf
        self.home = home

    def certificate(self, folder: Path, default_ca: str, taken: set[str],
                    ecc_twin: bool) -> None:
        base = folder.name.removesuffix(ECC_SUFFIX)
        conf = read_shell_conf(_conf_of(folder))
        key_pem = read_bytes(folder / f"{base}.key")
        fullchain = read_bytes(folder / "fullchain.cer")
        if key_pem is None or fullchain is None:
            raise CertplanError("no key or fullchain.cer (never issued?); issue it with certplan")
        key_type = key_type_of(key_pem, f"{folder / base}.key")
        info = cert_info(fullchain)
        main = conf.get("Le_Domain") or base
        domains = [main] + [d for d in conf.get("Le_Alt", "").split(",") if d and d != "no"]
        name = cert_name(main + ("-ecc" if ecc_twin else ""), taken)
        rules = self._rules(name, domains, conf)
        cert = FoundCert(name=name, source=str(folder), domains=domains,
                         directory=conf.get("Le_API") or default_ca, key_pem=key_pem,
                         fullchain_pem=fullchain, challenge=challenge_table(domains, rules))
        cert.install = self._install(name, conf)
        cert.preferred_chain = conf.get("Le_Preferred_Chain") or None
        days = conf.get("Le_RenewalDays", "")
        if days.isdigit() and int(days) != DEFAULT_RENEWAL_DAYS:
            before = info.lifetime.days - int(days)
            if 1 <= before <= 365:
                cert.renew_before_days = before
        for hook in ("Le_PreHook", "Le_PostHook", "Le_RenewHook"):
            if conf.get(hook):
                self.found.todo.append(f"{name}: {hook} {conf[hook]!r} is not carried over "
                                       "(certplan runs install `check` and `reload` "
                                       "commands; run other steps from the apply timer)")
        if conf.get("Le_DeployHook"):
            hooks = conf["Le_DeployHook"].strip(",")
            self.found.todo.append(f"{name}: deploy hook(s) {hooks} not carried over: add "
                                   "an install target (files, with reload) that does the same")
        if key_type.startswith("ec") != folder.name.endswith(ECC_SUFFIX):
            self.found.todo.append(f"{name}: key type {key_type} in folder {folder.name}")
        self.found.certs.append(cert)

    def _rules(self, name: str, domains: list[str], conf: dict[str, str]) -> list[Rule]:
        webroots = conf.get("Le_Webroot", "no").split(",")
        aliases = (conf.get("Le_ChallengeAlias") or conf.get("Le_DomainAlias") or "").split(",")
        rules, current = [], "no"
        for i, domain in enumerate(domains):
            if i < len(webroots) and webroots[i]:
                current = webroots[i]  # acme.sh reuses the last one given
            alias = aliases[i] if i < len(aliases) and aliases[i] not in ("", "no") else None
            rules.append(self._rule(name, domain, current, alias, conf))
        return rules

    def _rule(self, name: str, domain: str, webroot: str, alias: str | None,
              conf: dict[str, str]) -> Rule:
        if webroot.startswith("dns"):
            return self._dns_rule(name, domain, webroot, alias)
        if webroot in ("no", "standalone", "alpn", "apache", "nginx"):
            rule: Rule = {"type": "http-01", "standalone": True}
            if conf.get("Le_HTTPPort", "80") not in ("", "80"):
                rule["listen"] = f":{conf['Le_HTTPPort']}"
            if webroot != "no" and webroot != "standalone":
                self.found.todo.append(
                    f"{name}: acme.sh mode {webroot!r} has no certplan equivalent; the spec "
                    "uses http-01 standalone on port 80: set webroot to the folder your "
                    "server serves /.well-known/acme-challenge/ from if port 80 is taken")
            return rule
        return {"type": "http-01", "webroot": webroot}

    def _dns_rule(self, name: str, domain: str, api: str, alias: str | None) -> Rule:
        provider = api.removeprefix("dns_") or "manual"
        if provider not in self.found.providers:
            mapped = ACMESH.get(api)
            if mapped is None:
                self.found.providers[provider] = exec_placeholder(provider)
                what = "manual DNS mode" if api == "dns" else f"DNS API {api}"
                self.found.todo.append(
                    f"{name}: {what} has no certplan provider: write the hook "
                    f"/usr/local/sbin/certplan-dns-{provider} (docs/dns01.md, exec) or "
                    f"change [providers.{provider}] to a lexicon provider")
            else:
                self.found.providers[provider] = provider_table(mapped)
                for _field, env in mapped.secrets:
                    self.found.env[env] = self._where_saved(env)
                if mapped.note:
                    self.found.todo.append(f"[providers.{provider}]: {mapped.note}")
        rule: Rule = {"type": "dns-01", "provider": provider}
        if alias is not None:
            target = alias[1:] if alias.startswith("=") else f"_acme-challenge.{alias}"
            if target.startswith("_acme-challenge."):
                rule["alias"] = target.removeprefix("_acme-challenge.")
            else:
                self.found.todo.append(
                    f"{name}: {domain}: domain alias {target} (a TXT name without "
                    "_acme-challenge.) cannot be expressed: CNAME _acme-challenge."
                    f"{domain.removeprefix('*.')} to _acme-challenge.<zone> and set alias")
        return rule

    def _where_saved(self, env: str) -> str:
        for key in (f"SAVED_{env}", env):
            if key in self.account_conf:
                return f"acme.sh saved it as {key} in {self.home / 'account.conf'} (not copied)"
        return "not saved by acme.sh: take it from where you keep it"

    def _install(self, name: str, conf: dict[str, str]) -> list[dict[str, object]]:
        files = {"key_file": conf.get("Le_RealKeyPath"), "cert_file": conf.get("Le_RealCertPath"),
                 "chain_file": conf.get("Le_RealCACertPath"),
                 "fullchain_file": conf.get("Le_RealFullChainPath")}
        table = files_target({k: v for k, v in files.items() if v},
                             reload=conf.get("Le_ReloadCmd") or None)
        if table is None and conf.get("Le_ReloadCmd"):
            self.found.todo.append(f"{name}: reload command {conf['Le_ReloadCmd']!r} has no "
                                   "install path beside it: add an install target")
        return [table] if table else []

    def account(self, directory: str) -> None:
        folder = ca_folder(self.home / "ca", directory)
        key_path = Path(self.account_conf.get("ACCOUNT_KEY_PATH") or folder / "account.key")
        key = read_bytes(key_path)
        host = urlsplit(directory).hostname
        if key is None and "ACCOUNT_KEY_PATH" not in self.account_conf and host:
            key_path = self.home / "ca" / host.lower() / "account.key"  # before 2.9: ca/<host>/
            key = read_bytes(key_path)
        if key is None:
            self.found.todo.append(f"no account key for {directory} at {key_path}: certplan "
                                   "creates a new account at the first renewal")
            return
        try:
            load_key(key, source=str(key_path))  # adopted only if it is a usable key
        except CertplanError as exc:
            self.found.todo.append(f"{exc}: not adopted; certplan creates a new account "
                                   "at the first renewal")
            return
        url = read_shell_conf(key_path.parent / "ca.conf").get("ACCOUNT_URL") or None
        self.found.accounts.append(FoundAccount(directory, key, url, str(key_path)))
