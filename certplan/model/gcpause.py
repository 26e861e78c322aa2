"""Pause the cyclic garbage collector while loading many small objects.

Loading 10,000 certificates allocates a few million objects and no cycles worth
collecting; with the collector on, its full passes make loading grow faster than
linearly (measured: 1.0 s instead of 0.7 s for 10,000 specs, 0.45 s instead of
0.25 s for their state). Reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
