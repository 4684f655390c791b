"""Sanad loading its definitions against pyxform converting the same forms written as XLSForms.

    python -m tests.benchmarks.bench_xlsform [--repeat N] [--fields N]

Two cases, each exported with `sanad export-xlsform`'s exporter (engine/xlsform/export.py) and timed
in the same run, interleaved, best of N:

- **GBV incident forms**: the four forms of the reference module's `incident` record type in one
  XLSForm (each form a group); pyxform's `convert()` on it against `load_module()` of the whole
  reference module (every record type, workflow, role, report and scenario file: more than pyxform
  is given, so the ratio is conservative).
- **generated**: a 5,000-field module from tests/benchmarks/generate.py, all its forms in one
  XLSForm (about 5,200 survey rows with the group and repeat rows); pyxform on it against
  `load_module()` of the module.

Each side also runs once in a fresh process for its peak resident memory (VmHWM). pyxform runs
without ODK Validate (no Java), i.e. it only converts. Target: Sanad at least 2x faster than pyxform
in both cases (exit 1 when missed; 2 when the benchmark is broken: a module does not load or pyxform
refuses the XLSForm).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from engine.language.loader import load_module
from engine.language.model import Module
from engine.xlsform.export import write_xlsform
from tests.benchmarks._timing import best, environment, fmt_mb, fmt_time, interleaved, table
from tests.benchmarks.generate import generate_module

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GBV = os.path.join(ROOT, "definitions", "gbv")
TARGET = 2.0  # pyxform time / Sanad time, at least

_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
if sys.argv[1] == "load":
    from engine.language.loader import load_module
    t1 = time.perf_counter()
    ok = load_module(sys.argv[2]).module is not None
else:
    from pyxform.xls2xform import convert
    t1 = time.perf_counter()
    ok = bool(convert(xlsform=sys.argv[2]).xform)
t2 = time.perf_counter()
try:  # ru_maxrss survives exec on Linux (it would report the parent's peak); VmHWM does not
    with open("/proc/self/status") as fh:
        peak = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print(json.dumps({"import": t1 - t0, "work": t2 - t1, "ok": ok, "maxrss": peak}))
"""


def fresh_process(mode: str, arg: str) -> dict[str, Any] | None:
    """One load or one conversion in a new interpreter; None where resource is unavailable."""
    try:
        import resource  # noqa: F401  (Unix only)
    except ImportError:
        return None
    proc = subprocess.run([sys.executable, "-c", _CHILD, mode, arg], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return None
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def load(path: str) -> Module:
    result = load_module(path)
    if result.module is None:
        raise SystemExit(f"broken benchmark: {path} does not load ({len(result.report.errors)} errors)")
    return result.module


def survey_rows(xlsx: str) -> int:
    from openpyxl import load_workbook

    wb = load_workbook(xlsx, read_only=True)
    n = wb["survey"].max_row - 1
    wb.close()
    return int(n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_xlsform", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=0, help="runs per measurement (default: 7 GBV, 3 generated)")
    ap.add_argument("--fields", type=int, default=5000, help="fields of the generated module (default 5000)")
    args = ap.parse_args(argv)
    try:
        from pyxform.xls2xform import convert
    except ImportError:
        print("broken benchmark: pyxform is not installed (pip install pyxform)", file=sys.stderr)
        return 2

    print(f"XLSForm benchmark: {environment()}")
    print("Sanad = load_module() of the module folder; pyxform = pyxform.xls2xform.convert() of the exported XLSForm")
    print(f"(no ODK Validate), best of the repeats, interleaved; target: pyxform / Sanad >= {TARGET:.1f}x\n")

    failed = False
    rows: list[list[str]] = []
    memory: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="sanad-bench-xlsform-") as tmp:
        gbv = load(GBV)
        gen_path = os.path.join(tmp, "generated")
        generate_module(gen_path, args.fields)
        gen = load(gen_path)
        cases = [
            ("GBV incident forms", GBV, gbv, list(gbv.record_types["incident"].form_ids), args.repeat or 7),
            (
                f"generated {args.fields:,} fields",
                gen_path,
                gen,
                list(gen.record_types["case"].form_ids),
                args.repeat or 3,
            ),
        ]
        for name, path, module, form_ids, repeat in cases:
            xlsx = os.path.join(tmp, f"{module.id}.xlsx")
            warnings = write_xlsform(module, form_ids, xlsx)
            n_rows = survey_rows(xlsx)
            try:
                convert(xlsform=xlsx)
            except Exception as exc:
                print(f"broken benchmark: pyxform refuses the XLSForm of {name}: {exc}", file=sys.stderr)
                return 2
            print(f"{name}: {len(form_ids)} forms, {n_rows:,} survey rows, {len(warnings)} export warnings", flush=True)
            sanad_t, pyx_t = interleaved([lambda p=path: load_module(p), lambda x=xlsx: convert(xlsform=x)], repeat)
            s, p = best(sanad_t), best(pyx_t)
            ratio = p / s
            ok = ratio >= TARGET
            failed |= not ok
            rows.append(
                [
                    name,
                    f"{n_rows:,}",
                    fmt_time(s),
                    fmt_time(p),
                    f"{ratio:.1f}x",
                    f">= {TARGET:.0f}x {'✓' if ok else '✗'}",
                ]
            )
            fs, fp = fresh_process("load", path), fresh_process("convert", xlsx)
            if fs and fp:
                memory.append(
                    [
                        name,
                        f"{fmt_time(fs['import'] + fs['work'])}, {fmt_mb(fs['maxrss'])}",
                        f"{fmt_time(fp['import'] + fp['work'])}, {fmt_mb(fp['maxrss'])}",
                        f"{fp['maxrss'] / fs['maxrss']:.1f}x",
                    ]
                )
    print()
    print(table(["case", "rows", "Sanad load", "pyxform convert", "pyxform/Sanad", "target"], rows))
    if memory:
        print("\nA fresh process (import + one run): wall time, peak resident memory (VmHWM)\n")
        print(table(["case", "Sanad", "pyxform", "memory pyxform/Sanad"], memory))
    print("\nall targets met" if not failed else "\na target was missed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
