"""Render a Plan as text, markdown or JSON, all from the same data."""

from __future__ import annotations

import json
from typing import Any

from tabulate import tabulate

from certplan.core.escape import markdown, plain
from certplan.core.plan import ORDER, Action, Change, Plan
from certplan.model.timefmt import iso_z

JSON_FORMAT_VERSION = 1
LEGEND = {
    Action.ISSUE: "issue a new certificate",
    Action.RENEW: "renew (same names, new certificate)",
    Action.INSTALL: "install again (no new certificate)",
    Action.REMOVE: "stop managing",
    Action.NOOP: "unchanged",
}


def _names(change: Change) -> str:
    if len(change.domains) <= 2:
        return ", ".join(change.domains)
    return f"{change.domains[0]}, {change.domains[1]} (+{len(change.domains) - 2} more)"


def summary(plan: Plan) -> str:
    c = plan.counts()
    return (f"Plan: {c[Action.ISSUE]} to issue, {c[Action.RENEW]} to renew, "
            f"{c[Action.INSTALL]} to install, {c[Action.REMOVE]} to remove.")


def _shown(plan: Plan, verbose: bool) -> list[Change]:
    rows = list(plan.changes) + (list(plan.noops) if verbose else [])
    return sorted(rows, key=lambda c: (ORDER.index(c.action), c.name))


OFFLINE_NOTE = ("Offline: installed files and ARI windows were not checked: --offline "
                "(install changes come from the specs and state only).")


def _ari_line(plan: Plan, offline: bool = False) -> str | None:
    if offline:  # says what was not observed, in place of the ARI line
        return OFFLINE_NOTE
    return None if plan.ari_refreshed else \
        "ARI: renewal windows were not fetched from the CAs (--no-refresh)."


def render_text(plan: Plan, verbose: bool = False, offline: bool = False) -> str:
    rows = _shown(plan, verbose)
    lines: list[str] = []
    if not rows:
        lines.append("No changes. Every certificate matches its spec and none is due.")
    else:
        present = [a for a in ORDER if any(c.action is a for c in rows)]
        lines.append("Actions: " + "   ".join(f"{a.symbol} {LEGEND[a]}" for a in present))
        lines.append("")
        table = [[c.action.symbol, plain(c.name), c.action.value, plain(_names(c)),
                  "\n".join(plain(r) for r in c.reasons + _writes_lines(c))] for c in rows]
        lines.append(tabulate(table, headers=["", "certificate", "action", "domains", "reason"],
                              tablefmt="plain"))
    lines.append("")
    lines += [f"Warning: {plain(w)}" for w in plan.warnings]
    lines += [f"Error: {plain(line)}" for line in problem_lines(plan)]
    if (ari := _ari_line(plan, offline)) is not None:
        lines.append(ari)
    lines.append(summary(plan))
    return "\n".join(lines) + "\n"


def problem_lines(plan: Plan) -> list[str]:
    """One line per certificate left out because its state record does not load."""
    return [f"{name}: not planned, left as it is: {why}; fix or remove the file by hand"
            for name, why in plan.problems]


def _writes_lines(change: Change) -> tuple[str, ...]:
    """"writes PATH", one per place the change writes, then "install[N] STEP: WHAT" for
    each command or check that runs on the host afterwards (text and markdown alike)."""
    return tuple(f"writes {place}" for place in change.writes) + tuple(
        f"install[{i}] {step}: {what}" for i, step, what in change.runs)


_md = markdown


def render_markdown(plan: Plan, verbose: bool = False, offline: bool = False) -> str:
    rows = _shown(plan, verbose)
    lines = ["### certplan plan", ""]
    if rows:
        lines += ["| | certificate | action | domains | reason |", "|---|---|---|---|---|"]
        for c in rows:
            why = "; ".join(c.reasons + _writes_lines(c))
            lines.append(f"| `{c.action.symbol}` | **{_md(c.name)}** | {c.action.value} | "
                         f"{_md(', '.join(c.domains))} | {_md(why)} |")
    else:
        lines.append("No changes. Every certificate matches its spec and none is due.")
    lines.append("")
    lines += [f"> **Warning:** {_md(w)}" for w in plan.warnings]
    lines += [f"> **Error:** {_md(line)}" for line in problem_lines(plan)]
    if plan.warnings or plan.problems:
        lines.append("")  # else the next line continues the quote
    if (ari := _ari_line(plan, offline)) is not None:
        lines.append(f"_{ari}_")
        lines.append("")
    lines.append(f"**{summary(plan)}**")
    return "\n".join(lines) + "\n"


def change_json(c: Change) -> dict[str, Any]:
    return {
        "certificate": c.name,
        "action": c.action.value,
        "symbol": c.action.symbol,
        "reason": c.reason,
        "reasons": list(c.reasons),
        "domains": list(c.domains),
        "ca": c.ca,
        "key": c.key,
        "renew_at": iso_z(c.renew_at),
        "not_after": iso_z(c.not_after),
        "install_targets": list(c.install_targets),
        "revoke": c.revoke,
        "delete_files": c.delete_files,
        "delete_paths": list(c.delete_paths),
        "revoke_serial": c.revoke_serial,
        "writes": list(c.writes),
        "runs": [{"install_target": i, "step": step, "run": what} for i, step, what in c.runs],
    }


def plan_json(plan: Plan, offline: bool = False) -> dict[str, Any]:
    doc = _plan_doc(plan)
    if plan.problems:  # only then: certificates whose state record does not load
        doc["problems"] = [{"certificate": name, "problem": why} for name, why in plan.problems]
    if offline:  # installed targets and ARI windows were not looked at
        doc["offline"] = True
    return doc


def _plan_doc(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": JSON_FORMAT_VERSION,
        "generated_at": iso_z(plan.now),
        "summary": {a.value: n for a, n in plan.counts().items()},
        "changes": [change_json(c) for c in plan.changes],
        "unchanged": [change_json(c) for c in plan.noops],
        "warnings": list(plan.warnings),
        "ari_refreshed": plan.ari_refreshed,
    }


def render_json(plan: Plan, verbose: bool = False, offline: bool = False) -> str:
    """Top-level keys one per line, and each change compact on a line of its own:
    readable, diff-friendly, and fast (json's C encoder does not indent)."""
    doc = plan_json(plan, offline)
    parts = []
    for key in sorted(doc):
        value = doc[key]
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            items = ",\n    ".join(json.dumps(v, sort_keys=True) for v in value)
            text = f"[\n    {items}\n  ]"
        else:
            text = json.dumps(value, sort_keys=True)
        parts.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}
