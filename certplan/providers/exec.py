"""exec: runs the operator's program for any DNS not covered (lego's "exec" style).

    [providers.mydns]
    type = "exec"
    command = ["/usr/local/bin/dns-hook", "--zone-file", "/etc/zones"]
    timeout = 60

certplan runs `command + ["present", FQDN, VALUE]` to add a record and
`command + ["cleanup", FQDN, VALUE]` to remove it. FQDN ends with a dot
(`_acme-challenge.example.com.`), as lego passes it. A non-zero exit or a
timeout is an error that quotes the end of the program's output.
"""

from __future__ import annotations

import shlex
from typing import ClassVar

from pydantic import Field, field_validator

from certplan.providers.base import Provider, ProviderConfig

OUTPUT_TAIL = 2000


class ExecConfig(ProviderConfig):
    command: list[str]
    timeout: float = Field(default=60.0, gt=0, le=3600)
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("command", mode="before", json_schema_input_type=str | list[str])
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            value = shlex.split(value)
        if isinstance(value, list) and not value:
            raise ValueError("command must name a program")
        return value


class ExecProvider(Provider):
    name: ClassVar[str] = "exec"
    config_model: ClassVar[type[ProviderConfig]] = ExecConfig
    config: ExecConfig

    def add_txt(self, fqdn: str, value: str) -> None:
        self._run("present", fqdn, value)

    def delete_txt(self, fqdn: str, value: str) -> None:
        self._run("cleanup", fqdn, value)

    def _run(self, action: str, fqdn: str, value: str) -> None:
        import os
        import subprocess

        argv = [*self.config.command, action, fqdn.rstrip(".") + ".", value]
        env = {**os.environ, **self.config.env}
        program = self.config.command[0]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=self.config.timeout,
                                  env=env, check=False)
        except FileNotFoundError:
            raise self.error(f"{action}: program not found: {program}") from None
        except PermissionError:
            raise self.error(f"{action}: program not executable: {program}") from None
        except subprocess.TimeoutExpired as exc:
            raise self.error(f"{action} {fqdn}: {program} did not finish within "
                             f"{self.config.timeout:g}s{_tail(exc.stdout)}") from None
        if done.returncode != 0:
            raise self.error(f"{action} {fqdn}: {program} exited with code "
                             f"{done.returncode}{_tail(done.stdout)}")


def _tail(output: bytes | str | None) -> str:
    if not output:
        return ""
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    text = text.strip()
    if len(text) > OUTPUT_TAIL:
        text = "..." + text[-OUTPUT_TAIL:]
    return "; output:\n" + text if text else ""
