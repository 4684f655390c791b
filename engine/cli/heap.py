"""What a server process keeps for its whole life, set apart from the garbage collector's full passes.

A server process builds at start what it keeps until it stops: the definitions with their compiled
expressions, the templates, the database's mappers (the GBV module: about 130,000 objects). Python's
cyclic garbage collector walks every object it tracks on each full pass. Under the benchmark's mixed
load (50 users, 500,000 cases, 2 workers on 2 CPUs) a worker made 16 to 30 full passes in a
70-second run, 1.7 to 2.7 s in all and up to 185 ms each, during which none of its requests moved,
nor the audit chain's end if one of them held it. Frozen (`gc.freeze`), those objects are left out
of every later pass: the passes then walk what requests leave behind, 0.6 to 0.9 s in all.

Frozen objects are never freed; nothing a server builds at start is dropped before it stops (the
definitions are not reloaded in a running process: a new version is a restart)."""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what start-up left as garbage, then freeze the rest: call once the app is built."""
    gc.collect()
    gc.freeze()
