"""A certplan project on disk wired to a real Pebble and nginx, driven through the CLI
as a separate process (as cron would run it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers.nginx import NginxServer
from tests.servers.pebble import PebbleServer
from tests.servers.project_config import pebble_config

REPO = Path(__file__).resolve().parents[2]


def spec_toml(name: str, domains: list[str], webroot: Path, nginx: NginxServer | None,
              check: str | None = None, extra: str = "", reload: str | None = None,
              verify: bool = True) -> str:
    lines = [
        "[[certificate]]", f'name = "{name}"', f"domains = {json.dumps(domains)}", extra,
        "[certificate.challenge]", 'type = "http-01"', f'webroot = "{webroot}"',
    ]
    if nginx is not None:
        lines += [
            "[[certificate.install]]",
            f'key_file = "{nginx.key_path}"',
            f'fullchain_file = "{nginx.cert_path}"',
            f'check = "{check or nginx.check_command}"',
            f'reload = "{reload or nginx.reload_command}"',
        ]
        if verify:
            lines.append(f'verify = "127.0.0.1:{nginx.https_port}"')
    return "\n".join(lines) + "\n"


@dataclass
class CertplanProject:
    root: Path
    pebble: PebbleServer
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def write_config(self, directory: str | None = None, extra: str = "") -> None:
        directory = directory or self.pebble.directory_url
        resolvers = [f"127.0.0.1:{self.pebble.dns_port}"] if self.pebble.dns_port else None
        (self.root / "certplan.toml").write_text(pebble_config(
            directory, self.pebble.ca_bundle, self.pebble.http_port, resolvers=resolvers,
            extra=extra))
        (self.root / "specs").mkdir(exist_ok=True)

    def write_spec(self, filename: str, text: str) -> None:
        (self.root / "specs" / filename).write_text(text)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "certplan", "-C", str(self.root), *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), text=True, capture_output=True,
                              cwd=REPO, env=self.env, timeout=timeout, stdin=subprocess.DEVNULL)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), text=True, cwd=REPO, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)

    def apply(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("apply", "--auto-approve", *args)

    def state(self, name: str) -> dict[str, Any]:
        return json.loads((self.root / "state" / f"{name}.json").read_text())

    def state_bytes(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted((self.root / "state").glob("*.json"))}

    def plan_json(self, *args: str) -> dict[str, Any]:
        res = self.run("plan", "--format", "json", "--no-refresh", *args)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)
