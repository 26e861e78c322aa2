"""Prometheus metrics: `apply --metrics-file` and `certplan metrics [--out]`, parsed with
prometheus_client's own parser and checked against the state, the plan and the run
history; written atomically (a full disk leaves the previous file whole)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.apply_project import CertplanProject, spec_toml
from tests.servers.disk import fill
from tests.servers.nginx import NginxServer
from tests.servers.pebble import PebbleServer, start_pebble, write_listener_cert

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    server = start_pebble(tmp_path_factory.mktemp("pebble"), validity_seconds=30 * 86400)
    yield server
    server.stop()


def parse(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def cert(samples: Samples, metric: str, name: str) -> float:
    return samples[(f"certplan_certificate_{metric}", (("certificate", name),))]


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def two_certificates(project: CertplanProject, site: NginxServer) -> None:
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    project.write_spec("api.toml", spec_toml("api", ["api.example.test"], site.webroot, None))


def test_apply_writes_metrics_that_match_state_plan_and_history(
        project: CertplanProject, site: NginxServer, tmp_path: Path) -> None:
    two_certificates(project, site)
    out = tmp_path / "textfile" / "certplan.prom"
    out.parent.mkdir()
    done = project.apply("--metrics-file", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    samples = parse(out.read_text())
    plan = {c["certificate"]: c for c in project.plan_json()["unchanged"]}
    runs_started = samples[("certplan_apply_last_run_timestamp_seconds", ())]
    for name in ("api", "web"):
        facts = project.state(name)["certificate"]
        assert cert(samples, "not_after_timestamp_seconds", name) == ts(facts["not_after"])
        assert cert(samples, "not_before_timestamp_seconds", name) == ts(facts["not_before"])
        # the plan's own renewal time (1/3 of the lifetime left), to the second it prints
        assert abs(cert(samples, "renewal_timestamp_seconds", name)
                   - ts(plan[name]["renew_at"])) < 1
        assert cert(samples, "consecutive_failures", name) == 0
        assert cert(samples, "last_success_timestamp_seconds", name) >= runs_started
        assert ("certplan_certificate_last_failure_timestamp_seconds",
                (("certificate", name),)) not in samples
    assert samples[("certplan_apply_certificates", (("action", "issue"), ("result", "ok")))] == 2
    assert 0 < samples[("certplan_apply_duration_seconds", ())] < 120
    assert samples[("certplan_apply_last_success_timestamp_seconds", ())] >= runs_started
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in out.parent.iterdir()] == ["certplan.prom"]  # no temp file left

    # `certplan metrics` says the same from state, without applying
    printed = project.run("metrics", "--no-refresh")
    assert printed.returncode == 0, printed.stderr
    assert parse(printed.stdout) == samples

    # an apply with nothing to do still writes them: a new run, no certificate changed
    again = project.apply("--metrics-file", str(out))
    assert again.returncode == 0, again.stderr
    after = parse(out.read_text())
    assert after[("certplan_apply_last_run_timestamp_seconds", ())] > runs_started
    assert not [k for k in after if k[0] == "certplan_apply_certificates"]
    assert cert(after, "not_after_timestamp_seconds", "web") == \
        cert(samples, "not_after_timestamp_seconds", "web")


def test_failures_in_a_row_and_the_last_failure_are_counted(
        project: CertplanProject, site: NginxServer, tmp_path: Path) -> None:
    two_certificates(project, site)
    assert project.apply().returncode == 0
    (tmp_path / "other").mkdir()
    other, _ = write_listener_cert(tmp_path / "other")
    config = project.root / "certplan.toml"
    config.write_text(config.read_text().replace(project.pebble.ca_bundle, str(other)))
    for _ in range(2):
        assert project.apply("--replace", "web").returncode == 1

    out = tmp_path / "certplan.prom"
    written = project.run("metrics", "--no-refresh", "--out", str(out))
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    samples = parse(out.read_text())
    assert cert(samples, "consecutive_failures", "web") == 2
    assert cert(samples, "consecutive_failures", "api") == 0
    assert cert(samples, "last_failure_timestamp_seconds", "web") > \
        cert(samples, "last_success_timestamp_seconds", "web")
    assert samples[("certplan_apply_certificates",
                    (("action", "renew"), ("result", "failed")))] == 1
    # the last good apply is the first one, before both failures
    assert samples[("certplan_apply_last_success_timestamp_seconds", ())] < \
        samples[("certplan_apply_last_run_timestamp_seconds", ())]


def test_metrics_for_a_project_never_applied(project: CertplanProject, site: NginxServer) -> None:
    two_certificates(project, site)
    done = project.run("metrics", "--no-refresh")
    assert done.returncode == 0, done.stderr
    samples = parse(done.stdout)
    assert cert(samples, "consecutive_failures", "web") == 0
    assert not [k for k in samples if "apply" in k[0] or "not_after" in k[0]]


def test_a_metrics_file_that_cannot_be_written_is_one_clear_error(
        project: CertplanProject, site: NginxServer, tmp_path: Path) -> None:
    two_certificates(project, site)
    missing = tmp_path / "nowhere" / "certplan.prom"
    done = project.apply("--metrics-file", str(missing))
    assert done.returncode == 1
    assert f"Error: --metrics-file {missing}: cannot write the metrics: No such file or " \
           f"directory; the previous file is unchanged" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert "Apply: 2 done, 0 failed." in done.stdout  # the apply itself is done and recorded
    assert project.state("web")["certificate"]["serial"]


def test_a_full_disk_leaves_the_previous_metrics_file_whole(
        project: CertplanProject, site: NginxServer, small_disk: Path) -> None:
    two_certificates(project, site)
    out = small_disk / "certplan.prom"
    assert project.apply("--metrics-file", str(out)).returncode == 0
    before = out.read_bytes()
    assert parse(before.decode())
    fill(small_disk)

    done = project.run("metrics", "--no-refresh", "--out", str(out))
    assert done.returncode == 1
    assert f"Error: --out {out}: cannot write the metrics: No space left on device" \
        in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert out.read_bytes() == before
    assert sorted(p.name for p in small_disk.iterdir()) == ["certplan.prom", "filler"]
