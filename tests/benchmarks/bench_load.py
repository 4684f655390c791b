"""How long loading a module takes (read YAML, check schemas and meaning, compile expressions),
against plain YAML parsing of the same files in the same run.

    python -m tests.benchmarks.bench_load [--repeat N] [--profile]

Generates a 150-field and a 5,000-field module in a temporary folder, times `load_module()` on each
(best of several runs, interleaved with the baseline), and times the baseline: reading the same
files and parsing them with `yaml.load(text, Loader=yaml.CSafeLoader)`. Also measures the peak
memory of loading the 5,000-field module (tracemalloc, in this process) and, in a fresh process,
the wall time of `import engine` + one load and the peak resident memory, which is what
`sanad validate` costs. Exits 1 when a target is missed, 2 when a generated module does not load.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from typing import Any

import yaml

from engine.language.loader import load_module
from tests.benchmarks._timing import (
    best,
    environment,
    fmt_mb,
    fmt_time,
    fresh_process,
    interleaved,
    median,
    run_once,
    table,
)
from tests.benchmarks.generate import generate_module

#: (fields, target seconds for load+validate, default repeats)
CASES = [(150, 1.0, 15), (5000, 3.0, 5)]
PYXFORM_NOTE = "for reference, pyxform needs 7.4 s and 300 MB for a 5,000-row XLSForm on these machines"


def module_files(path: str) -> list[str]:
    """The YAML files load_module() reads, in the same order."""
    out = [os.path.join(path, "module.yaml")]
    for folder in ("forms", "lookups", "workflows", "tests"):
        d = os.path.join(path, folder)
        if os.path.isdir(d):
            out += sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith((".yaml", ".yml")))
    roles = os.path.join(path, "roles.yaml")
    if os.path.exists(roles):
        out.append(roles)
    return out


def plain_parse(files: list[str]) -> Callable[[], list[Any]]:
    def parse() -> list[Any]:
        docs = []
        for p in files:
            with open(p, "rb") as fh:
                text = fh.read().decode("utf-8-sig")
            docs.append(yaml.load(text, Loader=yaml.CSafeLoader))
        return docs

    return parse


def traced_peak(fn: Callable[[], Any]) -> tuple[int, int]:
    """(peak, still allocated when fn returned) bytes of Python allocations during fn()."""
    import gc

    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak, current


_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
if sys.argv[1] == "load":
    from engine.language.loader import load_module
    t1 = time.perf_counter()
    r = load_module(sys.argv[2])
    ok = r.module is not None
else:
    import os, yaml
    t1 = time.perf_counter()
    files = json.loads(sys.argv[2])
    docs = [yaml.load(open(p, "rb").read().decode("utf-8-sig"), Loader=yaml.CSafeLoader) for p in files]
    ok = True
t2 = time.perf_counter()
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_load", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=0, help="runs per measurement (default: 15 small, 5 large)")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of loading the largest module")
    args = ap.parse_args(argv)

    print(f"Sanad module loading benchmark: {environment()}")
    print("load = load_module(): read + YAML 1.2 conversion + JSON Schema + semantic checks + expression compiling")
    print("baseline = read the same files + yaml.load(text, Loader=yaml.CSafeLoader), in the same run\n")

    failed = False
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="sanad-bench-") as tmp:
        paths: dict[int, str] = {}
        first_load: dict[int, float] = {}
        for n, _, _ in CASES:
            paths[n] = generate_module(os.path.join(tmp, f"m{n}"), n)
            first_load[n] = run_once(lambda p=paths[n]: load_module(p))
            result = load_module(paths[n])
            if result.module is None or result.report.errors:
                print(f"the generated {n}-field module does not load:")
                for d in result.report.sorted()[:20]:
                    print("  " + d.format())
                return 2
            got = result.module.stats()["fields"]
            if got != n:
                print(f"the generated module has {got} fields, not {n}")
                return 2

        for n, target, default_repeat in CASES:
            repeat = args.repeat or default_repeat
            files = module_files(paths[n])
            size = sum(os.path.getsize(p) for p in files)
            t_load, t_base = interleaved([lambda p=paths[n]: load_module(p), plain_parse(files)], repeat)
            ok = best(t_load) < target
            failed |= not ok
            rows.append(
                [
                    f"{n:,} fields",
                    f"{len(files)}",
                    f"{size / 1024:,.0f} KB",
                    fmt_time(best(t_load)),
                    fmt_time(median(t_load)),
                    fmt_time(first_load[n]),
                    fmt_time(best(t_base)),
                    f"{best(t_load) / best(t_base):.1f}x",
                    f"< {target:.1f} s",
                    "ok" if ok else "MISSED",
                ]
            )
        print(
            table(
                [
                    "module",
                    "files",
                    "YAML",
                    "load best",
                    "load median",
                    "first load",
                    "YAML parse best",
                    "ratio",
                    "target",
                    "result",
                ],
                rows,
            )
        )
        print(
            "(best/median of the repeats; 'first load' is the first load of each module in this process, the "
            "first of all also building the schema validators)\n"
        )

        big = max(paths)
        files = module_files(paths[big])
        peak, kept = traced_peak(lambda: load_module(paths[big]))
        base_peak, base_kept = traced_peak(plain_parse(files))
        mem_rows = [
            ["load_module()", fmt_mb(peak), fmt_mb(kept)],
            ["plain YAML parse", fmt_mb(base_peak), fmt_mb(base_kept)],
            ["ratio", f"{peak / base_peak:.1f}x", f"{kept / base_kept:.1f}x"],
        ]
        print(f"Memory of loading the {big:,}-field module (tracemalloc: Python allocations only)")
        print(table(["", "peak", "kept after"], mem_rows))

        child = fresh_process(_CHILD, "load", paths[big], check=True)
        child_base = fresh_process(_CHILD, "parse", json.dumps(files), check=True)
        if child is not None and child_base is not None:
            print(f"\nA fresh process (what `sanad validate` pays), {big:,} fields")
            print(
                table(
                    ["", "import", "load/parse", "total", "peak RSS"],
                    [
                        [
                            "load_module()",
                            fmt_time(child["import"]),
                            fmt_time(child["work"]),
                            fmt_time(child["import"] + child["work"]),
                            fmt_mb(child["maxrss"]),
                        ],
                        [
                            "plain YAML parse",
                            fmt_time(child_base["import"]),
                            fmt_time(child_base["work"]),
                            fmt_time(child_base["import"] + child_base["work"]),
                            fmt_mb(child_base["maxrss"]),
                        ],
                    ],
                )
            )
        print(f"({PYXFORM_NOTE})")

        if args.profile:
            prof = cProfile.Profile()
            prof.runcall(load_module, paths[big])
            print(f"\ncProfile of load_module() on the {big:,}-field module (top 25 by own time)")
            pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(25)

    targets = ", ".join(f"{n:,} fields < {t:.1f} s" for n, t, _ in CASES)
    print(f"\n{'FAILED' if failed else 'PASSED'}: targets {targets}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
