"""Alerts without a network: the [notify] table, the events of an apply, the run
history, and the daily "expires soon and renewal keeps failing" reminder (an
injected clock, no sleeping)."""

from __future__ import annotations

import os
import stat
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certplan.core.plan import Action, Plan
from certplan.engine.apply import Outcome
from certplan.load import load_project
from certplan.model.errors import InputError
from certplan.model.notify import CommandTarget, EmailTarget, WebhookTarget
from certplan.model.records import CertFacts, CertRecord
from certplan.ops.afterapply import ApplyRun, record_run
from certplan.ops.notify.dispatch import dispatch, scrub
from certplan.ops.notify.events import expiring_events, outcome_events, summary
from certplan.store.runlog import RunLog, RunLogError, load_runlog, save_runlog
from tests.unit.test_project import write_project

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)

NOTIFY = """
[notify]
remind_days = 10

[[notify.target]]
type = "webhook"
url = { env = "HOOK_URL" }
events = ["failed", "expiring"]

[[notify.target]]
type = "command"
command = ["/usr/local/bin/page", "--team", "ops"]
timeout = 5

[[notify.target]]
type = "email"
host = "smtp.example.com"
from = "certplan@example.com"
to = ["ops@example.com"]
user = { env = "SMTP_USER" }
password = { file = "/etc/certplan/smtp.pass" }

[[notify.target]]
type = "apprise"
urls = [{ env = "APPRISE_URL" }]
"""


def config_with(tmp_path: Path, notify: str) -> Path:
    base = "[defaults]\nemail = \"ops@example.com\"\nagree_tos = true\n"
    return write_project(tmp_path, specs={}, config=base + textwrap.dedent(notify))


def test_the_notify_table_parses_every_target_type(tmp_path: Path) -> None:
    notify = load_project(config_with(tmp_path, NOTIFY)).config.notify
    assert notify.remind_days == 10
    hook, command, email, apprise = notify.target
    assert isinstance(hook, WebhookTarget) and hook.url.env == "HOOK_URL"
    assert hook.events == ["failed", "expiring"] and hook.retries == 2
    assert isinstance(command, CommandTarget) and command.command[0] == "/usr/local/bin/page"
    assert isinstance(email, EmailTarget) and email.sender == "certplan@example.com"
    assert email.port == 587 and email.starttls and email.password is not None
    assert apprise.type == "apprise"


@pytest.mark.parametrize(("table", "said"), [
    ('[[notify.target]]\ntype = "webhook"\nurl = "https://hooks.example/T0K3N"\n',
     "notify.target[0].webhook.url: secrets are never literals"),
    ('[[notify.target]]\ntype = "pager"\n', "notify.target[0]"),
    ('[[notify.target]]\ntype = "command"\ncommand = []\n', "notify.target[0].command.command"),
    ('[[notify.target]]\ntype = "webhook"\nurl = { env = "X" }\nevents = ["boom"]\n',
     "notify.target[0].webhook.events[0]"),
    ('[notify]\nremind_days = 0\n', "notify.remind_days"),
    ('[notify]\nsurprise = 1\n', "notify.surprise"),
    ('[[notify.target]]\ntype = "email"\nhost = "h"\nfrom = "a@b.c"\nto = ["nobody"]\n',
     "notify.target[0].email.to"),
    ('[[notify.target]]\ntype = "email"\nhost = "h"\nfrom = "a@b.c"\nto = ["x@y.z"]\n'
     'starttls = false\nuser = { env = "U" }\npassword = { env = "P" }\n',
     "notify.target[0].email: user and password would cross the network in clear text"),
    ('[[notify.target]]\ntype = "email"\nhost = "h"\nfrom = "a@b.c"\nto = ["x@y.z"]\n'
     'user = { env = "U" }\n', "notify.target[0].email: user and password go together"),
])
def test_a_bad_notify_table_names_its_field(tmp_path: Path, table: str, said: str) -> None:
    with pytest.raises(InputError) as caught:
        load_project(config_with(tmp_path, table))
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "certplan.toml" in text and said in text, text
    assert "T0K3N" not in text


