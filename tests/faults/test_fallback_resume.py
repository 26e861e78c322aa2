"""An order left open at a fallback CA (`ca = ["primary", "pebble"]`, the first CA down
when it was made) is finished at that CA by the next apply, even once the first CA
answers again: asking the first CA first would drop it and order a second
certificate, while the plan says the open order is resumed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.killed_apply import new_orders, resumed_orders, run_killed_at
from tests.integration.modern_project import make_project, standalone_spec
from tests.servers.pebble import PebbleServer, start_pebble
from tests.servers.ports import free_port

pytestmark = pytest.mark.integration


def test_an_open_order_at_the_fallback_ca_is_finished_there(tmp_path: Path,
                                                             pebble: PebbleServer) -> None:
    dead = f"https://127.0.0.1:{free_port()}/dir"
    project = make_project(tmp_path / "ops", pebble,
                           extra=f'[ca.primary]\ndirectory = "{dead}"\n')
    standalone_spec(project, "fb", ["fb.example.test"], 'ca = ["primary", "pebble"]')
    out = run_killed_at(project, "after-order", "apply", "--auto-approve", "--no-refresh")
    (made,) = new_orders(out)
    assert project.state("fb")["pending_order"]["ca"] == "pebble"

    primary = start_pebble(tmp_path / "primary")  # the first CA answers again
    try:
        config = project.root / "certplan.toml"
        config.write_text(config.read_text().replace(
            f'directory = "{dead}"',
            f'directory = "{primary.directory_url}"\nca_bundle = "{primary.ca_bundle}"'))
        assert "apply resumes it" in project.run("plan", "--no-refresh").stdout
        res = project.apply("--no-refresh")
        out = res.stdout + res.stderr
        assert res.returncode == 0, out
        assert resumed_orders(out) == [made] and new_orders(out) == []
        record = project.state("fb")
        assert (record["ca"], record["pending_order"]) == ("pebble", None)
    finally:
        primary.stop()
