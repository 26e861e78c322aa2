"""Alerts from a real apply: Pebble issues (7-day certificates), nginx serves; the
summary goes to a pytest-httpserver webhook, a command (JSON on stdin), a real SMTP
server (aiosmtpd, STARTTLS and login) and apprise. A failing or hanging target is
retried a bounded number of times, logged, and never fails the apply; no secret
reaches a payload or the output."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from tests.faults.fake_acme import FakeAcme, write_project
from tests.faults.fake_acme import apply as fake_apply
from tests.integration.apply_project import CertplanProject, spec_toml
from tests.servers.nginx import NginxServer
from tests.servers.pebble import PebbleServer, start_pebble, write_listener_cert
from tests.servers.smtp import SmtpServer, smtp_server

pytestmark = pytest.mark.integration

HOOK_TOKEN = "T0K3N-hook-7f3a9c"  # the secret part of the webhook URL
SMTP_PASSWORD = "pw-5b1e0d-secret"
WEEK = 7 * 86400


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    server = start_pebble(tmp_path_factory.mktemp("pebble"), validity_seconds=WEEK)
    yield server
    server.stop()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path / "smtp", "certplan", SMTP_PASSWORD) as server:
        yield server


def hook(httpserver: HTTPServer, status: int = 200, path: str = f"/hook/{HOOK_TOKEN}") -> str:
    httpserver.expect_request(path, method="POST").respond_with_data("ok", status=status)
    return httpserver.url_for(path)


def posts(httpserver: HTTPServer, path: str) -> list[dict[str, Any]]:
    return [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == path]


def configure(project: CertplanProject, notify: str) -> None:
    project.write_config(extra=notify)


def webhook_table(retries: int = 2, timeout: float = 5, events: str = "") -> str:
    return (f'[[notify.target]]\ntype = "webhook"\nurl = {{ env = "HOOK_URL" }}\n'
            f"retries = {retries}\ntimeout = {timeout}\n{events}\n")


def issue_two(project: CertplanProject, site: NginxServer) -> None:
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    project.write_spec("api.toml", spec_toml("api", ["api.example.test"], site.webroot, None))


def no_secret(*texts: str) -> None:
    for text in texts:
        assert HOOK_TOKEN not in text and SMTP_PASSWORD not in text


def test_one_summary_reaches_every_target(project: CertplanProject, site: NginxServer,
                                          httpserver: HTTPServer, smtp: SmtpServer,
                                          tmp_path: Path) -> None:
    got = tmp_path / "stdin.json"
    taker = tmp_path / "take.py"
    taker.write_text("import sys\nopen(sys.argv[1], 'wb').write(sys.stdin.buffer.read())\n")
    password = tmp_path / "smtp.pass"
    password.write_text(SMTP_PASSWORD + "\n")
    password.chmod(0o600)
    project.env["HOOK_URL"] = hook(httpserver)
    project.env["APPRISE_URL"] = "json://" + httpserver.url_for("/apprise").split("://")[1]
    httpserver.expect_request("/apprise", method="POST").respond_with_data("ok")
    configure(project, webhook_table() + f"""
[[notify.target]]
type = "command"
command = ["{sys.executable}", "{taker}", "{got}"]

[[notify.target]]
type = "email"
host = "127.0.0.1"
port = {smtp.port}
ca_bundle = "{smtp.ca_bundle}"
from = "certplan@example.test"
to = ["ops@example.test", "oncall@example.test"]
user = {{ env = "SMTP_USER" }}
password = {{ file = "{password}" }}

