"""The package's layering, read from the source (AST, not a grep).

Each top-level folder of certplan/ is a layer; a layer may import only the
layers listed for it below (README, Development). The pure core and the model
import no network, process or CLI library and read no clock; the core does no
I/O either. No module grows past 400 lines.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import certplan

PACKAGE = Path(certplan.__file__).parent
MAX_LINES = 400

# layer -> the layers it may import (itself always allowed). "certplan" is the
# package root, which exports the version only.
BELOW_ENGINE = {"model", "core", "load", "store", "ca", "observe", "validators", "providers",
                "installers"}
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "core": {"model"},
    "store": {"model"},
    "ca": {"model"},
    "installers": {"model"},
    "validators": {"model", "ca"},
    "providers": {"model", "validators"},
    # a plug-in declares its own config model: load validates [providers.X] and
    # [[certificate.install]] tables with the registered plug-in's model
    "load": {"model", "providers", "installers"},
    # what is installed now is asked of each target's installer
    "observe": {"model", "ca", "store", "installers"},
    "engine": BELOW_ENGINE,
    "ops": BELOW_ENGINE | {"engine"},
    "cli": BELOW_ENGINE | {"engine", "ops"},
    "__main__": {"cli"},
    "__init__": set(),
}
# single modules a layer may use beyond its table: the files installer writes
# through the same atomic primitive as the state and the keystore, and installers
# and the webroot validator follow the same file-system rules (store.safefs)
EXTRA: dict[str, set[str]] = {"installers": {"certplan.store.atomic", "certplan.store.safefs"},
                              "validators": {"certplan.store.safefs"}}
HEAVY = {"acme", "josepy", "dns", "requests", "subprocess", "socket", "typer"}
# pydantic itself imports socket (through email.utils) when it builds a model with a
# Literal field; the static check below still forbids our own socket imports
HEAVY_AT_RUN_TIME = HEAVY - {"socket"}
PURE_LAYERS = ("core", "model")


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        yield "certplan." + ".".join(rel.parts).removesuffix(".__init__"), path


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def imported(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`, wherever it sits
    (top level, functions, TYPE_CHECKING blocks)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{a.name}") for a in node.names
                      if f"{name}.{a.name}" in ALL_MODULES]
    return found


ALL_MODULES = {m for m, _ in modules()}


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    own = layer_of(module)
    allowed = ALLOWED[own] | {own, "__init__"}
    out = []
    for line, name in imported(source, module, is_package):
        if name.split(".")[0] != "certplan":
            continue
        target = layer_of(name)
        if target not in allowed and name not in EXTRA.get(own, set()):
            out.append(f"{module} line {line}: {own} may not import {name} ({target})")
    return out


def test_every_layer_is_known() -> None:
    unknown = {layer_of(m) for m in ALL_MODULES} - set(ALLOWED)
    assert unknown == set(), f"add these folders to the layering table: {unknown}"


def test_imports_follow_the_layering() -> None:
    found = []
    for module, path in modules():
        found += violations(module, path.read_text(), path.name == "__init__.py")
    assert found == []


def test_the_layering_check_catches_a_violation() -> None:
    assert violations("certplan.core.plan", "from certplan.load import load_project\n")
    assert violations("certplan.model.spec", "import certplan.store.files\n")
    assert violations("certplan.ca.client", "def f():\n    from certplan.validators import x\n")
    assert violations("certplan.engine.apply", "from certplan.cli.common import app\n")
    assert violations("certplan.core.plan", "from ..load import load_project\n")
    assert not violations("certplan.engine.apply", "from certplan.core.plan import Plan\n")


def test_nothing_imports_cli() -> None:
    for module, path in modules():
        if layer_of(module) in ("cli", "__main__"):
            continue
        names = [n for _, n in imported(path.read_text(), module, path.name == "__init__.py")]
        assert not [n for n in names if n.startswith("certplan.cli")], module


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for module, path in modules():
        names = {n for _, n in imported(path.read_text(), module, path.name == "__init__.py")}
        graph[module] = {n for n in names if n in ALL_MODULES and n != module
                         and not module.startswith(n + ".")}  # a package's own __init__
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


def test_the_root_package_exports_only_the_version() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    names = {t.id for node in tree.body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)}
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert names == {"__version__"} and imports == []


def test_no_module_over_400_lines() -> None:
    long = {m: n for m, p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these modules (at most {MAX_LINES} lines): {long}"


# -- the pure layers ------------------------------------------------------------------------

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("layer", PURE_LAYERS)
def test_pure_layers_import_nothing_heavy_at_run_time(layer: str) -> None:
    """Imported in a fresh interpreter: what they pull in, even indirectly."""
    for module in sorted(m for m in ALL_MODULES if layer_of(m) == layer):
        out = subprocess.run([sys.executable, "-c", PROBE, module], capture_output=True,
                             text=True, check=True, timeout=60).stdout
        bad = [m for m in json.loads(out) if m.split(".")[0] in HEAVY_AT_RUN_TIME]
        assert bad == [], f"{module} pulls in {bad}"


CLOCK_ATTRS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "time_ns"}
IO_NAMES = {"open", "print", "input"}
IO_MODULES = {"os", "pathlib", "shutil", "tempfile", "io"}


def clock_uses(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in CLOCK_ATTRS:
                found.append(f"line {node.lineno}: .{func.attr}()")
            if isinstance(func, ast.Name) and func.id in CLOCK_ATTRS:
                found.append(f"line {node.lineno}: {func.id}()")
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any(n.split(".")[0] == "time" for n in names):
                found.append(f"line {node.lineno}: imports time")
    return found


def io_uses(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in IO_NAMES:
                found.append(f"line {node.lineno}: {func.id}()")
            if isinstance(func, ast.Attribute) and func.attr in {
                    "read_text", "read_bytes", "write_text", "write_bytes", "glob", "open"}:
                found.append(f"line {node.lineno}: .{func.attr}()")
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any(n.split(".")[0] in IO_MODULES for n in names):
                found.append(f"line {node.lineno}: imports {names}")
    return found


@pytest.mark.parametrize("layer", PURE_LAYERS)
def test_pure_layers_import_nothing_heavy_in_source(layer: str) -> None:
    found = []
    for module, path in modules():
        if layer_of(module) == layer:
            found += [f"{module} line {line}: {name}" for line, name in
                      imported(path.read_text(), module, path.name == "__init__.py")
                      if name.split(".")[0] in HEAVY]
    assert found == []


@pytest.mark.parametrize("layer", PURE_LAYERS)
def test_pure_layers_read_no_clock(layer: str) -> None:
    found = {m: uses for m, p in modules() if layer_of(m) == layer
             and (uses := clock_uses(p.read_text()))}
    assert found == {}


def test_core_does_no_io() -> None:
    found = {m: uses for m, p in modules() if layer_of(m) == "core"
             and (uses := io_uses(p.read_text()))}
    assert found == {}


def test_the_static_checks_catch_a_clock_and_io() -> None:
    assert clock_uses("from datetime import datetime\nx = datetime.now()\n")
    assert clock_uses("import time\nx = time.time()\n")
    assert io_uses("x = open('f')\n")
    assert io_uses("from pathlib import Path\n")
    assert not clock_uses("from datetime import datetime\nx = datetime(2026, 1, 1)\n")
