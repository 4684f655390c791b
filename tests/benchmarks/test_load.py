"""The load generator's CPU figures (bench_service's "CPU per request" row): each watched clock is read
from the end of the warm-up to the last answer, and divided by the requests counted in that window."""

from __future__ import annotations

import asyncio
import os
import random
import time

import pytest

from tests.benchmarks import _load


def test_a_watched_clock_counts_only_the_measured_window() -> None:
    ticks = {"n": 0}

    async def step(_rng: random.Random) -> tuple[str, str | None]:
        ticks["n"] += 1  # a clock that moves by one per request, warm-up included
        await asyncio.sleep(0.002)
        return "step", None

    out = asyncio.run(_load.run_load([step, step], 0.1, 0.3, watch={"requests": lambda: float(ticks["n"])}))
    assert out.requests > 10
    assert ticks["n"] > out.requests  # the warm-up's requests moved the clock too, before the window
    # the clock moved once per counted request (give or take the requests in flight at either edge)
    assert abs(out.cpu["requests"] - out.requests) <= 2
    assert out.cpu_ms_per_request("requests") == pytest.approx(1000 * out.cpu["requests"] / out.requests)
    assert out.cpu_ms_per_request("not watched") != out.cpu_ms_per_request("not watched")  # nan


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="the CPU clocks read Linux's /proc")
def test_the_cpu_clocks_see_work_done() -> None:
    mine, busy = _load.tree_cpu(os.getpid()), _load.machine_busy
    before = (mine(), _load.own_cpu(), busy())
    t_end = time.process_time() + 0.2
    while time.process_time() < t_end:
        sum(range(1000))
    after = (mine(), _load.own_cpu(), busy())
    assert after[0] - before[0] >= 0.1  # this process's tree spent the 0.2 s (clock ticks are 10 ms)
    assert after[1] - before[1] >= 0.15
    assert after[2] - before[2] >= 0.1
    assert _load.postgres_cpu("postgres")() >= 0.0
