"""`sanad export-xlsform PATH --form ID -o FORM.xlsx [--locale fr]`: a form of a module written as an
XLSForm (survey, choices and settings sheets) for ODK, Kobo or any tool that reads XLSForms.
What has no XLSForm equivalent is reported as a warning naming the field (engine/xlsform/export.py)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from engine.cli.common import CliError, plural
from engine.language.loader import load_module
from engine.xlsform.export import write_xlsform


def cmd_export_xlsform(args: argparse.Namespace) -> int:
    result = load_module(args.path)
    if result.module is None:
        for d in result.report.sorted():
            print(d.format(), file=sys.stderr)
        raise CliError(f"{args.path}: the module has errors; fix them first (sanad validate {args.path})")
    if not args.output.lower().endswith(".xlsx"):
        raise CliError(f"the output file must end in .xlsx, not '{os.path.basename(args.output)}'")
    locales = [loc.strip() for value in args.locale or [] for loc in value.split(",") if loc.strip()]
    try:
        warnings = write_xlsform(result.module, args.form, args.output, locales or None)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(
        f"sanad: wrote {args.output} ({', '.join(args.form)}; {plural(len(warnings), 'warning')})",
        file=sys.stderr,
    )
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "export-xlsform",
        help="write a form as an XLSForm (.xlsx) for ODK, Kobo and other XLSForm tools",
        description="Write a form of a module as an XLSForm: survey, choices and settings sheets, labels "
        "in every language of the module. Rules XLSForm cannot express are left out with a warning "
        "naming the field, and kept in sanad:: columns.",
    )
    p.add_argument("path", help="the module folder")
    p.add_argument(
        "--form",
        action="append",
        required=True,
        metavar="ID",
        help="the form to export (repeat it to export several forms of one record type, each as a group)",
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE.xlsx", help="the XLSForm file to write")
    p.add_argument(
        "--locale",
        action="append",
        metavar="CODE",
        help="only these languages (repeatable or comma-separated; default: every locale of the module; "
        "the module's default language is always included)",
    )
    p.set_defaults(func=cmd_export_xlsform)
