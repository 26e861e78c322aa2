"""Issue 9, case 6: `plan` in CI talks only to what certplan.toml names, and shows
what a CA or a file supplied without letting it render or act.

The CI runner plans on files from a pull request: a state record's ca_directory
must not make it send a request anywhere (ARI asks the directory certplan.toml
names for that CA, or nobody); a CA's explanationURL and every recorded string
reach the pull request as text, never as an image, a link, HTML or a terminal
escape. pytest-httpserver plays the hostile CA.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import write_config
from tests.security.attacker import new_project, nginx_spec, write_state
from tests.servers.pebble import PebbleServer, pebble  # noqa: F401

pytestmark = pytest.mark.integration

HOSTILE = "![img](https://evil.test/p.png) <img src=x onerror=alert(1)> [click](https://evil.test)"


@pytest.fixture
def project(tmp_path: Path, pebble: PebbleServer) -> CertplanProject:  # noqa: F811
    p = new_project(tmp_path / "ops", pebble)
    nginx_spec(p, "shop", None, files={"fullchain_file": p.root / "out" / "shop.pem"})
    res = p.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert p.state("shop")["certificate"]["ari_id"]
    return p


def rendered(markdown: str) -> str:
    """What a markdown renderer would interpret: everything outside code spans."""
    return re.sub(r"`[^`]*`", "", markdown)


def assert_inert(markdown: str, text: str) -> None:
    md = rendered(markdown)
    assert "<img" not in md and "![" not in md and "[click]" not in md
    assert "](" not in md.replace("\\](", "")
    for out in (markdown, text):
        assert "\x1b" not in out and "\r" not in out


def test_a_state_ca_directory_is_never_contacted(project: CertplanProject,
                                                 httpserver: HTTPServer) -> None:
    hostile = httpserver.url_for("/dir") + "?" + HOSTILE.replace(" ", "%20") + "\x1b[2J"
    record = project.state("shop")
    record["ca_directory"] = hostile
    write_state(project, "shop", record)

    md = project.run("plan", "--format", "markdown")
    text = project.run("plan")
    doc = json.loads(project.run("plan", "--format", "json").stdout)
    assert md.returncode == text.returncode == 0, md.stderr + text.stderr
    assert httpserver.log == []  # the CI runner sent nothing to the state's URL
    (change,) = doc["changes"]
    assert change["action"] == "issue"  # the CA's directory moved: a new certificate
    assert_inert(md.stdout, text.stdout)
    assert "\\x1b[2J" in text.stdout  # shown, not acted on


def test_a_hostile_explanation_url_reaches_the_pull_request_as_text(
        project: CertplanProject, httpserver: HTTPServer) -> None:
    """The CA certplan.toml names is contacted, but what it says stays text."""
    directory = httpserver.url_for("/dir")
    write_config(project, extra=f'[ca.hostile]\ndirectory = "{directory}"\n')
    nginx_spec(project, "shop", None, extra='ca = ["hostile"]',
               files={"fullchain_file": project.root / "out" / "shop.pem"})
    record = project.state("shop")
    record.update(ca="hostile", ca_directory=directory)
    write_state(project, "shop", record)
    httpserver.expect_request("/dir").respond_with_json(
        {"renewalInfo": httpserver.url_for("/ari")})
    httpserver.expect_request(re.compile("^/ari/.*")).respond_with_json({
        "suggestedWindow": {"start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"},
        "explanationURL": "https://ca.test/why " + HOSTILE + "\x1b]0;pwned\x07"})

    md = project.run("plan", "--format", "markdown")
    text = project.run("plan")
    assert md.returncode == text.returncode == 0, md.stderr + text.stderr
    assert any(req.path.startswith("/ari/") for req, _ in httpserver.log)
    assert "CA explains: `https://ca.test/why`" in md.stdout
    assert "renew" in md.stdout
    assert_inert(md.stdout, text.stdout)
    assert "\x07" not in text.stdout and "\\x1b]0;pwned\\x07" in text.stdout
