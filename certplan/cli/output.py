"""How much `apply` says, and how: `--log-format`, `-v/--verbose`, `-q/--quiet`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated

import typer

from certplan.cli.common import fail
from certplan.cli.progress import LOG_FORMATS, Progress, choose_mode

LogFormatOpt = Annotated[str, typer.Option(
    "--log-format", help="Progress lines: text (live on a terminal, else one timestamped "
    "line per step) or json (one object per line).")]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Also show each request to the CA (method, URL, status, problem "
    "type) and each DNS query.")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="Print only failures (cron mails what a job prints).")]


@dataclass(frozen=True)
class Output:
    log_format: str
    verbose: bool
    quiet: bool

    @classmethod
    def of(cls, log_format: str, verbose: bool, quiet: bool) -> Output:
        if log_format not in LOG_FORMATS:
            fail(f"--log-format {log_format!r}: choose {' or '.join(LOG_FORMATS)}")
        if verbose and quiet:
            fail("--verbose and --quiet contradict each other: choose one")
        return cls(log_format, verbose, quiet)

    def progress(self, names: list[str]) -> Progress:
        mode = choose_mode(self.log_format, self.quiet, sys.stderr)
        return Progress(names, mode, verbose=self.verbose, stream=sys.stderr)
