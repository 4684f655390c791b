"""Sanad loading its definitions against pyxform converting the same forms written as XLSForms.

    python -m tests.benchmarks.bench_xlsform [--repeat N] [--fields N]

Each XLSForm is written with `sanad export-xlsform`'s exporter (engine/xlsform/export.py) from the
module it is compared with, and both sides are timed in the same run, interleaved, best of N. Sanad's
side is `load_module()`, what `sanad validate` does (besides running the scenario files, which these
modules do not have): read every file, check it against its schema, build the model, check meaning,
compile every expression and order the calculations. pyxform's side is `convert()`, without ODK
Validate (no Java).

- **GBV incident forms** (target): the four forms of the reference module's `incident` record type in
  one XLSForm (each form a group), in the module's default language, against loading a module made
  in a temporary folder of exactly the definitions that XLSForm is written from: the reference
  module's four incident form files and the 26 option lists they use, copied unchanged, and its
  module.yaml reduced to the `incident` record type (no workflow, and no link to the `case` record
  type, which is not there), plus the one-role roles.yaml that every module must have. That is the
  same forms, fields, option lists, expressions and texts on both sides, and nothing more: the
  exporter reads the XLSForm from this very module. The definitions are copied rather than read back
  from the XLSForm with the importer because the XLSForm is the copy: it loses what XLSForm cannot
  say (the export warnings), and an import would time the importer's rendering of it, not the
  definitions implementers write.
- **GBV incident forms, 4 languages** (for information): the same, with the labels of all four
  languages of the module (the exporter's default). pyxform reads and writes four sets of texts;
  Sanad's side is the same load, since its translations are gettext catalogs that `sanad validate`
  does not read, so this ratio flatters Sanad.
- **whole GBV module** (for information): loading the whole reference module (both record types,
  workflows, roles, reports, exports, scenario files) against pyxform on the 4-language XLSForm:
  Sanad does much more work than pyxform here.
- **generated** (target): a 5,000-field module from tests/benchmarks/generate.py, all its forms in
  one XLSForm (about 5,200 survey rows with the group and repeat rows) in its default language,
  against `load_module()` of that module.

Each side also runs once in a fresh process for its peak resident memory (VmHWM). Target: Sanad at
least 2x faster than pyxform in the target cases (exit 1 when missed; 2 when the benchmark is broken:
a module does not load or pyxform refuses the XLSForm).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

import yaml

from engine.language.loader import load_module
from engine.language.model import Module
from engine.xlsform.export import write_xlsform
from tests.benchmarks._timing import best, environment, fmt_mb, fmt_time, fresh_process, interleaved, table
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
"""


def load(path: str) -> Module:
    result = load_module(path)
    if result.module is None:
        raise SystemExit(f"broken benchmark: {path} does not load ({len(result.report.errors)} errors)")
    return result.module


def incident_module(dest: str, gbv: Module) -> int:
    """Write in `dest` a module of exactly the definitions of the reference module's incident forms
    (see the docstring); returns the number of option lists copied."""
    rt = gbv.record_types["incident"]
    os.makedirs(os.path.join(dest, "forms"))
    os.makedirs(os.path.join(dest, "lookups"))
    with open(os.path.join(GBV, "module.yaml"), encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    incident = data["record_types"]["incident"]
    data["record_types"] = {
        "incident": {k: v for k, v in incident.items() if k not in ("workflow", "recorded_from", "link_action")}
    }
    with open(os.path.join(dest, "module.yaml"), "w", encoding="utf-8") as fh:
        yaml.safe_dump(data, fh, allow_unicode=True, sort_keys=False)
    lookups: set[str] = set()
    for form_id in rt.form_ids:
        shutil.copy(os.path.join(GBV, "forms", f"{form_id}.yaml"), os.path.join(dest, "forms"))
        lookups.update(f.lookup_id for f in gbv.forms[form_id].walk() if f.lookup_id)
    for lookup_id in sorted(lookups):
        shutil.copy(os.path.join(GBV, "lookups", f"{lookup_id}.yaml"), os.path.join(dest, "lookups"))
    role = {
        "id": "recorder",
        "label": "Incident recorder",
        "scope": "own",
        "permissions": ["incident.create", "incident.read", "incident.write"],
        "forms": {"read": ["*"], "write": ["*"]},
        "sensitivity": ["direct", "quasi", "none"],
    }
    with open(os.path.join(dest, "roles.yaml"), "w", encoding="utf-8") as fh:
        yaml.safe_dump({"roles": [role]}, fh, sort_keys=False)
    return len(lookups)


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
        inc_path = os.path.join(tmp, "gbv-incident")
        n_lookups = incident_module(inc_path, load(GBV))
        inc = load(inc_path)
        inc_forms = list(inc.record_types["incident"].form_ids)
        gen_path = os.path.join(tmp, "generated")
        generate_module(gen_path, args.fields)
        gen = load(gen_path)
        print(
            f"GBV incident module: {len(inc.forms)} forms, {inc.stats()['fields']} fields, {n_lookups} option lists, "
            f"copied from {os.path.relpath(GBV, ROOT)} into a temporary folder"
        )
        # (name, module folder timed, module exported, forms, locales, repeats, a target?)
        plan: list[tuple[str, str, Module, list[str], list[str] | None, int, bool]] = [
            ("GBV incident forms", inc_path, inc, inc_forms, [inc.default_locale], args.repeat or 7, True),
            ("GBV incident forms, 4 languages", inc_path, inc, inc_forms, None, args.repeat or 7, False),
            ("whole GBV module", GBV, inc, inc_forms, None, args.repeat or 7, False),
            (
                f"generated {args.fields:,} fields",
                gen_path,
                gen,
                list(gen.record_types["case"].form_ids),
                [gen.default_locale],
                args.repeat or 3,
                True,
            ),
        ]
        cases: list[tuple[str, str, str, int, int, bool]] = []  # name, module folder, XLSForm, rows, repeats, target?
        for i, (name, path, module, form_ids, locales, repeat, target) in enumerate(plan):
            xlsx = os.path.join(tmp, f"{i}-{module.id}.xlsx")
            warnings = write_xlsform(module, form_ids, xlsx, locales)
            n_rows = survey_rows(xlsx)
            try:
                convert(xlsform=xlsx)
            except Exception as exc:
                print(f"broken benchmark: pyxform refuses the XLSForm of {name}: {exc}", file=sys.stderr)
                return 2
            languages = ", ".join(locales or module.locales)
            print(
                f"{name}: {len(form_ids)} forms, {n_rows:,} survey rows ({languages}), {len(warnings)} export warnings",
                flush=True,
            )
            cases.append((name, path, xlsx, n_rows, repeat, target))
        # only the files from here on: the loaded modules kept alive would make every garbage collection
        # during the timings walk them, on both sides
        del plan, inc, gen
        for name, path, xlsx, n_rows, repeat, target in cases:
            sanad_t, pyx_t = interleaved([lambda p=path: load_module(p), lambda x=xlsx: convert(xlsform=x)], repeat)
            s, p = best(sanad_t), best(pyx_t)
            ratio = p / s
            ok = ratio >= TARGET
            if target:
                failed |= not ok
            rows.append(
                [
                    name,
                    f"{n_rows:,}",
                    fmt_time(s),
                    fmt_time(p),
                    f"{ratio:.1f}x",
                    f">= {TARGET:.0f}x {'✓' if ok else '✗'}" if target else "(information)",
                ]
            )
            fs, fp = fresh_process(_CHILD, "load", path), fresh_process(_CHILD, "convert", xlsx)
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
