"""Shared timing helpers for the benchmarks: best-of-N timings, interleaved so that a burst of load
on a shared machine hits both sides of a comparison alike."""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import yaml


def run_once(fn: Callable[[], Any], number: int = 1, gc_off: bool = False) -> float:
    """Seconds per call of `fn`, over `number` back-to-back calls.

    By default the garbage collector is run before and stays on while timing (a load allocates
    enough for collections to be part of its real cost); `gc_off=True` pauses it while timing, as
    timeit does, for micro-benchmarks that allocate little.
    """
    if gc_off:
        was_on = gc.isenabled()
        gc.disable()
    else:
        gc.collect()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t0) / number
    finally:
        if gc_off and was_on:
            gc.enable()


def interleaved(
    fns: Sequence[Callable[[], Any]], repeat: int, number: int = 1, gc_off: bool = False
) -> list[list[float]]:
    """Time each of `fns` `repeat` times, alternating between them; returns the timings per function."""
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            out[i].append(run_once(fn, number, gc_off))
    return out


def calibrate(fn: Callable[[], Any], target: float = 0.02, gc_off: bool = False) -> int:
    """How many calls of `fn` take about `target` seconds (at least 1)."""
    number = 1
    while True:
        t = run_once(fn, number, gc_off) * number
        if t >= target or number >= 1 << 20:
            return number
        number = max(number * 2, int(number * target / max(t, 1e-9)))


def best(ts: list[float]) -> float:
    return min(ts)


def median(ts: list[float]) -> float:
    return statistics.median(ts)


def geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.2f} µs"
    return f"{s * 1e9:.0f} ns"


def fmt_mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


def environment() -> str:
    libyaml = "libyaml" if getattr(yaml, "__with_libyaml__", False) else "pure Python"
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), PyYAML {yaml.__version__} "
        f"({libyaml}), {os.cpu_count()} CPUs, {platform.machine()}"
    )


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """A plain text table; columns in `right` are right-aligned."""
    right = right if right is not None else set(range(1, len(headers)))
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


#: The end of a child script run by fresh_process(): the script imports json, resource, sys and time,
#: and sets t0 (start), t1 (after its imports), t2 (after its work) and ok.
CHILD_REPORT = r"""
try:  # ru_maxrss survives exec on Linux (it would report the parent's peak); VmHWM does not
    with open("/proc/self/status") as fh:
        peak = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print(json.dumps({"import": t1 - t0, "work": t2 - t1, "ok": ok, "maxrss": peak}))
"""
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fresh_process(child: str, *args: str, check: bool = False) -> dict[str, Any] | None:
    """Run `child` (a script ending where CHILD_REPORT begins) in a new interpreter: its import and
    work times and its peak resident memory (VmHWM). None where `resource` is unavailable, or when the
    child fails and `check` is false (with `check`, a failure raises)."""
    try:
        import resource  # noqa: F401  (Unix only)
    except ImportError:
        return None
    proc = subprocess.run(
        [sys.executable, "-c", child + CHILD_REPORT, *args], capture_output=True, text=True, cwd=ROOT, check=check
    )
    if proc.returncode != 0:
        return None
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data
