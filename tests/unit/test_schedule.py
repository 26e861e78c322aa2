"""`certplan schedule`: the units and cron entry it prints and writes (the CLI as its own
process, from another folder with -C), checked by systemd-analyze where installed."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from certplan.model.errors import CertplanError
from certplan.ops.schedule import PATH, Every, Job, running_program

REPO = Path(__file__).resolve().parents[2]


def certplan(*args: str, cwd: Path = Path("/")) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "certplan", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=60)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    res = certplan("init", str(tmp_path / "ops"))
    assert res.returncode == 0, res.stderr
    return tmp_path / "ops"


def test_every_takes_intervals_that_divide_an_hour_or_a_day() -> None:
    assert [Every.parse(t).minutes for t in ("15m", "30min", "1h", "6h", "1d")] == \
        [15, 30, 60, 360, 1440]
    for bad in ("7m", "5h", "2d", "hourly", "0m", "90m"):
        with pytest.raises(CertplanError, match="--every"):
            Every.parse(bad)


def test_the_running_certplan_is_named_absolutely() -> None:
    assert running_program("bin/certplan", "/usr/bin/python3") == \
        (os.path.abspath("bin/certplan"),)
    assert running_program("/x/certplan/__main__.py", "/venv/bin/python3") == \
        ("/venv/bin/python3", "-m", "certplan")


def test_paths_systemd_and_cron_would_misread_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CertplanError, match="space, quote"):
        Job(("/usr/bin/certplan",), tmp_path / "my certs", Every.parse("1h"))
    with pytest.raises(CertplanError, match="absolute"):
        Job(("certplan",), tmp_path, Every.parse("1h"))


def test_systemd_units_printed_from_another_folder(project: Path) -> None:
    res = certplan("-C", str(project), "schedule", "--systemd", "--every", "6h")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert f"ExecStart={sys.executable} -m certplan -C {project} apply --auto-approve" in out
    assert f"WorkingDirectory={project}\n" in out
    assert f"Environment=PATH={PATH}\n" in out and ":/usr/sbin:" in PATH
    assert "RandomizedDelaySec=60min" in out and "Persistent=true" in out
    assert "OnCalendar=*-*-* " in out and "/6:" in out
    assert not (project / "etc").exists()  # printing writes nothing


def verify_units(service: Path, timer: Path) -> None:
    """systemd-analyze verify where installed; else the files parse as INI with the
    settings systemd needs (this machine has it: /usr/bin/systemd-analyze)."""
    tool = shutil.which("systemd-analyze")
    if tool is not None:
        res = subprocess.run([tool, "verify", str(service), str(timer)], capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        assert res.stderr == "", res.stderr
        return
    for path, needed in ((service, ("Service", "ExecStart")), (timer, ("Timer", "OnCalendar"))):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read_string(path.read_text())
        assert parser.get(*needed)


def test_write_is_idempotent_verified_and_remove_takes_it_away(project: Path,
                                                               tmp_path: Path) -> None:
    root = tmp_path / "root"
    args = ("-C", str(project), "schedule", "--systemd", "--root", str(root))
    first = certplan(*args, "--write")
    assert first.returncode == 0, first.stderr
    units = root / "etc/systemd/system"
    service, timer = units / "certplan.service", units / "certplan.timer"
    assert f"written {service}" in first.stdout and f"written {timer}" in first.stdout
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (service, timer)}
    assert oct(service.stat().st_mode & 0o777) == "0o644"
    verify_units(service, timer)
    again = certplan(*args, "--write")
    assert again.returncode == 0 and again.stdout.count("unchanged ") == 2, again.stdout
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (service, timer)} == before
    gone = certplan(*args, "--remove")
    assert gone.returncode == 0, gone.stderr
    assert not service.exists() and not timer.exists()
    assert certplan(*args, "--remove").stdout.count("absent ") == 2


def test_a_file_certplan_did_not_write_is_never_replaced_or_removed(project: Path,
                                                                    tmp_path: Path) -> None:
    root = tmp_path / "root"
    cron = root / "etc/cron.d"
    cron.mkdir(parents=True)
    (cron / "certplan").write_text("0 * * * * root /usr/local/bin/something-else\n")
    for action in ("--write", "--remove"):
        res = certplan("-C", str(project), "schedule", "--cron", "--root", str(root), action)
        assert res.returncode == 1
        assert "was not written by `certplan schedule`" in res.stderr
        assert "Traceback" not in res.stderr
    assert (cron / "certplan").read_text().endswith("something-else\n")
    (cron / "certplan").unlink()
    (cron / "certplan").symlink_to(tmp_path / "elsewhere")
    res = certplan("-C", str(project), "schedule", "--cron", "--root", str(root), "--write")
    assert res.returncode == 1 and "symbolic link" in res.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_cron_file_and_line(project: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    res = certplan("-C", str(project), "schedule", "--cron", "--every", "30m", "--root",
                   str(root), "--write", "--name", "ops-certs")
    assert res.returncode == 0, res.stderr
    lines = (root / "etc/cron.d/ops-certs").read_text().splitlines()
    assert lines[0].startswith("# Written by `certplan schedule`")
    fields = lines[1].split(" ", 6)
    minutes = [int(m) for m in fields[0].split(",")]
    assert len(minutes) == 2 and minutes[1] - minutes[0] == 30
    assert fields[1:6] == ["*", "*", "*", "*", "root"]
    assert fields[6] == (f"PATH={PATH} {sys.executable} -m certplan -C {project} apply "
                         f"--auto-approve --lock-timeout 900 --quiet")
    printed = certplan("-C", str(project), "schedule", "--cron", "--every", "30m")
    assert fields[0] + " * * * * " + fields[6] in printed.stdout


def test_usage_errors_are_one_line(project: Path) -> None:
    for args, said in ((("--systemd", "--cron"), "choose one: --systemd or --cron"),
                       ((), "choose one: --systemd or --cron"),
                       (("--cron", "--write", "--remove"), "choose one: --write or --remove"),
                       (("--cron", "--every", "7m"), "--every '7m'"),
                       (("--cron", "--name", "../x"), "--name '../x'")):
        res = certplan("-C", str(project), "schedule", *args)
        assert res.returncode == 1 and said in res.stderr, (args, res.stderr)
        assert "Traceback" not in res.stderr


def test_every_command_works_from_any_folder_with_C(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = certplan("-C", str(project), "validate", cwd=elsewhere)
    assert res.returncode == 0 and "1 certificate(s)" in res.stdout, res.stderr
    res = certplan("-C", str(project), "list", "--format", "json", cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    res = certplan("-C", str(project), "plan", "--no-refresh", cwd=elsewhere)
    assert res.returncode == 0 and "www" in res.stdout, res.stderr
    res = certplan("-C", str(tmp_path / "missing"), "validate", cwd=elsewhere)
    assert res.returncode == 1 and "no such folder" in res.stderr
    assert not list(elsewhere.iterdir())  # nothing written where it was run from


def test_a_damaged_file_of_ours_is_rewritten_not_a_traceback(project: Path,
                                                             tmp_path: Path) -> None:
    from certplan.ops.schedule import MARKER

    root = tmp_path / "root"
    cron = root / "etc/cron.d"
    cron.mkdir(parents=True)
    (cron / "certplan").write_bytes(MARKER.encode() + b"\n\xff\xfe half written")
    res = certplan("-C", str(project), "schedule", "--cron", "--root", str(root), "--write")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert (cron / "certplan").read_text().startswith(MARKER)
    assert b"\xff" not in (cron / "certplan").read_bytes()
