"""Issue 10, items 1 and 2: a SIGKILL of a real `certplan apply` at each point of the
install sequence, then the next apply. State may say "installed" only for the
serial nginx serves: after the next apply, the served serial (a TLS handshake to
nginx) is the recorded one, every key file is its certificate's, the renewal is
counted once and no second certificate is ordered.

Kill points (see killpoint.py; each is reached deterministically):
  after-state-write   the new certificate is recorded, nothing installed yet (the
                      check of install[0], a plain files target, holds; nginx is
                      install[1])
  before-reload       nginx's files are new, nginx not reloaded (its check holds:
                      `nginx -t && sleep`, the case of item 2)
  during-verify       nginx reloaded, the verifying handshake is held unanswered
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certplan.model.crypto import load_key, verify_issued
from tests.faults.killpoint import HoldingProxy, KillPoint, kill_when
from tests.integration.apply_project import CertplanProject
from tests.servers.nginx import NginxServer

pytestmark = pytest.mark.integration

NAME = "shop"
SETTLE = 10.0  # seconds
POINTS = ("after-state-write", "before-reload", "during-verify")


@pytest.fixture
def proxy(site: NginxServer) -> Iterator[HoldingProxy]:
    held = HoldingProxy(site.https_port)
    yield held
    held.close()


def spec(site: NginxServer, point: KillPoint, which: str, verify_port: int,
         extra_dir: Path) -> str:
    nginx_check = site.check_command
    if which == "before-reload":
        nginx_check += f" && {point.snippet}"
    lines = ["[[certificate]]", f'name = "{NAME}"', 'domains = ["shop.example.test"]',
             "[certificate.challenge]", 'type = "http-01"', f'webroot = "{site.webroot}"']
    if which == "after-state-write":
        lines += ["[[certificate.install]]", f'key_file = "{extra_dir}/key.pem"',
                  f'fullchain_file = "{extra_dir}/fullchain.pem"',
                  f'check = "{point.snippet}"']
    lines += ["[[certificate.install]]", f'key_file = "{site.key_path}"',
              f'fullchain_file = "{site.cert_path}"', f'check = "{nginx_check}"',
              f'reload = "{site.reload_command}"', f'verify = "127.0.0.1:{verify_port}"',
              "timeout = 20"]
    return "\n".join(lines) + "\n"


def served(site: NginxServer, expected: str) -> str:
    """The serial nginx serves once a reload has settled: old workers finish their
    graceful exit asynchronously and may take a few more handshakes meanwhile."""
    deadline = time.monotonic() + SETTLE
    while (now := site.served_serial()) != expected.lower() and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def assert_pairs_match(*pairs: tuple[Path, Path]) -> None:
    for key, fullchain in pairs:
        verify_issued(fullchain.read_bytes(), load_key(key.read_bytes()), [])


@pytest.mark.parametrize("which", POINTS)
def test_a_kill_while_installing_is_finished_by_the_next_apply(
        which: str, project: CertplanProject, site: NginxServer, proxy: HoldingProxy,
        tmp_path: Path) -> None:
    point = KillPoint(tmp_path / "points", which)
    extra = tmp_path / "extra"
    project.write_spec("shop.toml", spec(site, point, which, proxy.port, extra))
    first = project.apply()
    assert first.returncode == 0, first.stdout + first.stderr
    old = project.state(NAME)["certificate"]["serial"]
    assert served(site, old) == old.lower()

    point.arm()
    proc = project.popen("apply", "--auto-approve", "--replace", NAME)
    try:
        if which == "during-verify":
            proxy.armed = True
            point.arm_file.unlink()
            kill_when(proc, proxy.holding.is_set)
        else:
            kill_when(proc, point.reached)
    finally:
        point.release()

    # the state records the new certificate but no install of it
    killed = project.state(NAME)
    new = killed["certificate"]["serial"]
    assert new != old and killed["pending_order"] is None and killed["renewals"] == 1
    assert {i["serial"] for i in killed["installs"]} == {old}
    if which != "during-verify":  # never reloaded: still the old certificate
        assert site.served_serial() == old.lower()
    plan = project.plan_json()
    (change,) = plan["changes"]
    assert change["action"] == "install"
    reason = f"installed serial {old}, current {new} (check, reload and verify run again)"
    assert all(r.endswith(reason) for r in change["reasons"]), change["reasons"]
    assert len(change["reasons"]) == len(killed["installs"])

    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    done = project.state(NAME)
    assert done["certificate"]["serial"] == new  # finished, not ordered again
    assert done["renewals"] == 1
    assert [(i["status"], i["serial"]) for i in done["installs"]] == \
        [("installed", new)] * len(done["installs"])
    assert served(site, new) == new.lower()
    pairs = [(site.key_path, site.cert_path)]
    if which == "after-state-write":
        pairs.append((extra / "key.pem", extra / "fullchain.pem"))
    assert_pairs_match(*pairs)
    again = project.plan_json()
    assert again["changes"] == []
