"""`certplan init`: a ready GitOps repository that `certplan validate` accepts."""

from __future__ import annotations

from pathlib import Path

from certplan.model.errors import CertplanError
from certplan.store.atomic import atomic_write
from certplan.store.safefs import make_dirs

CONFIG = '''\
# certplan.toml: defaults, CAs, DNS providers. Commit it; it holds no secrets
# (secret fields take { env = "VAR" } or { file = "/path" }).

[defaults]
ca = "letsencrypt-staging"   # switch to "letsencrypt" once the staging run works
email = "ops@example.com"
key = "ec-256"
agree_tos = true             # you agree to the CA's terms of service

# [ca.internal]
# directory = "https://acme.internal.example/directory"
# ca_bundle = "/etc/ssl/internal-root.pem"

# [providers.ali]
# type = "aliyun"
# access_key_id = { env = "Ali_Key" }
# access_key_secret = { env = "Ali_Secret" }

[paths]
specs = "specs"
state = "state"
keystore = ".certplan"       # private keys: never commit it
'''

EXAMPLE = '''\
# One [[certificate]] per desired certificate. `certplan plan` shows what changes.
[[certificate]]
name = "www"
domains = ["example.com", "www.example.com"]

[certificate.challenge]
type = "http-01"
webroot = "/var/www/html"

[[certificate.install]]
key_file = "/etc/ssl/private/www.key"
fullchain_file = "/etc/ssl/certs/www.fullchain.pem"
check = "nginx -t"
reload = "nginx -s reload"
'''

GITIGNORE = '''\
# private keys and account keys live here: never commit them
.certplan/
state/.certplan.lock
*.plan.json
'''


def init_project(folder: Path) -> list[Path]:
    """Create the files; refuse to overwrite any that exist. Returns what was written."""
    files = {
        folder / "certplan.toml": CONFIG,
        folder / "specs" / "example.toml": EXAMPLE,
        folder / ".gitignore": GITIGNORE,
        folder / "state" / ".gitkeep": "",
    }
    existing = [p for p in files if p.exists()]
    if existing:
        raise CertplanError("refusing to overwrite: " + ", ".join(str(p) for p in existing))
    for path, text in files.items():
        make_dirs(path.parent, 0o755)  # explicit mode, whatever the umask
        atomic_write(path, text.encode("utf-8"), 0o644)
    return list(files)
