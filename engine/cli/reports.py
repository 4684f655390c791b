"""`sanad report`: list a module's reports, and run one over the organisation's database to JSON,
CSV or XLSX (the monthly ISP statistics, the case-management indicators). Every run is audited."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine import i18n
from engine.cli.common import CliError, data_options, database, registry, say
from engine.language.model import Module
from engine.runtime.registry import Registry
from engine.service import reports
from engine.service.errors import ServiceError
from renderers import tabular


def _module(args: argparse.Namespace, reg: Registry, report_id: str | None = None) -> Module:
    modules = list(reg.modules.values())
    if args.module:
        found = reg.modules.get(args.module)
        if found is None:
            raise CliError(f"there is no module '{args.module}'; the modules are: {', '.join(reg.modules)}")
        return found
    if report_id is not None:
        having = [m for m in modules if report_id in m.reports]
        if len(having) == 1:
            return having[0]
        if len(having) > 1:
            raise CliError(f"several modules have a report '{report_id}': choose one with --module")
        every = sorted({r for m in modules for r in m.reports})
        hint = f"; the reports are: {', '.join(every)}" if every else "; this module has no reports/ folder"
        raise CliError(f"there is no report '{report_id}'{hint} ('sanad report list')")
    return modules[0]


def cmd_report_list(args: argparse.Namespace) -> int:
    reg = registry(args)
    for m in reg.modules.values():
        i18n.use(i18n.translator_for(m, args.locale or m.default_locale))
        for r in reports.listing(m):
            print(f"{m.id}/{r.id:24} {r.audience:8} {r.tables:3} tables  {r.title}")
    return 0


def cmd_report_run(args: argparse.Namespace) -> int:
    if args.format == "xlsx" and not args.output:
        raise CliError("an XLSX file needs a name: add -o FILE.xlsx")
    reg = registry(args)
    module = _module(args, reg, args.report)
    locale = args.locale or module.default_locale
    if locale not in module.locales:
        raise CliError(f"the module offers {', '.join(module.locales)}, not '{locale}'")
    i18n.use(i18n.translator_for(module, locale))
    db = database(args)
    try:
        with db.transaction() as session:
            say(f"counting '{args.report}' in the database…")
            result = reports.run_for_organisation(
                session, module, args.report, args.start, args.end, args.agency, file_format=args.format
            )
    except ServiceError as exc:
        raise CliError(exc.message) from None
    finally:
        db.dispose()
    if args.format == "json":
        labels = args.labels or args.locale is not None  # a language asked for: the labels in it
        _write(args.output, json.dumps(_contract(result, labels), ensure_ascii=False, indent=2).encode() + b"\n")
    else:
        body, _media, _suffix = tabular.report_file(result, args.format)
        _write(args.output, body)
    say(
        f"{result['records']} records counted in {len(result['tables'])} tables"
        + (f"; written to {args.output}" if args.output else "")
    )
    return 0


def _contract(result: dict[str, Any], labels: bool) -> dict[str, Any]:
    """The documented JSON: option codes in rows; labels only when asked for (--labels)."""
    keep = ("id", "title", "dimensions", "rows", "total") + (("labels",) if labels else ())
    tables = [
        {k: t[k] for k in keep if k in t} | ({"measure": t["measure"]} if "measure" in t else {})
        for t in result["tables"]
    ]
    head = ("report", "title", "module", "record_type", "audience", "from", "to", "suppress_below", "records")
    return {**{k: result[k] for k in head}, "tables": tables}


def _write(path: str | None, body: bytes) -> None:
    if not path or path == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    try:
        with open(path, "wb") as fh:
            fh.write(body)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


def add_commands(sub: Any) -> None:
    p = sub.add_parser("report", help="run a module's reports (statistics, indicators) over the database")
    rsub = p.add_subparsers(dest="report_command", metavar="COMMAND", required=True)
    q = rsub.add_parser("list", help="list the reports of the modules")
    data_options(q)
    q.add_argument("--locale", help="the language of the titles")
    q.set_defaults(func=cmd_report_list)
    q = rsub.add_parser(
        "run",
        help="run a report; JSON to stdout by default",
        description="Run a report over every record of the module in the database (small counts suppressed as "
        "the report says). The JSON contract is described in docs/reports.md.",
    )
    q.add_argument("report", help="the report id (see 'sanad report list')")
    q.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first day of the period (inclusive)")
    q.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="last day of the period (inclusive)")
    q.add_argument("--format", choices=("json", "csv", "xlsx"), default="json")
    q.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    q.add_argument("--locale", help="the language of titles and labels (default: the module's)")
    q.add_argument(
        "--labels", action="store_true", help="JSON: add the labels of dimensions and options (implied by --locale)"
    )
    q.add_argument("--agency", metavar="CODE", help="only the records of this agency")
    q.add_argument("--module", help="the module, when several are loaded")
    data_options(q)
    q.set_defaults(func=cmd_report_run)
