"""The objects a process holds from startup, kept out of the garbage collector's full collections.

Imports alone (FastAPI, pydantic, SQLAlchemy, the openai types) leave about 200,000 objects that live as long as
the process, and every full (generation 2) collection walks all of them: 100-190 ms with the event loop stopped,
a few times a minute under load (measured in the eval bench: 4 such pauses, 0.5-0.6 s of a 6 s run). Frozen
objects are never collected, so this runs once, after startup, when what is alive is what stays.
"""

from __future__ import annotations

import gc

_frozen = False  # per process, as the collector is


def freeze_startup_heap() -> None:
    """Collect once, then keep every object alive now out of later collections (once per process)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()  # garbage from startup would otherwise be frozen for good
        gc.freeze()
