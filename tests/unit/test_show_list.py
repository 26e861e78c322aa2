"""`list` and `show` through the CLI: they agree with `plan` on the next renewal
(ARI windows from the cache included), write RFC 3339 times in JSON, and escape
what state and CAs supply as plan output does."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from certplan.load import load_project
from certplan.model.presets import PRESETS
from certplan.model.records import Revocation
from certplan.observe.ari_cache import CACHE_FILE
from tests.unit.stateutil import save_record, state_of
from tests.unit.test_cli_core import AT, NOW, run, settled

ARI_ID = "aGVsbG8.AQID"
ESC = "\x1b[2J\x1b]8;;http://evil/\x07"


def with_cached_ari(root: Path) -> None:
    """www carries an ARI ID, and the keystore's cache holds a fresh window for it
    (good until 2100): neither plan nor list asks the CA."""
    project = load_project(root)
    rec = state_of(project).records["www"]
    assert rec.certificate is not None
    save_record(project, rec.model_copy(update={
        "certificate": rec.certificate.model_copy(update={"ari_id": ARI_ID})}))
    keystore = root / ".certplan"
    keystore.mkdir(mode=0o700)
    entry = {"start": "2026-07-01T00:00:00+00:00", "end": "2026-07-03T00:00:00+00:00",
             "explanation_url": None, "retry_after": 21600,
             "fetched_at": "2026-06-01T00:00:00+00:00", "next_fetch": "2100-01-01T00:00:00+00:00"}
    key = f"{PRESETS['letsencrypt'].directory} {ARI_ID}"
    (keystore / CACHE_FILE).write_text(json.dumps({"entries": {key: entry}}))


def test_list_and_plan_agree_on_the_next_renewal_with_ari_from_the_cache(tmp_path: Path) -> None:
    root = settled(tmp_path)
    with_cached_ari(root)
    plan = json.loads(run(root, "plan", "--format", "json", "--at", AT, "-v").stdout)
    planned = {c["certificate"]: c["renew_at"] for c in plan["unchanged"]}
    listed = json.loads(run(root, "list", "--format", "json", "--at", AT).stdout)
    assert {r["name"]: r["next_renewal"] for r in listed} == planned
    www = next(r for r in listed if r["name"] == "www")
    assert www["renewal_rule"] == "ARI window 2026-07-01 00:00 UTC .. 2026-07-03 00:00 UTC"
    assert "2026-07-01T00:00:00Z" <= www["next_renewal"] <= "2026-07-03T00:00:00Z"
    # the table shows the same moment, in minutes
    table = run(root, "list", "--at", AT).stdout
    assert www["next_renewal"][:16].replace("T", " ") in table
    # --no-refresh: no ARI, the lifetime rule, as `plan --no-refresh` says
    plain = json.loads(run(root, "list", "--format", "json", "--at", AT, "--no-refresh").stdout)
    assert next(r for r in plain if r["name"] == "www")["next_renewal"] == "2026-07-21T00:00:00Z"


def test_list_json_times_are_rfc3339_utc_with_seconds(tmp_path: Path) -> None:
    rows = json.loads(run(settled(tmp_path), "list", "--format", "json", "--at", AT).stdout)
    for row in rows:
        for key in ("created", "issued", "next_renewal", "expires"):
            text = row[key]
            assert text.endswith("Z") and len(text) == len("2026-07-21T00:00:00Z"), (key, text)
            assert datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None


def test_show_is_a_readable_summary(tmp_path: Path) -> None:
    root = settled(tmp_path)
    with_cached_ari(root)
    result = run(root, "show", "www", "--at", AT)
    assert result.exit_code == 0, result.output
    fields = {line.split(":", 1)[0]: line.split(":", 1)[1].strip()
              for line in result.stdout.splitlines() if not line.startswith(" ")}
    assert fields["domains"] == "example.com, www.example.com"
    assert fields["key"] == "ec-256" and fields["serial"] == "0a1b2c"
    assert fields["issuer"] == "CN=Test CA"
    assert fields["valid"] == ("2026-05-22 00:00 UTC .. 2026-08-20 00:00 UTC "
                               "(90.0 days; 80.0 days left)")
    assert fields["next renewal"].endswith(
        "UTC (ARI window 2026-07-01 00:00 UTC .. 2026-07-03 00:00 UTC)")
    assert fields["plan"] == "nothing to do"
    assert fields["install[0]"].startswith("files, installed 2026-06-01 00:00 UTC, serial ")
    assert f"    {root}/out/www.pem  sha256 " in result.stdout
    # the JSON is the state record, as before
    doc = json.loads(run(root, "show", "www", "--format", "json").stdout)
    assert doc["certificate"]["not_after"] == "2026-08-20T00:00:00Z"


def test_show_a_due_and_a_removed_certificate(tmp_path: Path) -> None:
    root = settled(tmp_path)
    (root / "specs" / "api.toml").unlink()
    due = run(root, "show", "www", "--at", "2026-08-01T00:00:00Z", "--no-refresh").stdout
    assert "next renewal: 2026-07-21 00:00 UTC (1/3 of the lifetime left)" in due
    assert "plan:         renew: renewal window opened 2026-07-21 00:00 UTC" in due
    gone = run(root, "show", "api", "--at", AT, "--no-refresh").stdout
    assert "spec:         none: the next apply stops managing it" in gone
    assert "plan:         remove: no spec declares it any more" in gone


def test_list_and_show_escape_state_text(tmp_path: Path) -> None:
    root = settled(tmp_path)
    project = load_project(root)
    rec = state_of(project).records["www"]
    assert rec.certificate is not None
    save_record(project, rec.model_copy(update={
        "certificate": rec.certificate.model_copy(update={"issuer": f"CN=Evil{ESC}"}),
        "revoked": Revocation(revoked_at=NOW, reason=f"x{ESC}", serial="ff")}))
    (root / "specs" / "api.toml").unlink()  # api: state only, its CA shown from state
    api = state_of(project).records["api"]
    save_record(project, api.model_copy(update={"ca": f"internal{ESC}"}))
    for args in (("show", "www"), ("show", "api"), ("list",)):
        out = run(root, *args, "--at", AT, "--no-refresh").stdout
        assert "\x1b" not in out and "\x07" not in out, args
    shown = run(root, "show", "www", "--at", AT, "--no-refresh").stdout
    assert "issuer:       CN=Evil\\x1b[2J\\x1b]8;;http://evil/\\x07" in shown
    listed = run(root, "list", "--at", AT, "--no-refresh").stdout
    assert "internal\\x1b[2J" in listed
    raw = run(root, "list", "--format", "json", "--at", AT, "--no-refresh").stdout
    assert "\x1b" not in raw and json.loads(raw)[0]["ca"] == f"internal{ESC}"
