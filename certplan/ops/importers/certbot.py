"""Read a certbot config folder (default /etc/letsencrypt) into `Found`.

Layout: `renewal/NAME.conf` (ConfigObj text: `cert`, `privkey`, `chain`,
`fullchain` paths into `live/NAME/`, and `[renewalparams]` with `authenticator`,
`installer`, `server`, `account`, `webroot_path`, `[[webroot_map]]`,
`pre_hook`/`post_hook`/`renew_hook` (the deploy hook), `preferred_chain`,
`dns_*_credentials`, `http01_port`); `live/NAME/*.pem` are symlinks into
`archive/NAME/*N.pem`; `accounts/<host[:port]><path>/<id>/` holds
`private_key.json` (a JWK), `regr.json` (the account URL) and `meta.json`.

Credentials files of the DNS plugins are never copied: only their path is named,
with the key to take the value from (the rfc2136 plugin's public settings,
server and key name, are carried over).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from certplan.model.crypto import cert_info
from certplan.model.errors import CertplanError
from certplan.ops.importers.common import (
    Rule,
    cert_name,
    challenge_table,
    files_target,
    key_type_of,
    read_bytes,
)
from certplan.ops.importers.dnsmap import CERTBOT, RFC2136_PUBLIC, exec_placeholder, provider_table
from certplan.ops.importers.found import Found, FoundAccount, FoundCert
from certplan.ops.importers.jwk import jwk_to_pem

LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
_CLEAR_RELOAD = re.compile(
    r"(systemctl (reload|restart|reload-or-restart|try-reload-or-restart) [\w@.-]+"
    r"|service [\w@.-]+ (reload|restart)|(/usr/sbin/)?nginx -s reload"
    r"|(apachectl|apache2ctl)( -k)? graceful)")
SERVER_COMMANDS = {"nginx": ("nginx -t", "nginx -s reload"),
                   "apache": ("apachectl configtest", "apachectl graceful")}


def parse_configobj(text: str) -> dict[str, dict[str, str]]:
    """Section ("" top level, "renewalparams", "renewalparams.webroot_map") -> key -> value."""
    out: dict[str, dict[str, str]] = {"": {}}
    section, parent = "", ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[[") and line.endswith("]]"):
            section = f"{parent}.{line[2:-2].strip()}"
        elif line.startswith("[") and line.endswith("]"):
            section = parent = line[1:-1].strip()
        elif "=" in line:
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            out.setdefault(section, {})[key.strip()] = value
    return out


def read_certbot(root: Path) -> Found:
    renewal = root / "renewal"
    if not renewal.is_dir():
        raise CertplanError(f"{root}: not a certbot config folder (no renewal/)")
    found = Found("certbot")
    taken: set[str] = set()
    accounts: dict[tuple[str, str], None] = {}
    for conf_path in sorted(renewal.glob("*.conf")):
        try:
            conf = parse_configobj(conf_path.read_text(encoding="utf-8", errors="replace"))
            cert, account = _certificate(found, conf_path, conf, taken)
        except (CertplanError, OSError, ValueError, IndexError) as exc:
            found.todo.append(f"{conf_path}: not imported: {exc}")
            continue
        found.certs.append(cert)
        if account:
            accounts[(cert.directory, account)] = None
    for directory, account_id in accounts:
        _account(found, root, directory, account_id)
    return found


def _certificate(found: Found, conf_path: Path, conf: dict[str, dict[str, str]],
                 taken: set[str]) -> tuple[FoundCert, str | None]:
    top, params = conf[""], conf.get("renewalparams", {})
    paths = {k: top.get(k, "") for k in ("cert", "privkey", "chain", "fullchain")}
    key_pem, fullchain = read_bytes(Path(paths["privkey"])), read_bytes(Path(paths["fullchain"]))
    if key_pem is None or fullchain is None:
        raise CertplanError(f"cannot read {paths['privkey']} or {paths['fullchain']}")
    key_type_of(key_pem, paths["privkey"])
    info = cert_info(fullchain)
    main = (info.subject_cn or info.sans[0]).lower()
    domains = [main] + [d.lower() for d in info.sans if d.lower() != main]
    name = cert_name(conf_path.stem, taken)
    rules = [_rule(found, name, d, params, conf) for d in domains]
    cert = FoundCert(name=name, source=str(conf_path), domains=domains,
                     directory=params.get("server") or LETSENCRYPT, key_pem=key_pem,
                     fullchain_pem=fullchain, challenge=challenge_table(domains, rules),
                     preferred_chain=params.get("preferred_chain") or None)
    check, reload = _commands(found, name, params)
    table = files_target({"key_file": paths["privkey"], "cert_file": paths["cert"],
                          "chain_file": paths["chain"], "fullchain_file": paths["fullchain"]},
                         reload=reload, check=check)
    if table is not None:
        cert.install = [table]
        live = Path(paths["fullchain"]).parent
        found.todo.append(
            f"{name}: {live}/*.pem are certbot's links into archive/; certplan never writes "
            f"through a link, so the plan shows an install until they are files: once "
            f"certbot is stopped, run: for f in {live}/*.pem; do cp --remove-destination "
            f"\"$(readlink -f \"$f\")\" \"$f\"; done")
    return cert, params.get("account") or None


def _rule(found: Found, name: str, domain: str, params: dict[str, str],
          conf: dict[str, dict[str, str]]) -> Rule:
    auth = params.get("authenticator", "")
    if auth == "webroot":
        webroot = conf.get("renewalparams.webroot_map", {}).get(domain) or \
            next((p.strip() for p in params.get("webroot_path", "").split(",") if p.strip()), "")
        if webroot:
            return {"type": "http-01", "webroot": webroot}
    if auth.startswith("dns-"):
        return {"type": "dns-01", "provider": _dns_provider(found, name, auth, params)}
    rule: Rule = {"type": "http-01", "standalone": True}
    if params.get("http01_port", "80") not in ("", "80"):
        rule["listen"] = f":{params['http01_port']}"
    if auth not in ("standalone", "webroot"):
        found.todo.append(f"{name}: authenticator {auth!r} has no certplan equivalent; the spec "
                          "uses http-01 standalone on port 80: set a webroot if port 80 is taken")
    return rule


def _dns_provider(found: Found, name: str, plugin: str, params: dict[str, str]) -> str:
    provider = plugin.removeprefix("dns-")
    if provider in found.providers:
        return provider
    option = f"{plugin.replace('-', '_')}_credentials"
    credentials = params.get(option, "")
    mapped = CERTBOT.get(plugin)
    if mapped is None:
        found.providers[provider] = exec_placeholder(provider)
        found.todo.append(f"{name}: certbot plugin {plugin} has no certplan provider: write the "
                          f"hook /usr/local/sbin/certplan-dns-{provider} or change "
                          f"[providers.{provider}] to a lexicon provider")
        return provider
    api, keys = mapped
    table = provider_table(api)
    if api.type == "rfc2136" and credentials:
        ini = parse_configobj(Path(credentials).read_text(encoding="utf-8", errors="replace"))[""]
        table |= {f: ini[k] for f, k in RFC2136_PUBLIC.items() if ini.get(k)}
        if "server" in table and ini.get("dns_rfc2136_port"):
            table["server"] = f"{table['server']}:{ini['dns_rfc2136_port']}"
        if "tsig_algorithm" in table:
            table["tsig_algorithm"] = table["tsig_algorithm"].lower()
    found.providers[provider] = table
    for field_name, env in api.secrets:
        key = keys.get(field_name)
        found.env[env] = (f"the value of {key} in {credentials} (not copied)" if key and
                          credentials else "the same credential certbot's plugin used")
    if api.note:
        found.todo.append(f"[providers.{provider}]: {api.note}")
    return provider


def _commands(found: Found, name: str, params: dict[str, str]) -> tuple[str | None, str | None]:
    """(check, reload) from the installer plugin and clear hooks; the rest is listed."""
    check, reload = SERVER_COMMANDS.get(params.get("installer", ""), (None, None))
    for hook in ("renew_hook", "post_hook", "pre_hook"):
        command = params.get(hook, "").strip()
        if not command:
            continue
        if hook != "pre_hook" and reload in (None, command) and _CLEAR_RELOAD.fullmatch(command):
            reload = command
            continue
        found.todo.append(f"{name}: {hook.replace('renew_hook', 'deploy_hook')} {command!r} is "
                          "not carried over (certplan runs install `check` and `reload` only)")
    return check, reload


def _account(found: Found, root: Path, directory: str, account_id: str) -> None:
    parts = urlsplit(directory)
    folder = root / "accounts" / (parts.netloc + parts.path).strip("/") / account_id
    try:
        key = json.loads((folder / "private_key.json").read_text(encoding="utf-8"))
        regr: dict[str, Any] = json.loads((folder / "regr.json").read_text(encoding="utf-8"))
        if not isinstance(key, dict) or not isinstance(regr, dict):
            raise ValueError("not a JSON object")
        pem = jwk_to_pem(key, str(folder / "private_key.json"))
    except (OSError, ValueError, CertplanError) as exc:
        found.todo.append(f"account {account_id} for {directory} ({folder}) not read: "
                          f"{getattr(exc, 'strerror', None) or exc}; certplan creates a new "
                          "account at the first renewal")
        return
    url = regr.get("uri") if isinstance(regr.get("uri"), str) else None
    found.accounts.append(FoundAccount(directory, pem, url,
                                       str(folder / "private_key.json")))
