"""What a hostile pull request or CA does, for the tests of this folder: a project
on a real Pebble with certificates installed into a real nginx, and ways to craft
the files git controls (state records, saved plans)."""

from __future__ import annotations

import hashlib
import json
import ssl
import urllib.request
from pathlib import Path
from typing import Any

from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import make_project
from tests.servers.nginx import NginxServer
from tests.servers.pebble import PebbleServer


def nginx_spec(project: CertplanProject, name: str, nginx: NginxServer | None,
               extra: str = "", files: dict[str, Path] | None = None) -> None:
    """One certificate (built-in http-01 server) installed into nginx (key and full
    chain, checked and reloaded) and/or into plain files (`files`: kind -> path)."""
    lines = ["[[certificate]]", f'name = "{name}"', f'domains = ["{name}.example.test"]',
             extra, "[certificate.challenge]", 'type = "http-01"', "standalone = true",
             f'listen = "127.0.0.1:{project.pebble.http_port}"']
    if nginx is not None:
        lines += ["[[certificate.install]]", f'key_file = "{nginx.key_path}"',
                  f'fullchain_file = "{nginx.cert_path}"', f'check = "{nginx.check_command}"',
                  f'reload = "{nginx.reload_command}"']
    if files:
        lines.append("[[certificate.install]]")
        lines += [f'{kind} = "{path}"' for kind, path in files.items()]
    project.write_spec(f"{name}.toml", "\n".join(lines) + "\n")


def new_project(root: Path, pebble: PebbleServer) -> CertplanProject:
    return make_project(root, pebble)


def state_path(project: CertplanProject, name: str) -> Path:
    return project.root / "state" / f"{name}.json"


def write_state(project: CertplanProject, name: str, doc: dict[str, Any]) -> None:
    """A state record as a pull request adds it: a file in state/."""
    state_path(project, name).write_text(json.dumps(doc, indent=2))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cert_status(pebble: PebbleServer, serial: str) -> str:
    """What Pebble itself says about a serial: "Valid" or "Revoked"."""
    ctx = ssl.create_default_context(cafile=pebble.ca_bundle)
    url = f"{pebble.management_url}/cert-status-by-serial/{serial}"
    with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
        return str(json.load(r)["Status"])
