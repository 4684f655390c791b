"""`sanad export`: records of a record type (chosen forms or fields, optionally de-identified), or a
layout the module declares (the GBVIMS Incident Recorder), to CSV or XLSX, streamed with a progress
line, optionally inside a passphrase-protected ZIP. Every export is audited."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tempfile
import time
from typing import Any

from engine import i18n
from engine.cli.common import CliError, data_options, database, registry, say
from engine.language.model import Module
from engine.service import exports
from engine.service.errors import ServiceError
from renderers import exporting


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    name = args.output.lower().removesuffix(".zip")
    return "xlsx" if name.endswith(".xlsx") else "csv"


def _passphrase(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        phrase = sys.stdin.readline().rstrip("\n")
    elif args.password:
        phrase = getpass.getpass("Passphrase for the file: ")
        if getpass.getpass("The same passphrase again: ") != phrase:
            raise CliError("the two passphrases differ; nothing was written")
    else:
        return None
    try:
        exporting.check_passphrase(phrase)
    except ValueError as exc:
        raise CliError(f"{exc}; nothing was written") from None
    return phrase


class _Progress:
    """'exporting 12,000 of 100,000 records (12%)' on the terminal, at most a few times a second."""

    def __init__(self, total: int) -> None:
        self.total, self.last = total, 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, n: int) -> None:
        now = time.monotonic()
        if n != self.total and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        pct = f" ({100 * n // self.total}%)" if self.total else ""
        line = f"sanad: exporting {n:,} of {self.total:,} records{pct}"
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def _module(args: argparse.Namespace) -> Module:
    reg = registry(args)
    if args.module:
        m = reg.modules.get(args.module)
        if m is None:
            raise CliError(f"there is no module '{args.module}'; the modules are: {', '.join(reg.modules)}")
        return m
    return next(iter(reg.modules.values()))


def _run(args: argparse.Namespace, make: Any) -> int:
    kind = _format(args)
    phrase = _passphrase(args)
    module = _module(args)
    i18n.use(i18n.translator_for(module, args.locale or module.default_locale))
    target = os.path.abspath(args.output)
    if os.path.isdir(target):
        raise CliError(f"{args.output} is a folder: name the file to write")
    db = database(args)
    folder = os.path.dirname(target) or "."
    fd, temp = tempfile.mkstemp(prefix=".sanad-export-", dir=folder)
    os.close(fd)
    written = 0
    try:
        with db.transaction() as session:
            plan = make(session, module)
            exports.audited(session, plan, None, kind, phrase is not None, {})
            say(f"exporting {plan.count:,} records of '{plan.title}' to {args.output}")
            progress = _Progress(plan.count)
            with open(temp, "wb") as fh:
                if kind == "csv":
                    written = exporting.write_csv(fh, plan.header, plan.lines, progress)
                else:
                    rtl = i18n.locale_direction(i18n.current().locale) == "rtl"
                    written = exporting.write_xlsx(fh, plan.sheet, plan.header, plan.lines, rtl, progress)
            progress.done()
        if phrase is not None:
            inner = os.path.basename(target).removesuffix(".zip")
            if not inner.endswith(f".{kind}"):
                inner += f".{kind}"
            exporting.encrypt(temp, inner, target if target.endswith(".zip") else target + ".zip", phrase)
            target = target if target.endswith(".zip") else target + ".zip"
        else:
            os.replace(temp, target)
    except ServiceError as exc:
        raise CliError(exc.message) from None
    finally:
        if os.path.exists(temp):
            os.remove(temp)
        db.dispose()
    say(f"{written:,} records written to {os.path.relpath(target)}" + (" (encrypted ZIP)" if phrase else ""))
    return 0


def cmd_export_records(args: argparse.Namespace) -> int:
    forms = [x for x in (args.forms or "").split(",") if x]
    fields = [x for x in (args.fields or "").split(",") if x]

    def make(session: Any, module: Module) -> exports.Plan:
        return exports.records_export(
            session,
            module,
            args.record_type,
            forms=forms or None,
            fields=fields or None,
            deidentified=args.deidentified,
            agency=args.agency,
        )

    return _run(args, make)


def cmd_export_run(args: argparse.Namespace) -> int:
    def make(session: Any, module: Module) -> exports.Plan:
        return exports.defined_export(session, module, args.export, agency=args.agency)

    return _run(args, make)


def cmd_export_list(args: argparse.Namespace) -> int:
    reg = registry(args)
    for m in reg.modules.values():
        for d in m.exports.values():
            print(f"{m.id}/{d.id:24} {d.record_type:12} {len(d.columns):3} columns  {d.title}")
    return 0


def _common(q: argparse.ArgumentParser) -> None:
    q.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write (.csv or .xlsx)")
    q.add_argument("--format", choices=("csv", "xlsx"), help="default: from the file name")
    q.add_argument("--agency", metavar="CODE", help="only the records of this agency")
    q.add_argument("--module", help="the module, when several are loaded")
    q.add_argument("--locale", help="the language of the sheet's direction and title")
    g = q.add_mutually_exclusive_group()
    g.add_argument(
        "--password",
        action="store_true",
        help="ask for a passphrase (12 characters or more) and write an encrypted ZIP",
    )
    g.add_argument("--password-stdin", action="store_true", help="read the passphrase from standard input")
    data_options(q)


def add_commands(sub: Any) -> None:
    p = sub.add_parser("export", help="export records to CSV or XLSX (de-identified if asked), or a declared layout")
    esub = p.add_subparsers(dest="export_command", metavar="COMMAND", required=True)
    q = esub.add_parser("records", help="the records of a record type, one line each")
    q.add_argument("record_type", help="e.g. case or incident")
    q.add_argument("--forms", metavar="ID,ID", help="only these forms")
    q.add_argument("--fields", metavar="ID,ID", help="only these fields")
    q.add_argument(
        "--deidentified",
        action="store_true",
        help="drop direct identifiers, dates to the month, numbers to bands, pseudonyms for ids",
    )
    _common(q)
    q.set_defaults(func=cmd_export_records)
    q = esub.add_parser("run", help="a layout the module declares in exports/ (e.g. incident_recorder)")
    q.add_argument("export", help="the export id (see 'sanad export list')")
    _common(q)
    q.set_defaults(func=cmd_export_run)
    q = esub.add_parser("list", help="list the layouts the modules declare")
    data_options(q)
    q.set_defaults(func=cmd_export_list)
