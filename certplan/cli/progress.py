"""What `apply` shows while it runs, and the summary after it.

The engine reports each step as a line "NAME: step" (and, for `-v`, each request to
the CA or a DNS server the same way). Here those lines become:

- on a terminal (`--log-format text`, stderr a tty): one live line per certificate
  (rich), rewritten as its steps go, with the time it has taken so far;
- otherwise: one line per step, "2026-11-27T08:41:03Z NAME: step" (RFC 3339, UTC), so
  that runs appended to one log file can be told apart;
- `--log-format json`: one JSON object per line (time, certificate, level, message),
  and one per certificate at the end (its result), for log collectors;
- `--quiet`: nothing; only failures, in the summary (cron mails what is printed).

Every line is shown with its control characters made visible (core.escape.plain):
names and CA answers come from git and from the network.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, TextIO

from certplan.core.escape import plain
from certplan.model.timefmt import iso_z

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live

    from certplan.engine.apply import Outcome

Mode = Literal["live", "text", "json", "quiet"]
LOG_FORMATS = ("text", "json")
CELL = 60  # characters of a detail shown in the summary table


def choose_mode(log_format: str, quiet: bool, stream: TextIO) -> Mode:
    if quiet:
        return "quiet"
    if log_format == "json":
        return "json"
    isatty = getattr(stream, "isatty", None)
    return "live" if isatty is not None and isatty() else "text"


@dataclass
class _Row:
    step: str = "waiting"
    started: float | None = None
    done: bool = False


@dataclass
class Progress:
    """The `log` and `trace` callbacks of one apply run (thread-safe)."""

    names: list[str]
    mode: Mode
    verbose: bool = False
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _rows: dict[str, _Row] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _live: Live | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._rows = {name: _Row() for name in self.names}
        # longest first: "web-2: ..." belongs to web-2, not to web
        self._by_length = sorted(self.names, key=len, reverse=True)

    # -- the callbacks ----------------------------------------------------------------

    def log(self, line: str) -> None:
        self._show(line, "info")

    def trace(self, line: str) -> None:
        if self.verbose:
            self._show(line, "debug")

    # -- the live display -------------------------------------------------------------

    def __enter__(self) -> Progress:
        if self.mode == "live":
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, highlight=False)
            # get_renderable: each refresh draws the rows anew (the seconds go on)
            self._live = Live(console=console, refresh_per_second=8, transient=False,
                              get_renderable=self._render)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            with self._lock:
                for row in self._rows.values():
                    row.done = True
            self._live.refresh()
            self._live.stop()
            self._live = None

    def _render(self) -> RenderableType:
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 2))
        for _ in range(3):
            grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, overflow="ellipsis")  # one screen line per certificate
        now = time.monotonic()
        for name, row in self._rows.items():
            took = "" if row.started is None else f"{now - row.started:5.1f}s"
            mark = "·" if row.done or row.started is None else "…"
            grid.add_row(Text(plain(name), style="bold"), Text(took), Text(mark),
                         Text(plain(row.step)))
        return grid

    # -- one line ---------------------------------------------------------------------

    def _split(self, line: str) -> tuple[str | None, str]:
        for name in self._by_length:
            if line.startswith(name + ": "):
                return name, line[len(name) + 2:]
        return None, line

    def _show(self, line: str, level: str) -> None:
        if self.mode == "quiet":
            return
        name, message = self._split(line)
        with self._lock:
            if self.mode == "json":
                self._write(json.dumps({"time": self._stamp(), "level": level,
                                        "certificate": name, "message": message}))
            elif self.mode == "text":
                self._write(f"{self._stamp()} {plain(line)}")
            elif self._live is not None:
                self._live_line(name, message, level)

    def _live_line(self, name: str | None, message: str, level: str) -> None:
        assert self._live is not None
        row = self._rows.get(name) if name is not None else None
        if row is None or level == "debug":  # above the live lines, once
            from rich.text import Text

            self._live.console.print(Text(plain(f"{name}: {message}" if name else message)))
            if row is None:
                return
        if level == "info":
            if row.started is None:
                row.started = time.monotonic()
            row.step = message
        self._live.refresh()

    def _stamp(self) -> str:
        return iso_z(self.clock().astimezone(UTC).replace(microsecond=0))

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    # -- the end ----------------------------------------------------------------------

    def results(self, outcomes: Iterable[Outcome]) -> None:
        """`--log-format json`: one object per certificate with its result."""
        if self.mode != "json":
            return
        for o in outcomes:
            self._write(json.dumps({"time": self._stamp(), "level": "info" if o.ok
                                    else "error", "certificate": o.name, "event": "result",
                                    "action": o.action.value, "ok": o.ok, "detail": o.detail,
                                    "left": o.left}))


def short(detail: str, width: int = CELL) -> str:
    """A table cell: the first line of `detail`, cut at `width` characters."""
    first = detail.splitlines()[0] if detail else ""
    return first if len(first) <= width else first[:width - 1].rstrip() + "…"


def summary(outcomes: list[Outcome], quiet: bool, echo: Callable[[str], None]) -> bool:
    """Print what happened (with `quiet`, only the failures); True when one failed.
    A failure is printed once, in full, below the table; its cell holds a short reason."""
    from dataclasses import replace

    from tabulate import tabulate

    # details quote state (from git): control characters are shown, never sent
    outcomes = [replace(o, name=plain(o.name), detail=plain(o.detail, newlines=True),
                        left=plain(o.left)) for o in outcomes]
    failed = [o for o in outcomes if not o.ok]
    if quiet and not failed:
        return False
    if not quiet:
        # what was done is the result itself (deleted and kept files ...): in full
        rows = [[o.name, o.action.value, _result(o),
                 o.detail.splitlines()[0] if o.ok and o.detail
                 else short(o.detail, CELL - 12) + " (see below)"]
                for o in outcomes]
        echo("")
        echo(tabulate(rows, headers=["certificate", "action", "result", "detail"]))
    for o in failed:
        echo(f"\n{o.name} ({o.action.value}) failed: {o.detail}")
        if o.left:
            echo(f"  left as it was: {o.left}")
    skipped = sum(_result(o) == "skipped" for o in outcomes)
    echo(f"\nApply: {len(outcomes) - len(failed) - skipped} done, {len(failed)} failed."
         + (f" {skipped} skipped (another runner)." if skipped else ""))
    return bool(failed)


def _result(o: Outcome) -> str:
    """A certificate another runner holds (shared state backend) is skipped, not failed."""
    return "FAILED" if not o.ok else "skipped" if o.detail.startswith("skipped: ") else "ok"
