"""`sanad i18n extract|update|compile|status`: the translators' catalogs, kept in step with the sources."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from engine.i18n import catalogs
from engine.language import packaged


def cmd_i18n(args: argparse.Namespace) -> int:
    paths = args.paths or [packaged.reference_module()]
    if args.i18n_command == "extract":
        for t in catalogs.targets(paths):
            pot = os.path.join(t.folder, f"{t.domain}.pot")
            catalogs.write(pot, t.template)
            print(f"{os.path.relpath(pot)}: {len(t.template)} strings")
        if args.check:
            problems = catalogs.stale(paths)
            for p in problems:
                print(p, file=sys.stderr)
            return 1 if problems else 0
        return 0
    if args.i18n_command == "update":
        written = catalogs.update(paths)
        for path in written:
            print(f"wrote {os.path.relpath(path)}")
        if not written:
            print("every catalog is up to date")
        return 0
    if args.i18n_command == "compile":
        for path in catalogs.compile_all(paths):
            print(f"compiled {os.path.relpath(path)}")
        return 0
    failed = False
    for s in catalogs.status(paths):
        print(
            f"{s.path}: {s.translated}/{s.total} translated ({s.percent:.1f}%), {s.fuzzy} fuzzy, "
            f"{len(s.missing)} missing"
        )
        for m in s.missing[: args.show]:
            print(f"    missing: {m}")
        if len(s.missing) > args.show:
            print(f"    … and {len(s.missing) - args.show} more")
        for b in s.placeholder_problems:
            print(f"    placeholder: {b}")
        if s.percent < args.min or s.placeholder_problems:
            failed = True
    return 1 if failed else 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("i18n", help="translation catalogs: extract, update, compile, status")
    isub = p.add_subparsers(dest="i18n_command", metavar="COMMAND", required=True)
    for name, text in (
        ("extract", "write the .pot templates from the sources and the definitions"),
        (
            "update",
            "write the templates and bring every .po catalog in step (keeps translations; "
            "changed strings become fuzzy with the previous text)",
        ),
        ("compile", "write .mo files next to the .po catalogs"),
        ("status", "translated / fuzzy / missing per catalog; exit 1 below --min"),
    ):
        q = isub.add_parser(name, help=text)
        q.add_argument("paths", nargs="*", metavar="PATH", help="module folders (default: the GBV reference module)")
        if name == "extract":
            q.add_argument("--check", action="store_true", help="exit 1 if a catalog lacks a string of the sources")
        if name == "status":
            q.add_argument("--min", type=float, default=0.0, metavar="PERCENT", help="fail below this percentage")
            q.add_argument("--show", type=int, default=10, help="list at most this many missing strings per catalog")
        q.set_defaults(func=cmd_i18n)
