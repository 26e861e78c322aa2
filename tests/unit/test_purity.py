"""The pure core imports no network, process or CLI library, and plan/policy read no clock."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import certplan

CORE = ["plan", "policy", "spec", "state", "render", "domains", "errors"]
FORBIDDEN = ["acme", "josepy", "dns", "requests", "subprocess", "typer"]
PACKAGE = Path(certplan.__file__).parent

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("module", CORE)
def test_core_imports_nothing_heavy(module: str) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, f"certplan.{module}"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    loaded = json.loads(out)
    assert f"certplan.{module}" in loaded
    bad = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert bad == [], f"certplan.{module} pulls in {bad}"


CLOCK_ATTRS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "time_ns"}
IO_NAMES = {"open", "print", "input"}


def clock_and_io_uses(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in CLOCK_ATTRS:
                found.append(f"line {node.lineno}: .{func.attr}()")
            if isinstance(func, ast.Name) and func.id in IO_NAMES | CLOCK_ATTRS:
                found.append(f"line {node.lineno}: {func.id}()")
            if isinstance(func, ast.Attribute) and func.attr in {"read_text", "read_bytes",
                                                                  "write_text", "write_bytes"}:
                found.append(f"line {node.lineno}: .{func.attr}()")
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any(n.split(".")[0] in {"time", "os", "pathlib"} for n in names):
                found.append(f"line {node.lineno}: imports {names}")
    return found


@pytest.mark.parametrize("module", ["plan", "policy"])
def test_no_clock_no_io(module: str) -> None:
    source = (PACKAGE / f"{module}.py").read_text()
    assert clock_and_io_uses(source) == []


def test_the_static_check_catches_a_clock() -> None:
    assert clock_and_io_uses("from datetime import datetime\nx = datetime.now()\n")
    assert clock_and_io_uses("import time\nx = time.time()\n")
    assert clock_and_io_uses("x = open('f')\n")
