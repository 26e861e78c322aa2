"""`certplan schedule`: the systemd units or the cron entry that run `apply` on the host.

What is written names everything absolutely: the certplan program that is running
(a venv's or pipx's `bin/certplan`), the project folder (`-C`), and a PATH that holds
/usr/sbin (cron's own PATH is /usr/bin:/bin, where `nginx -t` exits 127). The minute
(cron) and the calendar offset derive from the project folder, so that writing again
gives the same bytes (`--write` is idempotent) and hosts do not all start at :00.

Files are written only where `--root` (default /) says, and removed only when they
carry the marker line certplan writes: a file someone else wrote is never touched.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from certplan.model.errors import CertplanError
from certplan.store.atomic import atomic_write
from certplan.store.safefs import make_dirs

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MARKER = "# Written by `certplan schedule`; `certplan schedule --remove` takes it away."
SYSTEMD_DIR = "etc/systemd/system"
CRON_DIR = "etc/cron.d"
_EVERY = re.compile(r"^(\d+)(m|min|h|d)$")
_AWKWARD = re.compile(r"[\s\"'%\\\x00-\x1f\x7f]")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Every:
    """An interval that divides an hour (minutes) or a day (hours): 15m, 1h, 6h, 1d."""

    minutes: int

    @classmethod
    def parse(cls, text: str) -> Every:
        found = _EVERY.match(text.strip().lower())
        if not found:
            raise CertplanError(f"--every {text!r}: expected minutes or hours like 30m, 1h, "
                                f"6h or 1d")
        count, unit = int(found.group(1)), found.group(2)
        minutes = count * {"m": 1, "min": 1, "h": 60, "d": 1440}[unit]
        divides_hour = 5 <= minutes < 60 and 60 % minutes == 0
        divides_day = minutes >= 60 and minutes % 60 == 0 and 1440 % minutes == 0
        if not (divides_hour or divides_day):
            raise CertplanError(f"--every {text!r}: choose an interval that divides an hour "
                                f"(5m, 10m, 15m, 20m, 30m) or a day (1h, 2h, 3h, 4h, 6h, 8h, "
                                f"12h, 1d)")
        return cls(minutes)

    def label(self) -> str:
        if self.minutes < 60:
            return f"every {self.minutes} minutes"
        hours = self.minutes // 60
        return "hourly" if hours == 1 else "daily" if hours == 24 else f"every {hours} hours"


@dataclass(frozen=True)
class Job:
    """One project's scheduled `apply`."""

    program: tuple[str, ...]  # the running certplan: its absolute path (or python -m certplan)
    project: Path  # absolute
    every: Every
    name: str = "certplan"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise CertplanError(f"--name {self.name!r}: use lower-case letters, digits, '-' "
                                f"and '_' (a unit file name)")
        for what, path in (("certplan program", Path(self.program[0])),
                           ("project folder", self.project)):
            if not path.is_absolute():
                raise CertplanError(f"the {what} must be an absolute path: {path}")
            if _AWKWARD.search(str(path)):
                # systemd and cron give these characters meanings of their own
                raise CertplanError(f"the {what} {str(path)!r} holds a space, quote, '%', "
                                    f"'\\' or control character, which unit files and "
                                    f"crontabs do not take as written: use a path without")

    def command(self) -> list[str]:
        return [*self.program, "-C", str(self.project), "apply", "--auto-approve",
                "--lock-timeout", "900"]

    def _offset(self, modulo: int) -> int:
        digest = hashlib.sha256(str(self.project).encode()).digest()
        return int.from_bytes(digest[:4], "big") % modulo

    # -- systemd ------------------------------------------------------------------------

    def service(self) -> str:
        argv = " ".join(self.command())
        return (f"{MARKER}\n[Unit]\nDescription=certplan apply in {self.project}\n"
                f"Wants=network-online.target\nAfter=network-online.target\n\n"
                f"[Service]\nType=oneshot\nWorkingDirectory={self.project}"
                f"\nEnvironment=PATH={PATH}\n"
                f"# secrets referenced as {{ env = \"...\" }} in certplan.toml, one VAR=value "
                f"a line\nEnvironmentFile=-/etc/certplan/{self.name}.env\n"
                f"ExecStart={argv}\n")

    def timer(self) -> str:
        delay = min(self.every.minutes, 60)
        return (f"{MARKER}\n[Unit]\nDescription=Run {self.name}.service "
                f"{self.every.label()}\n\n[Timer]\nOnCalendar={self.on_calendar()}\n"
                f"RandomizedDelaySec={delay}min\nPersistent=true\n\n"
                f"[Install]\nWantedBy=timers.target\n")

    def on_calendar(self) -> str:
        m = self.every.minutes
        if m < 60:
            return f"*-*-* *:{self._offset(m):02d}/{m}:00"
        hours = m // 60
        if hours == 1:
            return f"*-*-* *:{self._offset(60):02d}:00"
        return f"*-*-* {self._offset(hours):02d}/{hours}:{self._offset(60):02d}:00"

    # -- cron ---------------------------------------------------------------------------

    def cron_schedule(self) -> str:
        m = self.every.minutes
        if m < 60:
            first = self._offset(m)
            return f"{','.join(str(x) for x in range(first, 60, m))} * * * *"
        hours = m // 60
        hour = "*" if hours == 1 else \
            ",".join(str(h) for h in range(self._offset(hours), 24, hours))
        return f"{self._offset(60)} {hour} * * *"

    def cron_command(self) -> str:
        """What cron hands to `sh -c`: PATH set, then certplan with --quiet (cron mails
        what a job prints: nothing unless something failed)."""
        return f"PATH={PATH} " + " ".join(shlex.quote(a) for a in self.command()) + " --quiet"

    def crontab_line(self) -> str:
        """For `crontab -e` (no user field)."""
        return f"{self.cron_schedule()} {self.cron_command()}"

    def cron_file(self) -> str:
        """For /etc/cron.d (a user field: root)."""
        return f"{MARKER}\n{self.cron_schedule()} root {self.cron_command()}\n"

    # -- files --------------------------------------------------------------------------

    def files(self, kind: str, root: Path) -> dict[Path, str]:
        if kind == "systemd":
            base = root / SYSTEMD_DIR
            return {base / f"{self.name}.service": self.service(),
                    base / f"{self.name}.timer": self.timer()}
        return {root / CRON_DIR / self.name: self.cron_file()}


