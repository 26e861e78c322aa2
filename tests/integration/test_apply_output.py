"""What `apply` prints, against real Pebble and nginx, the CLI as its own process: live
progress on a terminal (a pty), RFC 3339 lines without one, JSON lines, nothing with
--quiet on success, one full failure in the summary, and no secret in -v output."""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.apply_project import REPO, CertplanProject, spec_toml
from tests.servers.nginx import NginxServer, start_nginx
from tests.servers.pebble import PebbleServer, start_pebble

pytestmark = pytest.mark.integration

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")
KID = "kid-output"
HMAC = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    # EAB required: the -v test also proves the HMAC key never shows
    server = start_pebble(tmp_path_factory.mktemp("pebble"), eab={KID: HMAC}, authz_reuse=0)
    yield server
    server.stop()


@pytest.fixture
def project(tmp_path: Path, pebble: PebbleServer) -> CertplanProject:
    p = CertplanProject(tmp_path / "ops", pebble)
    p.root.mkdir()
    p.env["OUTPUT_EAB_HMAC"] = HMAC
    p.write_config(extra="")
    config = p.root / "certplan.toml"
    config.write_text(config.read_text().replace(
        "[ca.pebble]\n",
        f'[ca.pebble]\neab_kid = "{KID}"\neab_hmac_key = {{ env = "OUTPUT_EAB_HMAC" }}\n'))
    return p


def web_spec(p: CertplanProject, site: NginxServer, name: str = "web",
             check: str | None = None) -> None:
    p.write_spec(f"{name}.toml", spec_toml(name, [f"{name}.example.test"], site.webroot, site,
                                           check=check))


def test_terminal_shows_live_lines_that_change_while_a_slow_check_runs(
        project: CertplanProject, site: NginxServer) -> None:
    slow = f"sh -c 'sleep 2.5 && {site.check_command}'"
    web_spec(project, site, check=slow)
    master, slave = os.openpty()
    env = dict(project.env, TERM="xterm-256color", COLUMNS="120", LINES="40")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(project.command("apply", "--auto-approve"), cwd=REPO, env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks: list[tuple[float, bytes]] = []
    start = time.monotonic()
    try:
        while time.monotonic() - start < 90:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child has closed its side
                    break
                if not data:
                    break
                chunks.append((time.monotonic(), data))
            elif proc.poll() is not None:
                break
    finally:
        proc.wait(timeout=30)
        os.close(master)
    assert proc.returncode == 0, b"".join(c for _, c in chunks).decode(errors="replace")
    text = b"".join(c for _, c in chunks).decode(errors="replace")
    plain_text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    # the line of `web` is redrawn in place (cursor up / erase line), not appended
    assert "\x1b[2K" in text or "\x1b[1A" in text
    # while the slow check runs, the same step is shown with a growing time
    installing = [t for t, c in chunks if b"installing install[0]" in c]
    assert installing and installing[-1] - installing[0] >= 1.0, \
        "the installing line was not redrawn while the check ran"
    times = {float(s) for s in re.findall(r"web\s+(\d+\.\d)s\s+\S\s+installing install\[0\]",
                                          plain_text)}
    assert len(times) >= 3, plain_text
    # and the step changed as the work went on
    steps = [s for s in ("ordering", "presenting", "waiting for the CA", "finalizing",
                         "installing install[0]") if s in plain_text]
    assert len(steps) >= 4, plain_text
    assert "Apply: 1 done, 0 failed." in plain_text


def test_without_a_terminal_each_step_is_one_timestamped_line(
        project: CertplanProject, site: NginxServer) -> None:
    web_spec(project, site)
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert lines and all(RFC3339_UTC.match(line) for line in lines), res.stderr
    web_lines = [line for line in lines if line.split(" ", 1)[1].startswith("web: ")]
    assert len(web_lines) >= 6, res.stderr
    assert any("web: ordering web.example.test" in line for line in web_lines)
    assert "\x1b[" not in res.stderr + res.stdout  # no terminal codes in a log file
    # --quiet on a run with nothing to do, and on a run that succeeds: nothing at all
    quiet = project.apply("--quiet")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    quiet = project.apply("--quiet", "--replace", "web")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert project.state("web")["renewals"] == 1


def test_json_log_lines_and_results(project: CertplanProject, site: NginxServer) -> None:
    web_spec(project, site)
    res = project.apply("--log-format", "json")
    assert res.returncode == 0, res.stdout + res.stderr
    events = [json.loads(line) for line in res.stderr.splitlines() if line.strip()]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["time"]) for e in events)
    steps = [e for e in events if e.get("certificate") == "web" and "event" not in e]
    assert any(e["message"].startswith("ordering web.example.test") for e in steps)
    result = [e for e in events if e.get("event") == "result"]
    assert result == [{"time": result[0]["time"], "level": "info", "certificate": "web",
                       "event": "result", "action": "issue", "ok": True,
                       "detail": result[0]["detail"], "left": ""}]
    assert result[0]["detail"].startswith("serial ")