[[notify.target]]
type = "apprise"
urls = [{{ env = "APPRISE_URL" }}]
""")
    project.env["SMTP_USER"] = "certplan"
    issue_two(project, site)

    done = project.apply()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "notify" not in done.stderr, done.stderr  # nothing to warn about

    (payload,) = posts(httpserver, f"/hook/{HOOK_TOKEN}")  # one summary, not one per event
    serials = {n: project.state(n)["certificate"]["serial"] for n in ("api", "web")}
    assert payload["source"] == "certplan"
    assert payload["host"] == socket.gethostname()
    assert payload["project"] == str(project.root.resolve())
    assert payload["time"].endswith("Z") and len(payload["time"]) == 20
    assert payload["counts"] == {"issued": 2, "renewed": 0, "installed": 0, "removed": 0,
                                 "failed": 0, "rate_limited": 0, "expiring": 0}
    assert [(e["event"], e["certificate"], e["action"]) for e in payload["events"]] == [
        ("issued", "api", "issue"), ("issued", "web", "issue")]
    for event in payload["events"]:
        assert set(event) == {"event", "certificate", "action", "detail"}
        assert event["detail"].startswith(f"serial {serials[event['certificate']]}, expires ")
    lines = payload["text"].splitlines()
    assert lines[0] == f"certplan on {socket.gethostname()}: 2 issued"
    assert lines[1].startswith(f"- api issued: serial {serials['api']}")

    assert json.loads(got.read_text()) == payload  # the command got the same JSON on stdin

    assert smtp.logins == [("certplan", True)]
    ((sender, rcpt, mail),) = smtp.messages
    assert sender == "certplan@example.test"
    assert rcpt == ["ops@example.test", "oncall@example.test"]
    assert mail["Subject"] == lines[0] and mail["To"] == "ops@example.test, oncall@example.test"
    text, attached = [part.get_payload(decode=True) for part in mail.walk()
                      if not part.is_multipart()]
    assert text.decode().replace("\r\n", "\n").strip() == payload["text"]
    assert json.loads(attached) == payload

    (note,) = posts(httpserver, "/apprise")
    assert note["title"] == lines[0] and note["message"] == payload["text"]

    no_secret(done.stdout, done.stderr, got.read_text(), mail.as_string(),
              json.dumps(note), (project.root / ".certplan" / "runs.json").read_text())


def test_a_failing_webhook_is_retried_a_bounded_number_of_times_and_logged(
        project: CertplanProject, site: NginxServer, httpserver: HTTPServer) -> None:
    project.env["HOOK_URL"] = hook(httpserver, status=503)
    project.env["HOOK_URL_2"] = hook(httpserver, status=404, path=f"/gone/{HOOK_TOKEN}")
    configure(project, webhook_table(retries=2) + webhook_table(retries=2).replace(
        "HOOK_URL", "HOOK_URL_2"))
    issue_two(project, site)

    done = project.apply()
    assert done.returncode == 0, done.stdout + done.stderr  # the apply itself succeeded
    assert len(posts(httpserver, f"/hook/{HOOK_TOKEN}")) == 3  # 1 + retries
    assert len(posts(httpserver, f"/gone/{HOOK_TOKEN}")) == 1  # a 4xx is not retried
    assert ("Warning: notify.target[0] (webhook): not sent after 3 attempt(s): "
            "HTTP 503 SERVICE UNAVAILABLE") in done.stderr, done.stderr
    assert ("Warning: notify.target[1] (webhook): not sent: HTTP 404 NOT FOUND"
            in done.stderr), done.stderr
    assert "Apply: 2 done, 0 failed." in done.stdout
    no_secret(done.stdout, done.stderr)


def test_a_hanging_webhook_times_out_and_does_not_hold_the_apply(
        project: CertplanProject, site: NginxServer, httpserver: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(2)
        return Response("late")

    path = f"/slow/{HOOK_TOKEN}"
    httpserver.expect_request(path, method="POST").respond_with_handler(slow)
    project.env["HOOK_URL"] = httpserver.url_for(path)
    configure(project, webhook_table(retries=1, timeout=0.5))
    issue_two(project, site)

    start = time.monotonic()
    done = project.apply()
    took = time.monotonic() - start
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("Warning: notify.target[0] (webhook): not sent after 2 attempt(s): no answer in "
            "time") in done.stderr, done.stderr
    assert took < 30
    no_secret(done.stdout, done.stderr)


def test_a_failure_says_what_was_left_and_the_reminder_goes_out_once_a_day(
        project: CertplanProject, site: NginxServer, httpserver: HTTPServer,
        tmp_path: Path) -> None:
    url = hook(httpserver)
    project.env["HOOK_URL"] = url
    configure(project, webhook_table())
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    assert project.apply().returncode == 0
    serial = project.state("web")["certificate"]["serial"]
    # the CA can no longer be trusted (another bundle); the 7-day certificate is within
    # remind_days (14) of expiry
    (tmp_path / "other").mkdir()
    other, _ = write_listener_cert(tmp_path / "other")
    config = project.root / "certplan.toml"
    config.write_text(config.read_text().replace(project.pebble.ca_bundle, str(other)))

    first = project.apply("--replace", "web")
    second = project.apply("--replace", "web")
    assert first.returncode == 1 and second.returncode == 1  # the failure, not the alert
    _, one, two = posts(httpserver, f"/hook/{HOOK_TOKEN}")
    assert [e["event"] for e in one["events"]] == ["failed", "expiring"]
    failed, expiring = one["events"]
    assert failed["certificate"] == "web" and failed["action"] == "renew"
    assert "certificate verify failed" in failed["detail"], failed
    assert failed["left"].startswith(f"serial {serial} stays installed")
    assert expiring["consecutive_failures"] == 1
    assert expiring["expires"] == project.state("web")["certificate"]["not_after"][:19] + "Z"
    assert "keeps failing" in expiring["detail"]
    assert [e["event"] for e in two["events"]] == ["failed"]  # not again within a day
    runs = json.loads((project.root / ".certplan" / "runs.json").read_text())
    assert runs["certificates"]["web"]["consecutive_failures"] == 2
    assert runs["certificates"]["web"]["reminded"] is not None


def test_a_rate_limit_is_its_own_event(httpserver: HTTPServer, tmp_path: Path) -> None:
    ca = FakeAcme(httpserver)
    ca.order = lambda request: ca.problem("rateLimited", "too many new orders", 429,
                                          **{"Retry-After": "3600"})
    root = write_project(tmp_path / "ops", ca.directory_url, ["c00"])
    url = hook(httpserver)
    with (root / "certplan.toml").open("a") as config:
        config.write(f'\n[[notify.target]]\ntype = "webhook"\nurl = {{ file = '
                     f'"{tmp_path / "hook.url"}" }}\n')
    (tmp_path / "hook.url").write_text(url)

    done = fake_apply(root)
    assert done.returncode == 1
    (payload,) = posts(httpserver, f"/hook/{HOOK_TOKEN}")
    (event,) = payload["events"]
    assert event["event"] == "rate_limited" and event["certificate"] == "c00"
    remembered = json.loads(next((root / ".certplan" / "ratelimits").glob("*.json"))
                            .read_text())
    assert event["retry_after"] == remembered["until"][:19] + "Z"
    assert payload["counts"]["rate_limited"] == 1 and payload["counts"]["failed"] == 0
    assert "rate limited" in payload["text"].lower()


def test_an_smtp_server_with_an_untrusted_certificate_gets_nothing(smtp: SmtpServer) -> None:
    from certplan.model.notify import EmailTarget
    from certplan.ops.notify.senders import Permanent, send_email

    target = EmailTarget.model_validate({
        "type": "email", "host": "127.0.0.1", "port": smtp.port, "from": "a@example.test",
        "to": ["b@example.test"], "timeout": 5.0})
    payload = {"text": "certplan on h: 1 failed", "events": []}
    with pytest.raises(Permanent, match="certificate not trusted"):
        send_email(target, payload)
    assert smtp.messages == [] and smtp.logins == []
    trusted = target.model_copy(update={"ca_bundle": str(smtp.ca_bundle)})
    send_email(trusted, payload)  # no login asked for: the server takes the message
    assert len(smtp.messages) == 1
