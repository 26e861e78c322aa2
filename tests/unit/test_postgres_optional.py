"""psycopg is optional (`certplan[postgres]`): the files backend, the default,
never imports it, and a postgres project without it is told how to install it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from pathlib import Path
from typer.testing import CliRunner
from certplan.cli import app
result = CliRunner().invoke(app, ["-C", sys.argv[1], "plan", "--no-refresh"])
print(json.dumps([result.exit_code, sorted(m for m in sys.modules if "psycopg" in m)]))
"""

NO_PSYCOPG = """
import sys
sys.modules["psycopg"] = None  # as if not installed
from typer.testing import CliRunner
from certplan.cli import app
result = CliRunner().invoke(app, ["-C", sys.argv[1], "plan", "--no-refresh"])
print(result.exit_code)
print(result.output)
"""


def test_the_files_backend_never_imports_psycopg(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "certplan.toml").write_text('[state]\nbackend = "files"\n')
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert json.loads(out) == [0, []]


def test_postgres_without_psycopg_says_how_to_install_it(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "certplan.toml").write_text(
        '[state]\nbackend = "postgres"\ndsn = { env = "CERTPLAN_TEST_NO_DSN" }\n')
    env = {"CERTPLAN_TEST_NO_DSN": "postgresql://u:pw@127.0.0.1:1/x", "PATH": "/usr/bin"}
    env.update({k: v for k, v in os.environ.items() if k.startswith("PYTHON")})
    out = subprocess.run([sys.executable, "-c", NO_PSYCOPG, str(tmp_path)], capture_output=True,
                         text=True, check=True, timeout=60, env=env).stdout
    code, _, message = out.partition("\n")
    assert code == "1"
    assert "the postgres state backend needs psycopg 3: pip install 'certplan[postgres]'" \
        in message
    assert "Traceback" not in message and "pw@" not in message