def write_files(files: dict[Path, str]) -> list[tuple[Path, str]]:
    """Write each file (0644) unless it already holds these bytes; refuse to replace a
    file certplan did not write. Returns (path, "written" | "unchanged")."""
    done = []
    for path in files:
        _check_ours(path)
    for path, text in files.items():
        if path.is_file() and not path.is_symlink() and path.read_bytes() == text.encode():
            done.append((path, "unchanged"))
            continue
        make_dirs(path.parent, 0o755)
        atomic_write(path, text.encode("utf-8"), 0o644)
        done.append((path, "written"))
    return done


def remove_files(files: dict[Path, str]) -> list[tuple[Path, str]]:
    """Remove each file certplan wrote; (path, "removed" | "absent")."""
    for path in files:
        _check_ours(path)
    done = []
    for path in files:
        if path.is_file():
            path.unlink()
            done.append((path, "removed"))
        else:
            done.append((path, "absent"))
    return done


def _check_ours(path: Path) -> None:
    if path.is_symlink():
        raise CertplanError(f"{path} is a symbolic link; certplan does not follow links it "
                            f"did not create: nothing changed")
    if path.exists():
        if not path.is_file():
            raise CertplanError(f"{path} is not a regular file: nothing changed")
        with path.open("rb") as handle:
            head = handle.read(len(MARKER.encode()) + 1)
        if not head.startswith(MARKER.encode()):
            raise CertplanError(f"{path} was not written by `certplan schedule` (its first "
                                f"line is not certplan's marker): nothing changed")


def running_program(argv0: str, executable: str) -> tuple[str, ...]:
    """The certplan that is running, absolute: its script (a venv's, pipx's or
    /usr/local/bin's `certplan`, a link kept as a link so that an upgrade behind it is
    picked up), or this interpreter with `-m certplan` when run that way."""
    import os

    if Path(argv0).name == "certplan":
        return (os.path.abspath(argv0),)
    return (os.path.abspath(executable), "-m", "certplan")


def systemctl(job: Job, remove: bool) -> list[str]:
    """Tell systemd (on this host, as root): reload units, and enable and start the
    timer, or stop and disable it. Returns what was run; nothing without systemctl."""
    import shutil
    import subprocess

    program = shutil.which("systemctl")
    if program is None:
        return []
    steps = [["daemon-reload"]] if remove else \
        [["daemon-reload"], ["enable", "--now", f"{job.name}.timer"]]
    ran = []
    for step in steps:
        try:
            result = subprocess.run([program, *step], capture_output=True, text=True,
                                    timeout=60, check=False)
        except subprocess.TimeoutExpired:
            raise CertplanError(f"systemctl {' '.join(step)} did not finish within 60 s; "
                                f"the unit files are written, check `systemctl status "
                                f"{job.name}.timer`") from None
        ran.append(f"systemctl {' '.join(step)}")
        if result.returncode != 0:
            raise CertplanError(f"systemctl {' '.join(step)} failed (exit "
                                f"{result.returncode}): {result.stderr.strip()}")
    return ran


def stop_timer(job: Job) -> None:
    """Before its files go: stop and disable the timer (no error if it is unknown)."""
    import shutil
    import subprocess

    program = shutil.which("systemctl")
    if program is not None:
        try:
            subprocess.run([program, "disable", "--now", f"{job.name}.timer"],
                           capture_output=True, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            raise CertplanError(f"systemctl disable --now {job.name}.timer did not finish "
                                f"within 60 s; nothing was removed") from None
