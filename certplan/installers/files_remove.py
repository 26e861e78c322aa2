"""`remove` for the files installer: delete only what the host proves certplan wrote.

State (which git controls) names the files and their SHA-256; that alone proves
nothing. A file is deleted only when its bytes, read now without following a
symlink, hash to what state recorded AND are one of the files this installer
makes from the keystore's copy of that certificate (key, leaf, chain, full
chain, or key + full chain). Anything else is kept, and the outcome says why.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Mapping

from certplan.model.installed import Material, Removal

# No file this installer writes comes near this: anything larger is not ours.
MAX_BYTES = 1 << 20

NOT_OURS = "its bytes are not what certplan installed"


def unproven(digest: str, material: Material | None, ours: set[str]) -> str | None:
    """Why bytes with this SHA-256 may not be deleted (None: the host proves certplan
    wrote them: they are made from the keystore's copy of the certificate). The rule
    every installer's `remove` follows; state alone proves nothing."""
    if material is None:
        return "the keystore holds no certificate for this name to prove certplan wrote it"
    if digest not in ours:
        return f"{NOT_OURS} (not made from the keystore's copy of this certificate)"
    return None


def material_hashes(material: Material) -> set[str]:
    """SHA-256 of every file this installer can make from `material`."""
    m = material
    made = (m.key_pem, m.leaf_pem, m.chain_pem, m.fullchain_pem, m.key_pem + m.fullchain_pem)
    return {hashlib.sha256(data).hexdigest() for data in made}


def _read_regular(path: str) -> bytes | None | str:
    """The bytes of the regular file at `path` (not through a symlink, not blocking on
    a FIFO, at most MAX_BYTES); None when it is gone; else why it is not read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "it is a symbolic link, which certplan never creates"
        return f"cannot read it ({exc.strerror})"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "it is not a regular file"
        if st.st_size > MAX_BYTES:
            return NOT_OURS
        return os.read(fd, MAX_BYTES + 1)
    finally:
        os.close(fd)


def remove_files(parts: Mapping[str, str], material: Material | None) -> Removal:
    """Delete each recorded path whose bytes are proven certplan's (module docstring)."""
    ours = material_hashes(material) if material is not None else set()
    removed: list[str] = []
    kept: list[tuple[str, str]] = []
    for path, recorded in sorted(parts.items()):
        data = _read_regular(path)
        if data is None:
            continue
        if isinstance(data, str):
            kept.append((path, data))
            continue
        digest = hashlib.sha256(data).hexdigest()
        why = f"{NOT_OURS} (changed since it was installed)" if digest != recorded \
            else unproven(digest, material, ours)
        if why is not None:
            kept.append((path, why))
        else:
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                kept.append((path, f"cannot delete it ({exc.strerror})"))
                continue
            removed.append(path)
    return Removal(tuple(removed), tuple(kept))
