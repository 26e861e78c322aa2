"""A corpus of bad inputs: each is reported by `certplan validate` as FILE: field.path:
message, with exit code 1 and no traceback. See bad_inputs/README.md.

Each case starts from a valid project (certplan.toml with a `bind` provider and an
`internal` CA, specs/a.toml with one http-01 certificate) and replaces or deletes files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from certplan.cli import app
from tests.unit.test_project import CONFIG, write_project

CASES_DIR = Path(__file__).parent / "bad_inputs"


def cert(*lines: str, challenge: str = 'type = "http-01"\nwebroot = "/srv/www"',
         install: str = "", name: str = "www",
         domains: str = '["example.com", "www.example.com"]') -> str:
    """One [[certificate]] table; `lines` go into the table, `install` is its targets."""
    body = "\n".join([f'name = "{name}"', f"domains = {domains}", *lines])
    text = f"[[certificate]]\n{body}\n\n[certificate.challenge]\n{challenge}\n"
    if install:
        text += f"\n[[certificate.install]]\n{install}\n"
    return text


DNS = 'type = "dns-01"\nprovider = "bind"'
GOOD_STATE = {
    "name": "www", "domains": ["example.com"], "key_type": "ec-256", "ca": "letsencrypt",
    "ca_directory": "https://acme-v02.api.letsencrypt.org/directory",
    "created_at": "2026-01-01T00:00:00Z",
}


@dataclass
class Case:
    id: str
    files: dict[str, str | bytes | None]
    expect: list[str]  # each must start one problem line: "FILE: field.path: message..."
    extra: dict[str, str] = field(default_factory=dict)


def config_with(old: str, new: str) -> str:
    assert old in CONFIG
    return CONFIG.replace(old, new)


C = "certplan.toml"
A = "specs/a.toml"
CASES = [
    # ---- files and TOML
    Case("missing-config", {C: None},
         [f"{C}: file not found (run `certplan init` to create one)"]),
    Case("missing-specs-folder", {"specs": None}, ["specs: specs folder not found"]),
    Case("malformed-toml-spec", {A: '[[certificate]\nname = "www"\n'}, [f"{A}: invalid TOML"]),
    Case("malformed-toml-config", {C: "[defaults\n"}, [f"{C}: invalid TOML"]),
    Case("not-utf8-spec", {A: b"name = '\xff\xfe'\n"}, [f"{A}: not UTF-8 text"]),
    Case("empty-spec-file", {A: ""}, [f"{A}: certificate: expected one or more [[certificate]]"]),
    Case("certificate-not-array", {A: '[certificate]\nname = "www"\n'},
         [f"{A}: certificate: expected one or more [[certificate]]"]),
    # ---- unknown keys at each level
    Case("unknown-key-spec-top", {A: "colour = 1\n" + cert()},
         [f"{A}: colour: unknown key (a spec file holds [[certificate]] tables only)"]),
    Case("unknown-key-certificate", {A: cert("renew_befor_days = 3")},
         [f"{A}: certificate[0].renew_befor_days: unknown key (check the spelling)"]),
    Case("unknown-key-challenge", {A: cert(challenge='type = "http-01"\nwebrot = "/srv"')},
         [f"{A}: certificate[0].challenge.webrot: unknown key (check the spelling)"]),
    Case("unknown-key-install", {A: cert(install='keyfile = "/tmp/k"\ncert_file = "/tmp/c"')},
         [f"{A}: certificate[0].install[0].keyfile: unknown key (check the spelling)"]),
    Case("unknown-key-on-remove", {A: cert() + "\n[certificate.on_remove]\nrevok = true\n"},
         [f"{A}: certificate[0].on_remove.revok: unknown key (check the spelling)"]),
    Case("unknown-key-config-top", {C: CONFIG + "\n[default]\nca = 'x'\n"},
         [f"{C}: default: unknown key (check the spelling)"]),
    Case("unknown-key-defaults", {C: config_with("agree_tos", "agree_to")},
         [f"{C}: defaults.agree_to: unknown key (check the spelling)"]),
    Case("unknown-key-ca", {C: config_with('directory = "https', 'directroy = "https')},
         [f"{C}: ca.internal.directroy: unknown key (check the spelling)"]),
    Case("unknown-key-provider", {C: config_with("tsig_name", "tsig_nam")},
         [f"{C}: providers.bind.tsig_nam: unknown key (check the spelling)",
          f"{C}: providers.bind.tsig_name: field required"]),
    Case("unknown-key-dns", {C: CONFIG + "\n[dns]\nresolver = ['127.0.0.1']\n"},
         [f"{C}: dns.resolver: unknown key (check the spelling)"]),
    Case("unknown-key-paths", {C: CONFIG + "\n[paths]\nspec = 'x'\n"},
         [f"{C}: paths.spec: unknown key (check the spelling)"]),
    # ---- wrong types and ranges
    Case("domains-not-a-list", {A: cert(domains='"example.com"')},
         [f"{A}: certificate[0].domains: input should be a valid list"]),
    Case("name-not-a-string", {A: cert().replace('name = "www"', "name = 5")},
         [f"{A}: certificate[0].name: input should be a valid string"]),
    Case("bad-name", {A: cert(name="WWW site")},
         [f"{A}: certificate[0].name: 'WWW site': use lower-case letters"]),
    Case("name-missing", {A: cert().replace('name = "www"\n', "")},
         [f"{A}: certificate[0].name: field required"]),
    Case("challenge-missing", {A: '[[certificate]]\nname = "www"\ndomains = ["example.com"]\n'},
         [f"{A}: certificate[0].challenge: field required"]),
    Case("bad-key-type", {A: cert('key = "ec-521"')},
         [f"{A}: certificate[0].key: input should be 'ec-256', 'ec-384', 'rsa-2048'"]),
    Case("reuse-key-string-not-bool", {A: cert('reuse_key = "yes"')},
         [f"{A}: certificate[0].reuse_key: input should be a valid boolean"]),
    Case("renew-before-days-string", {A: cert('renew_before_days = "30"')},
         [f"{A}: certificate[0].renew_before_days: input should be a valid integer"]),
    Case("renew-before-days-zero", {A: cert("renew_before_days = 0")},
         [f"{A}: certificate[0].renew_before_days: input should be greater than or equal to 1"]),
    Case("renew-before-days-too-big", {C: config_with("agree_tos = true",
                                                      "renew_before_days = 400")},
         [f"{C}: defaults.renew_before_days: input should be less than or equal to 365"]),
    Case("reuse-key-wrong-type", {A: cert("reuse_key = 3")},
         [f"{A}: certificate[0].reuse_key: input should be a valid boolean"]),
    Case("bad-file-mode", {A: cert(install='key_file = "/tmp/k"\nkey_mode = "0999"')},
         [f"{A}: certificate[0].install[0].key_mode: '0999' is not an octal file mode"]),
    Case("file-mode-as-number", {A: cert(install='key_file = "/tmp/k"\ncert_mode = 644')},
         [f"{A}: certificate[0].install[0].cert_mode: write file modes as strings"]),
    Case("install-without-file", {A: cert(install='reload = "nginx -s reload"')},
         [f"{A}: certificate[0].install[0]: an install target needs at least one of key_file"]),
    Case("same-file-twice-in-a-target",
         {A: cert(install='key_file = "/tmp/x.pem"\nfullchain_file = "/tmp/x.pem"')},
         [f"{A}: certificate[0].install[0]: /tmp/x.pem is named by key_file and fullchain_file"]),
    Case("verify-without-port", {A: cert(install='key_file = "/tmp/k"\nverify = "localhost"')},
         [f"{A}: certificate[0].install[0].verify: 'localhost': expected HOST:PORT"]),
    Case("unknown-installer", {A: cert(install='type = "x"\nkey_file = "/tmp/k"')},
         [f"{A}: certificate[0].install[0].type: unknown installer 'x' (known: files, ssh)"]),
    Case("installer-type-not-a-string", {A: cert(install='type = 5\nkey_file = "/tmp/k"')},
         [f"{A}: certificate[0].install[0].type: input should be a valid string"]),
    Case("install-entry-not-a-table", {A: cert('install = ["/tmp/k"]')},
         [f"{A}: certificate[0].install[0]: input should be a valid dictionary"]),
    Case("install-a-table-not-an-array",
         {A: cert() + '\n[certificate.install]\nkey_file = "/tmp/k"\n'},
         [f"{A}: certificate[0].install: input should be a valid list"]),
    Case("http01-port-zero", {C: CONFIG + "\n[http01]\nport = 0\n"},
         [f"{C}: http01.port: input should be greater than 0"]),
    Case("unknown-state-backend", {C: CONFIG + "\n[state]\nbackend = 'x'\n"},
         [f"{C}: state.backend: unknown state backend 'x' (known: files, postgres)"]),
    Case("postgres-without-dsn", {C: CONFIG + "\n[state]\nbackend = 'postgres'\n"},
         [f'{C}: state: backend "postgres" needs dsn = {{ env = "VAR" }}']),
    Case("postgres-literal-dsn", {C: CONFIG + "\n[state]\nbackend = 'postgres'\n"
                                              "dsn = 'postgresql://u:pw@db/x'\n"},
         [f"{C}: state.dsn: secrets are never literals"]),
    Case("postgres-bad-schema", {C: CONFIG + "\n[state]\nbackend = 'postgres'\n"
                                             "dsn = { env = 'PG' }\nschema = 'a; drop'\n"},
         [f"{C}: state.schema: string should match pattern"]),
    Case("unknown-key-state", {C: CONFIG + "\n[state]\nfolder = 'x'\n"},
         [f"{C}: state.folder: unknown key (check the spelling)"]),
    Case("state-backend-not-a-string", {C: CONFIG + "\n[state]\nbackend = 1\n"},
         [f"{C}: state.backend: input should be a valid string"]),
    Case("bad-email", {C: config_with('"ops@example.com"', '"ops"')},
         [f"{C}: defaults.email: 'ops' is not an e-mail address"]),
    # ---- domains
    Case("domain-with-space", {A: cert(domains='["exa mple.com"]')},
         [f"{A}: certificate[0].domains: 'exa mple.com': spaces are not allowed"]),
    Case("domain-single-label", {A: cert(domains='["localhost"]')},
         [f"{A}: certificate[0].domains: 'localhost': needs at least two labels"]),
    Case("domain-bad-label", {A: cert(domains='["-bad.example.com"]')},
         [f"{A}: certificate[0].domains: '-bad.example.com': invalid label '-bad'"]),
    Case("domain-ip-address", {A: cert(domains='["192.0.2.1"]')},
         [f"{A}: certificate[0].domains: '192.0.2.1': IP addresses are not supported"]),
    Case("domains-empty", {A: cert(domains="[]")},
         [f"{A}: certificate[0].domains: list should have at least 1 item"]),
    Case("domains-over-100", {A: cert(domains=json.dumps([f"h{i}.example.com"
                                                          for i in range(101)]))},
         [f"{A}: certificate[0].domains: list should have at most 100 items"]),
    Case("idna-junk-u-label", {A: cert(domains='["zero\\u200djoiner.example.com"]')},
         [f"{A}: certificate[0].domains: 'zero\\u200djoiner.example.com': not a valid "
          "internationalised name"]),
    # ---- hostile text (issue 9, case 11): control characters anywhere
    Case("name-trailing-newline", {A: cert(name="www\\n")},
         [f"{A}: certificate[0].name: control character U+000A at position 3"]),
    Case("domain-embedded-newline", {A: cert(domains='["web\\n.example.com"]')},
         [f"{A}: certificate[0].domains[0]: control character U+000A at position 3"]),
    Case("install-path-nul", {A: cert(install='key_file = "/tmp/k\\u0000x"')},
         [f"{A}: certificate[0].install[0].key_file: control character U+0000 at position 6"]),
    Case("command-escape-sequence", {A: cert(install='cert_file = "/tmp/c"\n'
                                               'reload = "true \\u001b[2J"')},
         [f"{A}: certificate[0].install[0].reload: control character U+001B at position 5"]),
    Case("webroot-tab", {A: cert(challenge='type = "http-01"\nwebroot = "/srv\\twww"')},
         [f"{A}: certificate[0].challenge.webroot: control character U+0009 at position 4"]),
    Case("install-path-bidi-override", {A: cert(install='cert_file = "/tmp/\\u202egp.crt"')},
         [f"{A}: certificate[0].install[0]: cert_file = '/tmp/\\u202egp.crt': invisible "
          "formatting character U+202E"]),
    # ---- hostile shapes (issue 9, case 12)
    Case("nesting-too-deep-spec", {A: "x = " + "[" * 5000 + "]" * 5000 + "\n"},
         [f"{A}: nesting too deep"]),
    Case("nesting-too-deep-config", {C: "x = " + "[" * 5000 + "]" * 5000 + "\n"},
         [f"{C}: nesting too deep"]),
    Case("spec-is-a-folder", {"specs/d.toml/": ""}, ["specs/d.toml: not a regular file"]),
    Case("idna-junk-a-label", {A: cert(domains='["xn--zz.example.com"]')},
         [f"{A}: certificate[0].domains: 'xn--zz.example.com': 'xn--zz' is not a valid A-label"]),
    Case("duplicate-domain", {A: cert(domains='["example.com", "EXAMPLE.com."]')},
         [f"{A}: certificate[0].domains: 'EXAMPLE.com.' is listed twice"]),
    Case("duplicate-idna-domain", {A: cert(domains='["bücher.example", "xn--bcher-kva.example"]')},
         [f"{A}: certificate[0].domains: 'xn--bcher-kva.example' is listed twice"]),
    Case("wildcard-middle-label", {A: cert(domains='["www.*.example.com"]', challenge=DNS)},
         [f"{A}: certificate[0].domains: 'www.*.example.com': a wildcard is allowed only as "
          "the whole leftmost label"]),
    Case("wildcard-partial-label", {A: cert(domains='["w*.example.com"]', challenge=DNS)},
         [f"{A}: certificate[0].domains: 'w*.example.com': a wildcard is allowed only"]),
    Case("wildcard-with-http01", {A: cert(domains='["example.com", "*.example.com"]')},
         [f"{A}: certificate[0].challenge: *.example.com: wildcard names can only be proven "
          "with dns-01"]),
    Case("challenge-override-unknown-domain",
         {A: cert() + '\n[certificate.challenge.domains."api.example.com"]\n' + DNS + "\n"},
         [f"{A}: certificate[0].challenge: domains.'api.example.com' is not one of this "
          "certificate's domains"]),
    # ---- challenge shape
    Case("http01-webroot-and-standalone",
         {A: cert(challenge='type = "http-01"\nwebroot = "/srv"\nstandalone = true')},
         [f"{A}: certificate[0].challenge: http-01 needs exactly one of webroot"]),
    Case("http01-bad-listen",
         {A: cert(challenge='type = "http-01"\nstandalone = true\nlisten = "0.0.0.0"')},
         [f"{A}: certificate[0].challenge: listen '0.0.0.0': expected ADDR:PORT"]),
    Case("unknown-challenge-type", {A: cert(challenge='type = "tls-alpn-01"')},
         [f"{A}: certificate[0].challenge.type: input should be 'http-01' or 'dns-01'"]),
    Case("dns01-missing-provider", {A: cert(challenge='type = "dns-01"')},
         [f"{A}: certificate[0].challenge: dns-01 needs provider = \"NAME\""]),
    Case("dns01-unknown-provider", {A: cert(challenge='type = "dns-01"\nprovider = "cf"')},
         [f"{A}: certificate[0].challenge.provider: unknown provider 'cf': declare "
          f"[providers.cf] in {C} (known: bind)"]),
    # ---- CAs and providers in certplan.toml
    Case("unknown-ca-in-spec", {A: cert('ca = "buypass"')},
         [f"{A}: certificate[0].ca: unknown CA 'buypass' (known: google, google-staging, "
          "internal, letsencrypt"]),
    Case("unknown-ca-in-defaults", {C: config_with('ca = "letsencrypt"', 'ca = "lets"')},
         [f"{C}: defaults.ca: unknown CA 'lets'"]),
    Case("ca-without-directory", {C: CONFIG + '\n[ca.custom]\nca_bundle = "/x.pem"\n'},
         [f"{C}: ca.custom.directory: field required (not a preset CA name)"]),
    Case("ca-directory-not-url", {C: config_with('"https://acme.internal.example/directory"',
                                                 '"acme.internal.example/directory"')},
         [f"{C}: ca.internal.directory: 'acme.internal.example/directory' is not an http(s) URL"]),
    Case("ca-directory-with-login", {C: config_with(
        '"https://acme.internal.example/directory"',
        '"https://admin:hunter2@acme.internal.example/directory"')},
         [f"{C}: ca.internal.directory: a directory URL carries no user or password (ACME "
          "authenticates with the account key; EAB with eab_kid and eab_hmac_key)"]),
    Case("literal-tsig-secret", {C: config_with('{ env = "TSIG_SECRET" }', '"abc"')},
         [f"{C}: providers.bind.tsig_secret: " + 'secrets are never literals: write '
          '{ env = "VAR" } or { file = "/path" } instead']),
    Case("literal-eab-hmac-key",
         {C: CONFIG + '\n[ca.zerossl]\neab_kid = "kid"\neab_hmac_key = "x"\n'},
         [f"{C}: ca.zerossl.eab_hmac_key: "
          + 'secrets are never literals: write { env = "VAR" }']),
    Case("secret-env-and-file",
         {C: config_with('{ env = "TSIG_SECRET" }', '{ env = "A", file = "/b" }')},
         [f'{C}: providers.bind.tsig_secret: give exactly one of env = "VAR" or file']),
    Case("eab-kid-alone", {C: CONFIG + '\n[ca.zerossl]\neab_kid = "kid"\n'},
         [f"{C}: ca.zerossl: eab_kid and eab_hmac_key go together"]),
    Case("provider-without-type", {C: config_with('type = "rfc2136"\n', "")},
         [f"{C}: providers.bind.type: field required"]),
    Case("unknown-provider-type", {C: config_with('type = "rfc2136"', 'type = "route53"')},
         [f"{C}: providers.bind.type: unknown DNS provider 'route53' (known: aliyun, "
          "cloudflare, exec, lexicon, rfc2136)"]),
    Case("provider-field-wrong-type", {C: config_with("tsig_name", "ttl = 'x'\ntsig_name")},
         [f"{C}: providers.bind.ttl: input should be a valid integer"]),
    Case("bad-dns-resolver", {C: CONFIG + '\n[dns]\nresolvers = ["dns.google"]\n'},
         [f"{C}: dns.resolvers: 'dns.google': a resolver must be an IP address"]),
    Case("bad-dns-resolver-port", {C: CONFIG + '\n[dns]\nresolvers = ["127.0.0.1:99999"]\n'},
         [f"{C}: dns.resolvers: '127.0.0.1:99999': port must be a number from 1 to 65535"]),
    # ---- across files
    Case("duplicate-name-across-files", {"specs/b.toml": cert(domains='["b.example.com"]')},
         [f"specs/b.toml: certificate[0].name: 'www' is already declared in {A}"]),
    Case("duplicate-name-in-one-file", {A: cert() + cert(domains='["b.example.com"]')},
         [f"{A}: certificate[1].name: 'www' is already declared in {A}"]),
    Case("same-install-file-twice",
         {A: cert(install='key_file = "/etc/ssl/k.pem"'),
          "specs/b.toml": cert(name="b", domains='["b.example.com"]',
                               install='bundle_file = "/etc/ssl/k.pem"')},
         ["specs/b.toml: certificate[0].install[0].bundle_file: /etc/ssl/k.pem is also "
          f"written by {A}: certificate[0].install[0].key_file (www)"]),
    # ---- install paths (issue 9, cases 3 and 4)
    Case("same-install-file-other-spelling",
         {A: cert(install='key_file = "/etc/ssl/k.pem"'),
          "specs/b.toml": cert(name="b", domains='["b.example.com"]',
                               install='cert_file = "/etc/ssl/./x/../k.pem"')},
         ["specs/b.toml: certificate[0].install[0].cert_file: /etc/ssl/k.pem is also "
          f"written by {A}: certificate[0].install[0].key_file (www)"]),
    Case("two-kinds-one-file-other-spelling",
         {A: cert(install='key_file = "/etc/ssl/k.pem"\ncert_file = "//etc/ssl/k.pem"')},
         [f"{A}: certificate[0].install[0].cert_file: /etc/ssl/k.pem is also written by "
          f"{A}: certificate[0].install[0].key_file (www)"]),
    Case("install-path-is-a-folder", {A: cert(install='cert_file = "/etc/ssl/"')},
         [f"{A}: certificate[0].install[0]: cert_file = '/etc/ssl/' names a folder"]),
    Case("install-into-state", {A: cert(install='key_file = "state/api-backup.key"')},
         [f"{A}: certificate[0].install[0].key_file: "]),
    Case("key-mode-shared", {A: cert(install='key_file = "/etc/ssl/k.pem"\nkey_mode = "0640"')},
         [f'{A}: certificate[0].install[0].key_mode: "0640" lets group read the private key; '
          "if that is intended, set allow_shared_key = true"]),

    # ---- state
    Case("corrupt-state-json", {"state/www.json": '{"name": "www",'},
         ["state/www.json: not valid JSON: "]),
    Case("state-wrong-fields", {"state/www.json": json.dumps(
        {k: v for k, v in GOOD_STATE.items() if k != "ca_directory"} | {"colour": 1})},
         ["state/www.json: ca_directory: field required",
          "state/www.json: colour: extra inputs are not permitted"]),
    Case("state-from-newer-certplan", {"state/www.json": json.dumps(
        GOOD_STATE | {"format_version": 2})},
         ["state/www.json: format_version: written by a newer certplan (format 2; "
          "this certplan reads format 1 and older): upgrade certplan"]),
    Case("state-name-mismatch", {"state/www.json": json.dumps(GOOD_STATE | {"name": "api"})},
         ["state/www.json: name: 'api' does not match the file name"]),
    Case("state-meta-corrupt", {"state/_state.json": "[1, 2"}, ["state/_state.json: not valid"]),
    Case("state-folder-is-a-file", {"state": "not a folder\n"},
         ["state: cannot read the state folder: Not a directory"]),
]


def make_case(root: Path, case: Case) -> Path:
    write_project(root, {"a.toml": cert()})
    for rel, content in case.files.items():
        path = root / rel
        if path.is_dir():
            shutil.rmtree(path)  # deleted, or replaced by a file
        if content is None:
            path.unlink(missing_ok=True)
        elif rel.endswith("/"):  # a folder where a file belongs
            path.mkdir(parents=True)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def problem_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.startswith("  ")]


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)


def test_base_project_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(make_case(tmp_path, Case("ok", {}, [])))
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 1 certificate(s)")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(make_case(tmp_path, case))
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: ")
    lines = problem_lines(result.output)
    for expected in case.expect:
        assert any(line.startswith(expected) for line in lines), (expected, lines)


def test_many_problems_in_many_files_in_one_run(tmp_path: Path) -> None:
    """Through the real console script: every problem of every file, one run."""
    root = make_case(tmp_path, Case("many", {
        C: config_with('{ env = "TSIG_SECRET" }', '"abc"'),
        A: cert('key = "ec-521"', domains='["www.*.example.com"]'),
        "specs/b.toml": cert("colour = 1", name="b", domains='["b.example.com"]',
                             challenge='type = "dns-01"'),
        "specs/c.toml": "[[certificate]\n",
        "state/old.json": "{",
    }, []))
    proc = subprocess.run([str(Path(sys.executable).parent / "certplan"), "validate"],
                          cwd=root, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = problem_lines(proc.stderr)
    expected = [
        f"{C}: providers.bind.tsig_secret: secrets are never literals",
        f"{A}: certificate[0].domains: 'www.*.example.com': a wildcard",
        f"{A}: certificate[0].key: input should be",
        "specs/b.toml: certificate[0].colour: unknown key",
        "specs/b.toml: certificate[0].challenge: dns-01 needs provider",
        "specs/c.toml: invalid TOML",
        "state/old.json: not valid JSON",
    ]
    for e in expected:
        assert any(line.startswith(e) for line in lines), (e, lines)
    assert proc.stderr.startswith(f"Error: {len(lines)} problems found:")
