"""The ssh installer: the files installer's transaction, on another host.

Target: SshTarget (ssh_target.py). Parts: each remote place
(`ssh://[USER@]HOST[:PORT]/PATH`) with the SHA-256 of its bytes.

install: one look at the remote files; when everything is in place (and not
forced) nothing else happens. Else the files are written under temporary names
next to their places, what was there is kept aside, and each is renamed into
place (atomic on the host); then `check`, `reload` (run remotely, with the
target's timeout) and `verify` (a TLS handshake from here to the host, or to
the address named). On any failure the previous files are put back, the server
is reloaded again if the reload had run, and InstallError says what failed.

observe_many: one round trip per host for all its targets, hosts in parallel. A
host that cannot be reached is reported in each of its places ("!cannot be
reached ..."), so the plan names it and other hosts go on.

remove: as the files installer, only bytes the host proves certplan wrote.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar, TypeVar

from certplan.installers.files import VERIFY_TIMEOUT, FilesInstaller, target_contents
from certplan.installers.files_remove import NOT_OURS, material_hashes, unproven
from certplan.installers.ssh_connection import CONNECTIONS
from certplan.installers.ssh_scripts import (
    REFUSED,
    Seen,
    Write,
    answers,
    commit_script,
    look_script,
    parse_look,
    parse_ran,
    reload_script,
    remove_script,
    restore_script,
    transaction_script,
)
from certplan.installers.ssh_target import Endpoint, SshTarget, parse_place
from certplan.model.errors import InstallError
from certplan.model.installed import Installed, Material, Observed, Removal
from certplan.model.records import InstallRecord
from certplan.model.spec import InstallTarget

HOSTS_AT_ONCE = 16  # observe_many: hosts looked at in parallel
LOOK_TIMEOUT = 30.0
T = TypeVar("T")
R = TypeVar("R")


def bounded_map(fn: Callable[[T], R], items: Sequence[T], most: int = HOSTS_AT_ONCE) -> list[R]:
    """`fn` over `items`, up to `most` at once, results in order."""
    if len(items) <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor  # only when there are several

    with ThreadPoolExecutor(max_workers=min(most, len(items))) as pool:
        return list(pool.map(fn, items))


def _run_script(ep: Endpoint, script: str, timeout: float) -> list[str]:
    result = CONNECTIONS.run(ep, "sh -s", script.encode(), timeout)
    if result.code is None:
        raise InstallError(f"{ep.name}: no answer after {timeout:g}s")
    return answers(result.out)


def _look(ep: Endpoint, paths: Sequence[str], timeout: float) -> list[Seen]:
    result = CONNECTIONS.run(ep, "sh -s", look_script(paths).encode(), timeout)
    seen = parse_look(result.out, len(paths)) if result.code == 0 else None
    if seen is None:
        tail = (result.err or result.out).strip()[-300:] or "no answer"
        raise InstallError(f"{ep.name}: cannot look at the installed files: {tail}")
    return seen


def _matches(owner: str | None, name: str, number: str) -> bool:
    return owner is None or owner in (name, number)


def _up_to_date(seen: Seen, data: bytes, mode: int, target: SshTarget) -> bool:
    return (seen.state == "ok" and seen.sha256 == hashlib.sha256(data).hexdigest()
            and seen.mode == mode and _matches(target.owner, seen.user, seen.uid)
            and _matches(target.group, seen.group, seen.gid))


def _outcome(ep: Endpoint, said: list[str], target: SshTarget) -> list[str]:
    """The commands a transaction ran, or InstallError saying what failed and what
    was put back (its answers: see ssh_scripts.transaction_script)."""
    if said and said[0].startswith("error "):
        raise InstallError(f"{ep.name}: {said[0].removeprefix('error ')}; nothing was "
                           "changed there")
    runs = [r for line in said if (r := parse_ran(line)) is not None]
    failed = next((r for r in runs if r.code != 0), None)
    if failed is None:
        if "staged" not in said or (said[-1] != "committed" and target.verify is None):
            raise InstallError(f"{ep.name}: the install script ended early "
                               f"({said[-1] if said else 'no answer'}); look at the host")
        return [getattr(target, r.step) for r in runs]
    command = getattr(target, failed.step)
    restored = "restored yes" in said
    note = "previous files restored" if restored else "previous files could NOT all be put back"
    if failed.step == "reload":
        again = runs[-1] if len(runs) >= 2 and runs[-1] is not failed else None
        note += ", reloaded again" if again is not None and again.code == 0 else \
            ", and the second reload failed too"
    how = f"timed out after {target.timeout:g}s" if failed.code is None else \
        f"exited {failed.code}"
    tail = f":\n{failed.output}" if failed.output else " (no output)"
    raise InstallError(f"{ep.name}: {failed.step} command {command!r} {how}; {note}{tail}")


def _undo(ep: Endpoint, todo: list[Write], token: str, target: SshTarget) -> str:
    """After a failed verify: put the previous files back and reload again."""
    script = (restore_script(todo, token) if todo else "") + \
        (reload_script(target.reload, target.timeout) if target.reload else "")
    try:
        said = _run_script(ep, script, target.timeout + 30)
    except InstallError as exc:
        return f"and the previous files could NOT be put back ({exc})"
    note = "previous files restored" if not todo or "restored yes" in said else \
        "previous files could NOT all be put back"
    ran = [r for line in said if (r := parse_ran(line)) is not None]
    if ran:
        note += ", reloaded again" if ran[0].code == 0 else ", and the reload failed"
    return note


class SshInstaller:
    """Installer "ssh": see the module docstring."""

    name: ClassVar[str] = "ssh"
    target_model: ClassVar[type[InstallTarget]] = SshTarget
    concurrent: ClassVar[bool] = True  # apply installs to several hosts at once (--parallel)

    def locations(self, target: SshTarget, root: Path) -> dict[str, str]:
        ep = target.endpoint()
        return {kind: ep.place(path) for kind, path in target.files().items()}

    def warnings(self, target: SshTarget) -> list[str]:
        return FilesInstaller().warnings(target)  # the same files, the same modes

    # -- looking -------------------------------------------------------------------------

    def observe(self, target: SshTarget) -> Observed:
        return self.observe_many([target])[0]

    def observe_many(self, targets: Sequence[SshTarget]) -> list[Observed]:
        """What is at each target, one round trip per host, hosts in parallel."""
        by_host: dict[Endpoint, list[str]] = {}
        for t in targets:
            paths = by_host.setdefault(t.endpoint(), [])
            paths += [p for p in t.files().values() if p not in paths]
        hosts = sorted(by_host)
        found = dict(zip(hosts, bounded_map(lambda ep: self._parts(ep, by_host[ep]), hosts),
                         strict=True))
        return [Observed.of({ep.place(p): found[ep][p] for p in t.files().values()})
                for t in targets for ep in [t.endpoint()]]

    def _parts(self, ep: Endpoint, paths: list[str]) -> dict[str, str | None]:
        try:
            seen = _look(ep, paths, LOOK_TIMEOUT)
        except InstallError as exc:  # a host down must not stop the plan
            reason = str(exc).removeprefix(f"{ep.name}: ").removeprefix(f"{ep.name} ")
            if not reason.startswith("cannot"):
                reason = f"cannot be looked at: {reason}"
            return dict.fromkeys(paths, f"!{reason}")
        return {p: (s.sha256 if s.state == "ok" else None if s.state == "missing"
                    else f"!{REFUSED[s.state]}") for p, s in zip(paths, seen, strict=True)}

    # -- installing ----------------------------------------------------------------------

    def install(self, target: SshTarget, material: Material, *,
                force: bool = False) -> Installed:
        ep = target.endpoint()
        contents = target_contents(target, material)
        modes = {path: target.mode_for(kind) for kind, path in target.files().items()}
        seen = dict(zip(contents, _look(ep, list(contents), target.timeout), strict=True))
        for path, s in seen.items():
            if s.state in REFUSED:
                raise InstallError(f"{ep.place(path)} {REFUSED[s.state]}; refusing to install "
                                   "over it (point the install target at a regular file)")
        hashes = {ep.place(p): hashlib.sha256(d).hexdigest() for p, d in contents.items()}
        todo = [Write(p, d, modes[p], target.owner, target.group, seen[p].exists)
                for p, d in contents.items() if not _up_to_date(seen[p], d, modes[p], target)]
        if not todo and not force:
            return Installed.of(hashes, changed=False)
        token = secrets.token_hex(6)
        keep_aside = target.verify is not None and bool(todo)
        said = _run_script(ep, transaction_script(todo, token, target.check, target.reload,
                                                  target.timeout, keep_aside),
                           target.timeout * 3 + 30)
        ran = _outcome(ep, said, target)
        if target.verify is not None:
            self._verify(target, ep, todo, token, material)
            ran.append(f"verify {target.verify}")
            if todo:
                _run_script(ep, commit_script(todo, token), target.timeout)
        return Installed.of(hashes, changed=bool(todo), ran=tuple(ran))

    def _verify(self, target: SshTarget, ep: Endpoint, todo: list[Write], token: str,
                material: Material) -> None:
        from cryptography.hazmat.primitives import serialization

        from certplan.installers.verify import wait_served
        from certplan.model.crypto import load_leaf

        address = target.verify_address()
        assert address is not None
        where = f"[{address.host}]:{address.port}" if ":" in address.host else \
            f"{address.host}:{address.port}"
        leaf_der = load_leaf(material.leaf_pem).public_bytes(serialization.Encoding.DER)
        try:
            wait_served(where, target.verify_name or material.server_name, leaf_der,
                        time.monotonic() + min(target.timeout, VERIFY_TIMEOUT))
        except InstallError as exc:
            note = _undo(ep, todo, token, target)
            raise InstallError(f"{ep.name}: {exc}; {note}") from None

    # -- removing ------------------------------------------------------------------------

    def remove(self, record: InstallRecord, material: Material | None) -> Removal:
        ours = material_hashes(material) if material is not None else set()
        kept: list[tuple[str, str]] = []
        by_host: dict[Endpoint, list[tuple[str, str, str]]] = {}
        for place, recorded in sorted(record.parts.items()):
            parsed = parse_place(place)
            why = "not a place the ssh installer writes" if parsed is None \
                else unproven(recorded, material, ours)
            if why is not None:
                kept.append((place, why))
            else:
                assert parsed is not None
                by_host.setdefault(parsed[0], []).append((place, parsed[1], recorded))
        removed: list[str] = []
        for ep, items in sorted(by_host.items()):
            try:
                said = _run_script(ep, remove_script([(p, h) for _, p, h in items]),
                                   LOOK_TIMEOUT)
            except InstallError as exc:  # Unreachable too
                kept += [(place, f"not deleted: {exc}") for place, _, _ in items]
                continue
            said += ["error"] * (len(items) - len(said))
            for (place, _, _), word in zip(items, said, strict=False):
                if word == "removed":
                    removed.append(place)
                elif word == "changed":
                    kept.append((place, f"{NOT_OURS} (changed since it was installed)"))
                elif word in REFUSED:
                    kept.append((place, f"it {REFUSED[word]}"))
                elif word != "gone":
                    kept.append((place, "cannot delete it"))
        return Removal(tuple(removed), tuple(kept))