def test_a_failure_is_printed_once_in_full_and_quiet_prints_it(
        project: CertplanProject, site: NginxServer) -> None:
    reason = "the server configuration is broken " + "x" * 300
    said = project.root / "said.txt"  # the command line must not hold the reason itself
    said.write_text(reason + "\n")
    web_spec(project, site, check=f"sh -c 'cat {said} >&2; exit 3'")
    res = project.apply("--quiet")
    assert res.returncode == 1
    assert res.stdout.count(reason) == 1, res.stdout
    assert "web (issue) failed:" in res.stdout
    assert "Apply: 0 done, 1 failed." in res.stdout
    assert "certificate" not in res.stdout.splitlines()[0]  # no table with --quiet
    assert res.stderr == ""
    loud = project.apply()
    assert loud.returncode == 1
    assert loud.stdout.count(reason) == 1, loud.stdout  # not in the table cell too
    row = next(line for line in loud.stdout.splitlines() if line.startswith("web "))
    assert "FAILED" in row and row.rstrip().endswith("(see below)") and len(row) < 120


def test_verbose_shows_ca_requests_and_never_a_secret(
        project: CertplanProject, site: NginxServer) -> None:
    web_spec(project, site)
    res = project.apply("-v")
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout + res.stderr
    requests = re.findall(r"web: ACME (HEAD|GET|POST) (https://\S+) -> (\d{3})", out)
    methods = {m for m, _, _ in requests}
    assert {"POST", "HEAD"} <= methods, out
    assert any(status == "201" for _, _, status in requests)
    # a refused nonce shows its problem type (Pebble rejects some by default)
    assert re.search(r"-> 400 urn:ietf:params:acme:error:badNonce", out) or \
        "badNonce" not in out
    secrets = [HMAC]
    # the http-01 tokens Pebble fetched (nginx's access log), never echoed
    access = (site.prefix / "logs" / "access.log").read_text()
    tokens = re.findall(r"/\.well-known/acme-challenge/([A-Za-z0-9_-]{20,})", access)
    assert tokens
    secrets += tokens
    # key material: every base64 line of every key in the keystore and the installed key
    keys = [*(project.root / ".certplan").rglob("*key*.pem"), site.key_path]
    for path in keys:
        secrets += [line for line in path.read_text().splitlines()
                    if line and not line.startswith("-----")]
    assert len(secrets) > 5
    leaked = [s for s in secrets if s in out]
    assert leaked == []
    assert "PRIVATE KEY" not in out
    both = project.run("apply", "--auto-approve", "-v", "-q")
    assert both.returncode == 1 and "--verbose and --quiet" in both.stderr


@pytest.fixture
def site(pebble: PebbleServer) -> Iterator[NginxServer]:
    workdir = Path(tempfile.mkdtemp(prefix="certplan-site-"))
    server = start_nginx(workdir, http_port=pebble.http_port)
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)
