"""The cron entry `certplan schedule --cron` prints, run the way cron runs it: `sh -c` with
cron's own environment (PATH=/usr/bin:/bin, nothing else), on the project `certplan init`
writes (its `nginx -t` check and `nginx -s reload`, pointed at a real nginx and Pebble).
Without the PATH the entry sets, `nginx` (in /usr/sbin) is not found."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.apply_project import REPO, CertplanProject
from tests.servers.nginx import NginxServer
from tests.servers.pebble import PebbleServer, start_pebble

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    server = start_pebble(tmp_path_factory.mktemp("pebble"))
    yield server
    server.stop()


def init_project(root: Path, pebble: PebbleServer, site: NginxServer) -> None:
    """`certplan init`, then its template pointed at Pebble and the test nginx; the
    commands stay `nginx ...` as the template has them, found through PATH."""
    res = subprocess.run([sys.executable, "-m", "certplan", "init", str(root)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    config = root / "certplan.toml"
    text = config.read_text()
    assert 'ca = "letsencrypt-staging"' in text
    config.write_text(text.replace('ca = "letsencrypt-staging"', 'ca = "pebble"') + (
        f'\n[ca.pebble]\ndirectory = "{pebble.directory_url}"\n'
        f'ca_bundle = "{pebble.ca_bundle}"\n\n[http01]\nport = {pebble.http_port}\n\n'
        f'[dns]\nresolvers = ["127.0.0.1:{pebble.dns_port}"]\n'))
    spec = root / "specs" / "example.toml"
    text = spec.read_text()
    nginx = f"nginx -p {site.prefix} -c {site.conf}"
    for old, new in (('["example.com", "www.example.com"]', '["cron.example.test"]'),
                     ('"/var/www/html"', f'"{site.webroot}"'),
                     ('"/etc/ssl/private/www.key"', f'"{site.key_path}"'),
                     ('"/etc/ssl/certs/www.fullchain.pem"', f'"{site.cert_path}"'),
                     ('"nginx -t"', f'"{nginx} -t"'),
                     ('"nginx -s reload"', f'"{nginx} -s reload"')):
        assert old in text, old
        text = text.replace(old, new)
    spec.write_text(text)


def cron_run(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["env", "-i", "PATH=/usr/bin:/bin", "sh", "-c", command],
                          capture_output=True, text=True, timeout=180, cwd="/")


def test_the_cron_entry_runs_apply_with_the_init_template(
        tmp_path: Path, pebble: PebbleServer, site: NginxServer) -> None:
    root = tmp_path / "ops"
    init_project(root, pebble, site)
    # the certplan a cron job runs: this checkout, started by an absolute path
    program = tmp_path / "bin" / "certplan"
    program.parent.mkdir()
    program.write_text(f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m certplan "$@"\n')
    program.chmod(0o755)
    res = subprocess.run([sys.executable, "-m", "certplan", "-C", str(root), "schedule",
                          "--cron", "--program", str(program)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    entry = next(line for line in res.stdout.splitlines() if not line.startswith("#"))
    schedule_fields = entry.split(" ", 5)
    command = schedule_fields[5]
    assert command.startswith("PATH=") and "/usr/sbin" in command.split(" ", 1)[0]
    assert f" -C {root} apply --auto-approve" in command

    # without the PATH the entry sets: cron's PATH, where nginx is not found
    bare = cron_run(command.split(" ", 1)[1])
    assert bare.returncode == 1, bare.stdout + bare.stderr
    assert "install[0] failed" in bare.stdout
    assert "127" in bare.stdout or "not found" in bare.stdout
    state = CertplanProject(root, pebble)
    assert state.state("www")["installs"][0]["status"] == "failed"

    # the entry as printed: installs, checks with nginx -t, reloads; --quiet: silent
    ran = cron_run(command)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", ""), ran.stdout + ran.stderr
    record = state.state("www")
    serial = record["certificate"]["serial"]
    assert record["installs"][0]["status"] == "installed"
    assert record["installs"][0]["serial"] == serial
    # a reload swaps nginx's workers asynchronously: old ones may still answer a while
    deadline, in_a_row = time.monotonic() + 10, 0
    while in_a_row < 5 and time.monotonic() < deadline:
        in_a_row = in_a_row + 1 if site.served_serial("cron.example.test") == serial else 0
        time.sleep(0.05)
    assert in_a_row == 5, f"nginx does not serve serial {serial}"