def cert_record(name: str, not_after: datetime) -> CertRecord:
    facts = CertFacts(serial="0a1b", not_before=not_after - 90 * DAY, not_after=not_after,
                      issuer="CN=Test CA", fingerprint_sha256="ab" * 32, chain_pem="PEM",
                      issued_at=not_after - 90 * DAY)
    return CertRecord(name=name, domains=[f"{name}.example.com"], key_type="ec-256",
                      ca="letsencrypt", ca_directory="https://ca.example/dir",
                      created_at=NOW - 100 * DAY, certificate=facts)


def run_of(outcomes: list[Outcome], at: datetime) -> ApplyRun:
    return ApplyRun(Plan(now=at, changes=(), noops=()), outcomes, at, at + timedelta(seconds=3),
                    3.25)


FAIL = Outcome("web", Action.RENEW, False, "CA said no", "serial 0a1b stays installed")


def test_the_reminder_is_sent_at_most_once_a_day_and_again_after_a_day() -> None:
    records = {"web": cert_record("web", NOW + 5 * DAY)}
    runs = RunLog()
    record_run(runs, run_of([FAIL], NOW))
    first = expiring_events(records, runs, 10, NOW)
    assert [e.kind for e in first] == ["expiring"]
    assert first[0].failures == 1 and first[0].expires == NOW + 5 * DAY
    assert "expires in 5 day(s)" in first[0].detail and "keeps failing" in first[0].detail
    runs.cert("web").reminded = NOW  # what after_apply records once it went out
    for later in (NOW + timedelta(hours=1), NOW + timedelta(hours=23, minutes=59)):
        record_run(runs, run_of([FAIL], later))
        assert expiring_events(records, runs, 10, later) == []
    again = expiring_events(records, runs, 10, NOW + DAY)
    assert [e.kind for e in again] == ["expiring"] and again[0].failures == 3


def test_no_reminder_far_from_expiry_or_after_a_success() -> None:
    runs = RunLog()
    record_run(runs, run_of([FAIL], NOW))
    assert expiring_events({"web": cert_record("web", NOW + 11 * DAY)}, runs, 10, NOW) == []
    record_run(runs, run_of([Outcome("web", Action.RENEW, True, "serial 0c")], NOW))
    assert runs.certs["web"].consecutive_failures == 0
    assert expiring_events({"web": cert_record("web", NOW + 5 * DAY)}, runs, 10, NOW) == []


def test_the_run_history_counts_failures_in_a_row_and_the_apply() -> None:
    runs = RunLog()
    ok = Outcome("api", Action.ISSUE, True, "serial 01")
    record_run(runs, run_of([FAIL, ok], NOW))
    record_run(runs, run_of([FAIL], NOW + DAY))
    assert runs.certs["web"].consecutive_failures == 2
    assert runs.certs["web"].last_failure == NOW + DAY + timedelta(seconds=3)
    assert runs.certs["api"].last_success == NOW + timedelta(seconds=3)
    assert runs.last_apply is not None and runs.last_apply.counts == {"renew/failed": 1}
    assert not runs.last_apply.ok and runs.last_good_apply is None
    record_run(runs, run_of([Outcome("api", Action.REMOVE, True, "gone")], NOW + 2 * DAY))
    assert "api" not in runs.certs and runs.last_good_apply is not None


def test_the_run_history_round_trips_and_is_private(tmp_path: Path) -> None:
    keystore = tmp_path / ".certplan"
    keystore.mkdir(mode=0o700)
    runs = RunLog()
    record_run(runs, run_of([FAIL], NOW))
    runs.cert("web").reminded = NOW
    save_runlog(keystore, runs)
    path = keystore / "runs.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = load_runlog(keystore)
    assert again.certs == runs.certs and again.last_apply == runs.last_apply
    path.write_text("{not json")
    with pytest.raises(RunLogError, match="runs.json: not a valid record"):
        load_runlog(keystore)


