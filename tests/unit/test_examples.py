"""examples/: each file parses, and every certplan command it runs is one the real CLI
accepts (parsed by the typer app's own click commands: name, options, arguments); the
host units are what `certplan schedule` writes."""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from typer._click.exceptions import UsageError  # typer vendors click

from certplan.cli import app
from certplan.ops.schedule import Every, Job

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHELL_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "2>&1", "&"}


def certplan_commands(script: str) -> list[list[str]]:
    """The argument lists of every `certplan ...` (or `/path/certplan ...`) in a shell
    script, up to the first shell operator."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        if line.lstrip().startswith("#"):
            continue
        line = re.sub(r"\d*>&\d*|\d+>", " > ", line)  # redirections of a descriptor
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
        lexer.whitespace_split = True
        try:
            words = list(lexer)
        except ValueError:
            continue
        for i, word in enumerate(words):
            if word.rsplit("/", 1)[-1] == "certplan" and (i == 0 or words[i - 1] in
                                                          SHELL_OPERATORS | {"then", "do"}
                                                          or "=" in words[i - 1]):
                args = []
                for arg in words[i + 1:]:
                    if arg in SHELL_OPERATORS or arg.startswith(("2>", ">")):
                        break
                    args.append(arg)
                found.append(args)
    return found


def check_cli(args: list[str]) -> str:
    """Parse `certplan ARGS` with the real CLI, without running it; the subcommand name."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    ctx = group.make_context("certplan", list(args), resilient_parsing=False)
    rest = [*ctx._protected_args, *ctx.args]
    assert rest, f"no command in certplan {args}"
    name, *sub_args = rest
    command = group.get_command(ctx, name)
    assert command is not None, f"certplan has no command {name!r}: {args}"
    command.make_context(name, sub_args, parent=ctx)  # raises on an unknown option
    return name


def scripts(node: Any) -> Iterator[str]:
    """Every `run:` and `script:` text of a CI file (GitHub `run`, GitLab `script` items)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("run", "script", "before_script", "after_script"):
                yield from ([value] if isinstance(value, str) else
                            [v for v in value if isinstance(v, str)])
            else:
                yield from scripts(value)
    elif isinstance(node, list):
        for item in node:
            yield from scripts(item)


def test_the_command_parser_catches_a_bad_command() -> None:
    assert check_cli(["-C", "/srv", "plan", "--offline", "--format", "markdown"]) == "plan"
    with pytest.raises(UsageError):
        check_cli(["plan", "--no-such-option"])
    with pytest.raises(AssertionError):
        check_cli(["planet"])
    assert certplan_commands("set +e\ncertplan plan --format json > p.json; certplan list\n"
                             "PATH=/x /usr/bin/certplan -C /d apply -q 2>&1 | tee\n") == [
        ["plan", "--format", "json"], ["list"], ["-C", "/d", "apply", "-q"]]


def test_github_workflow() -> None:
    doc = yaml.safe_load((EXAMPLES / "github" / "certplan-plan.yml").read_text())
    assert "pull_request" in doc[True]  # YAML 1.1 reads the key `on` as true
    assert doc["permissions"]["pull-requests"] == "write"
    steps = doc["jobs"]["plan"]["steps"]
    runs = [c for s in scripts(doc) for c in certplan_commands(s)]
    assert [check_cli(c) for c in runs] == ["validate", "plan"]
    assert runs[1] == ["plan", "--offline", "--format", "markdown", "--detailed-exitcode"]
    comment = next(s for s in steps if s.get("uses", "").startswith("actions/github-script"))
    assert "updateComment" in comment["with"]["script"]


def test_gitlab_pipeline_and_note_script() -> None:
    doc = yaml.safe_load((EXAMPLES / "gitlab" / ".gitlab-ci.yml").read_text())
    job = doc["certplan-plan"]
    assert job["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    runs = [c for s in scripts(doc) for c in certplan_commands(s)]
    assert [check_cli(c) for c in runs] == ["validate", "plan"]
    assert "--offline" in runs[1] and "--detailed-exitcode" in runs[1]
    assert any("mr_note.py plan.md" in s for s in job["script"])
    note = EXAMPLES / "gitlab" / "mr_note.py"
    compile(note.read_text(), str(note), "exec")
    assert "PUT" in note.read_text() and "POST" in note.read_text()


def test_host_units_are_what_schedule_writes() -> None:
    job = Job(("/usr/local/bin/certplan",), Path("/srv/ops-certs"), Every.parse("1h"))
    host = EXAMPLES / "host"
    assert (host / "certplan.service").read_text() == job.service()
    assert (host / "certplan.timer").read_text() == job.timer()
    assert (host / "cron.d-certplan").read_text() == job.cron_file()
    for name in ("certplan.service", "certplan.timer", "commit-state.conf"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read_string((host / name).read_text())
    cron_command = job.cron_file().splitlines()[1].split(" ", 6)[6]
    execs = [line.split("=", 1)[1] for line in (host / "certplan.service").read_text()
             .splitlines() if line.startswith("ExecStart=")]
    for text in (cron_command, *execs):
        [args] = certplan_commands(text)
        assert check_cli(args) == "apply"


def test_commit_script_is_valid_shell_running_valid_commands() -> None:
    script = EXAMPLES / "host" / "apply-and-commit.sh"
    assert script.stat().st_mode & 0o111
    res = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    runs = certplan_commands(script.read_text())
    assert [check_cli(c) for c in runs] == ["apply"]
    assert "state/" in script.read_text()
