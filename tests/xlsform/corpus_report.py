"""The XLSForm corpus (/work/shared/data/xlsforms, or $SANAD_XLSFORM_CORPUS), imported form by form.

    python3 tests/xlsform/corpus_report.py [FOLDER]

prints one line per form (rows, imported, validates, expressions compiled / total, warnings) and
the totals, for all forms and for those pyxform converts (MANIFEST.tsv: pyxform_converts=yes).
The forms are read where they are, never copied: some are GPL/AGPL.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.xlsform import import_xlsform  # noqa: E402

CORPUS = Path(os.environ.get("SANAD_XLSFORM_CORPUS", "/work/shared/data/xlsforms"))


@dataclass
class Line:
    form: str
    pyxform: bool
    rows: int
    imported: bool
    validates: bool
    kept: int
    total: int
    warnings: int
    report: list[str]
    crashed: str | None = None


def manifest(folder: Path) -> dict[str, bool]:
    with open(folder / "MANIFEST.tsv", encoding="utf-8", newline="") as fh:
        return {r["file"]: r["pyxform_converts"].strip() == "yes" for r in csv.DictReader(fh, delimiter="\t")}


def run_one(path: Path, pyxform: bool, work: str) -> Line:
    module = os.path.join(work, path.stem.replace("-", "_").replace(".", "_"))
    try:
        result = import_xlsform(str(path), module)
    except Exception as exc:  # the test fails on any crash; the report says which form
        return Line(path.name, pyxform, 0, False, False, 0, 0, 0, [], f"{type(exc).__name__}: {exc}")
    conv = result.conversion
    lines = [f.format() for f in result.findings.items] + [d.format() for d in result.module_findings]
    return Line(
        path.name,
        pyxform,
        conv.rows if conv else 0,
        conv is not None and result.load is not None,
        result.validates,
        conv.expressions_kept if conv else 0,
        conv.expressions_total if conv else 0,
        len(result.findings.warnings),
        lines,
    )


def run(folder: Path = CORPUS) -> list[Line]:
    flags = manifest(folder)
    with tempfile.TemporaryDirectory() as work:
        return [run_one(folder / name, flags[name], work) for name in sorted(flags)]


def totals(lines: list[Line]) -> dict[str, float]:
    n = len(lines)
    kept = sum(x.kept for x in lines)
    total = sum(x.total for x in lines)
    return {
        "forms": n,
        "imported": sum(x.imported for x in lines),
        "validates": sum(x.imported and x.validates for x in lines),
        "kept": kept,
        "total": total,
        "validates_pct": 100.0 * sum(x.imported and x.validates for x in lines) / n if n else 100.0,
        "compiled_pct": 100.0 * kept / total if total else 100.0,
    }


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else CORPUS
    if not (folder / "MANIFEST.tsv").exists():
        print(f"no corpus in {folder} (MANIFEST.tsv missing)")
        return 1
    lines = run(folder)
    print(f"{'form':58} {'pyx':>3} {'rows':>5} {'imp':>3} {'val':>3} {'expr':>11} {'warn':>5}")
    for x in lines:
        print(
            f"{x.form[:58]:58} {'yes' if x.pyxform else 'no':>3} {x.rows:5} {'yes' if x.imported else 'no':>3} "
            f"{'yes' if x.validates else 'no':>3} {f'{x.kept}/{x.total}':>11} {x.warnings:5}"
            + (f"  CRASH {x.crashed}" if x.crashed else "")
        )
    for name, group in (("all forms", lines), ("pyxform_converts=yes", [x for x in lines if x.pyxform])):
        t = totals(group)
        print(
            f"{name}: {t['forms']} forms, {t['imported']} imported, {t['validates']} validate "
            f"({t['validates_pct']:.1f}%), expressions compiled {t['kept']}/{t['total']} ({t['compiled_pct']:.1f}%)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