def test_a_link_in_place_of_the_run_history_is_refused(tmp_path: Path) -> None:
    keystore = tmp_path / ".certplan"
    keystore.mkdir(mode=0o700)
    (tmp_path / "elsewhere.json").write_text("{}")
    (keystore / "runs.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(RunLogError, match="runs.json"):
        load_runlog(keystore)
    with pytest.raises(RunLogError):
        save_runlog(keystore, RunLog())
    assert (tmp_path / "elsewhere.json").read_text() == "{}"


def test_outcomes_become_events_and_one_summary() -> None:
    outcomes = [Outcome("a", Action.ISSUE, True, "serial 01, expires 2027-02-25"),
                Outcome("b", Action.RENEW, True, "serial 02"),
                Outcome("c", Action.INSTALL, True, "reinstalled 1 target(s)"),
                FAIL, Outcome("rl", Action.RENEW, False, "CA pebble rate limited", "kept")]
    until = NOW + timedelta(hours=1)
    events = outcome_events(outcomes, lambda name: until if name == "rl" else None)
    assert [e.kind for e in events] == ["issued", "renewed", "installed", "failed",
                                        "rate_limited"]
    doc = summary(events, "host1", "/srv/ops", NOW)
    assert doc["counts"]["failed"] == 1 and doc["counts"]["issued"] == 1
    assert doc["text"].splitlines()[0] == ("certplan on host1: 1 issued, 1 renewed, "
                                           "1 installed, 1 failed, 1 rate limited")
    failed = doc["events"][3]
    assert failed == {"event": "failed", "certificate": "web", "action": "renew",
                      "detail": "CA said no", "left": "serial 0a1b stays installed"}
    assert doc["events"][4]["retry_after"] == "2026-11-27T04:00:00Z"
    assert doc["time"] == "2026-11-27T03:00:00Z"


def test_a_target_gets_only_the_events_it_asked_for_and_a_failure_is_logged(
        tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    script = tmp_path / "take.sh"
    script.write_text(f"#!/bin/sh\ncat > {out}\n")
    script.chmod(0o755)
    notify = load_project(config_with(tmp_path / "p", f"""
        [[notify.target]]
        type = "command"
        command = ["{script}"]
        events = ["issued"]
        [[notify.target]]
        type = "command"
        command = ["/nonexistent/notifier"]
    """)).config.notify
    lines: list[str] = []
    events = outcome_events([FAIL, Outcome("a", Action.ISSUE, True, "serial 01")],
                            lambda name: None)
    delivered = dispatch(notify, events, "h", "/p", NOW, lines.append, sleep=lambda s: None)
    assert delivered == {"issued"}
    assert '"event": "issued"' in out.read_text() and "CA said no" not in out.read_text()
    assert lines == ["Warning: notify.target[1] (command): not sent: cannot run "
                     "/nonexistent/notifier: No such file or directory"]


def test_scrub_hides_every_secret_value() -> None:
    assert scrub("POST https://h/T0K3N failed: T0K3N", ["T0K3N"]) == \
        "POST https://h/[secret] failed: [secret]"


def test_the_webhook_text_cannot_mention_a_channel_or_hide_a_link() -> None:
    from certplan.ops.notify.senders import slack_safe

    bad = Outcome("web", Action.RENEW, False, "CA said <!channel> <https://evil|click> & go")
    doc = summary(outcome_events([bad], lambda name: None), "h", "/p", NOW)
    safe = slack_safe(doc)
    assert "<" not in safe["text"] and ">" not in safe["text"]
    assert "&lt;!channel&gt; &lt;https://evil|click&gt; &amp; go" in safe["text"]
    assert safe["events"] == doc["events"]  # the structured fields keep the words as said


def test_a_certificate_another_runner_had_is_neither_a_success_nor_an_event() -> None:
    busy = Outcome("web", Action.RENEW, True, "skipped: web is locked by runner b")
    runs = RunLog()
    record_run(runs, run_of([busy], NOW))
    assert "web" not in runs.certs
    assert runs.last_apply is not None and runs.last_apply.counts == {"renew/skipped": 1}
    assert outcome_events([busy], lambda name: None) == []
