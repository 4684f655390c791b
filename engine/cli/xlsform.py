"""`sanad import-xlsform`: an XLSForm workbook into a module's definition files (engine.xlsform).

Other XLSForm commands (`export-xlsform`) are added to `add_commands` here."""

from __future__ import annotations

import argparse
import os
from typing import Any

from engine.cli.common import plural


def cmd_import(args: argparse.Namespace) -> int:
    from engine.xlsform import import_xlsform

    result = import_xlsform(args.xlsform, args.module, record_type=args.record_type, form_id=args.form_id)
    for f in result.findings.items:
        print(f.format())
    for path in result.written:
        print(f"wrote {os.path.relpath(path)}")
    conv = result.conversion
    if conv is None or result.load is None:
        print(f"{args.xlsform}: not imported")
        return 1
    for d in result.module_findings:
        print(d.format())
    warnings = len(result.findings.warnings)
    summary = (
        f"{args.xlsform}: form '{conv.form_id}' ({plural(conv.questions, 'question')}), "
        f"{conv.expressions_kept} of {plural(conv.expressions_total, 'expression')} kept, "
        f"{plural(warnings, 'import warning')}"
    )
    if result.validates:
        print(f"{summary}; {args.module} validates")
        return 0
    errors = len(result.load.report.errors) + len(result.findings.errors)
    print(f"{summary}; {args.module} does not validate ({plural(errors, 'error')} above)")
    return 1


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "import-xlsform",
        help="convert an XLSForm (.xlsx) into a form of a module (creating the module if needed)",
        description="Convert an XLSForm's survey, choices and settings sheets into Sanad definition files "
        "and translation catalogs, report what could not be represented (FILE:sheet:ROW), then validate "
        "the module. Exit status 0 if the module validates, 1 otherwise.",
    )
    p.add_argument("xlsform", metavar="FORM.xlsx", help="the XLSForm workbook")
    p.add_argument(
        "--module", required=True, metavar="PATH", help="the module folder (created when it has no module.yaml)"
    )
    p.add_argument(
        "--record-type",
        default=None,
        metavar="ID",
        help="the record type the form belongs to (default: the one a form exported by Sanad names, else case)",
    )
    p.add_argument("--form-id", metavar="ID", help="the form id (default: settings form_id, else the file name)")
    p.set_defaults(func=cmd_import)
