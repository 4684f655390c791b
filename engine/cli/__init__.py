"""The `sanad` command line: validate modules, run their scenario tests, show the schemas."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from engine import __version__
from engine.diagnostics import Diagnostic, display_path, to_json
from engine.language import schema
from engine.language.loader import load_module
from engine.language.yamlfile import YamlDoc
from engine.runtime.scenarios import check_scenarios, collect


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def cmd_validate(args: argparse.Namespace) -> int:
    everything: list[Diagnostic] = []
    lines: list[str] = []
    for path in args.paths:
        result = load_module(path)
        if result.module is not None:
            skip = result.files.skip_scenarios if result.files is not None else set()
            check_scenarios(result.module, result.docs.get("scenarios", []), result.report, skip)
        found = result.report.sorted()
        if args.no_warnings:
            found = [d for d in found if d.severity == "error"]
        everything.extend(found)
        if args.format == "text":
            lines.extend(d.format() for d in found)
            errors = sum(1 for d in found if d.severity == "error")
            warnings = len(found) - errors
            if result.module is not None and not errors:
                st = result.module.stats()
                lines.append(
                    f"{display_path(path)}: OK: {_plural(st['forms'], 'form')}, {_plural(st['fields'], 'field')}, "
                    f"{_plural(st['lookups'], 'lookup')}, {_plural(st['workflows'], 'workflow')}, "
                    f"{_plural(st['roles'], 'role')}" + (f" ({_plural(warnings, 'warning')})" if warnings else "")
                )
    errors = sum(1 for d in everything if d.severity == "error")
    warnings = len(everything) - errors
    if args.format == "json":
        print(to_json(everything))
    else:
        for line in lines:
            print(line)
        print(f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {_plural(len(args.paths), 'module')}")
    return 1 if errors else 0


def cmd_test(args: argparse.Namespace) -> int:
    passed = failed = 0
    broken = False
    for path in args.paths:
        suite = collect(path)
        problems = [d for d in suite.report.sorted() if d.severity == "error"]
        for d in problems:
            print(d.format())
        if suite.module is None or problems:
            broken = True
            print(
                f"{display_path(path)}: the module has errors; fix them first (sanad validate {display_path(path)})"
                if suite.module is None
                else f"{display_path(path)}: some scenarios could not run (see above)"
            )
            if suite.module is None:
                continue
        for sc in suite.scenarios:
            fails = sc.run()
            if fails:
                failed += 1
                for f in fails:
                    print(f.format())
            else:
                passed += 1
                if args.verbose:
                    print(f"ok  {display_path(sc.doc.file)}: {sc.name}")
    print(f"{_plural(passed + failed, 'scenario')}: {passed} passed, {failed} failed")
    return 1 if failed or broken else 0


def cmd_compile(args: argparse.Namespace) -> int:
    from renderers.json.form import record_type_to_json

    result = load_module(args.path)
    if result.module is None:
        for d in result.report.sorted():
            print(d.format(), file=sys.stderr)
        print(f"{display_path(args.path)}: the module has errors; fix them first", file=sys.stderr)
        return 1
    module = result.module
    wanted = args.record_type or list(module.record_types)
    unknown = [r for r in wanted if r not in module.record_types]
    if unknown:
        print(f"no record type {unknown[0]!r}; the module has: {', '.join(module.record_types)}", file=sys.stderr)
        return 2
    out = {r: record_type_to_json(module, r) for r in wanted}
    print(json.dumps(out, ensure_ascii=False, indent=2 if args.pretty else None))
    return 0


def _sources(doc: YamlDoc) -> list[str]:
    files = {doc.file} | {src.file for src, _ in doc.origins.values()}
    return sorted(display_path(f) for f in files)


def cmd_show(args: argparse.Namespace) -> int:
    import yaml

    result = load_module(args.path)
    files = result.files
    errors = result.report.errors
    if files is None or files.module is None or errors:
        for d in result.report.sorted():
            print(d.format(), file=sys.stderr)
        print(f"{display_path(args.path)}: the module has errors; fix them first", file=sys.stderr)
        return 1
    sections: list[tuple[str, YamlDoc]] = [("module", files.module)]
    if files.roles is not None:
        sections.append(("roles", files.roles))
    for kind in ("lookup", "form", "workflow"):
        sections.extend((kind, d) for d in sorted(files.docs[kind], key=lambda d: str(d.data["id"])))
    wanted = [
        (k, d)
        for k, d in sections
        if (not args.kind or k == args.kind) and (not args.id or d.data.get("id") == args.id)
    ]
    if not wanted:
        print("nothing matches; kinds are module, roles, lookup, form, workflow", file=sys.stderr)
        return 2
    chain = " extended by ".join(display_path(p) for p in (*reversed(files.chain), files.path))
    out = [f"# The module {display_path(args.path)} as Sanad reads it ({chain}); generated by sanad show."]
    for kind, doc in wanted:
        out.append("---")
        out.append(f"# {kind}: from {', '.join(_sources(doc))}")
        out.append(yaml.safe_dump(doc.data, sort_keys=False, allow_unicode=True, width=110).rstrip())
    print("\n".join(out))
    return 0


# -- data commands ------------------------------------------------------------------------------
class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 1."""


def _database(args: argparse.Namespace, *, create: bool = False) -> tuple[str, Any]:
    from engine.storage import db

    url = db.resolve_url(args.db)
    try:
        engine = db.make_engine(url)
        if db.is_new(engine):
            if not create:
                raise CliError(f"the database {db.display_url(url)} has no Sanad tables yet; run 'sanad db upgrade'")
            print(f"sanad: setting up a new database at {db.display_url(url)}", file=sys.stderr)
            db.upgrade(engine)
        elif db.current_revision(engine) != db.head_revision(engine):
            raise CliError(
                f"the database {db.display_url(url)} needs a migration; run 'sanad db upgrade' (back it up first)"
            )
    except CliError:
        raise
    except Exception as exc:  # connection problems: say which database and why, no traceback
        raise CliError(f"cannot use the database {db.display_url(url)}: {str(exc).splitlines()[0]}") from None
    return url, engine


def _registry(args: argparse.Namespace) -> Any:
    from engine.runtime.registry import DEFAULT_DEFINITIONS, DefinitionsError, Registry

    paths = args.definitions or [DEFAULT_DEFINITIONS]
    try:
        return Registry.load(paths)
    except DefinitionsError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        raise CliError("the definitions have errors; the server was not started") from None


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from engine.storage import db

    url = db.resolve_url(args.db)
    try:
        engine = db.make_engine(url)
        before = db.current_revision(engine)
        db.upgrade(engine)
        after = db.current_revision(engine)
    except Exception as exc:
        raise CliError(f"cannot migrate {db.display_url(url)}: {str(exc).splitlines()[0]}") from None
    print(
        f"{db.display_url(url)}: "
        + ("already up to date" if before == after else f"migrated from {before or 'empty'} to {after}")
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from engine.web.app import Settings, create_app, secret_key

    registry = _registry(args)
    url, engine = _database(args, create=True)
    if args.demo:
        _demo(registry, engine)
    settings = Settings(
        definitions=args.definitions or [], database_url=url, secret_key=secret_key(), idle_minutes=args.idle_minutes
    )
    app = create_app(settings, registry)
    names = ", ".join(f"{m.id} {m.version}" for m in registry.modules.values())
    print(
        f"sanad: serving {names} on http://{args.host}:{args.port} (database {settings.database_url.split('://')[0]})",
        file=sys.stderr,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        proxy_headers=bool(args.behind_proxy),
        forwarded_allow_ips=args.behind_proxy or None,
    )
    return 0


def _demo(registry: Any, engine: Any) -> None:
    from engine import demo
    from engine.storage import db

    module = next((m for m in registry.modules.values() if m.id == "gbv"), None)
    if module is None:
        raise CliError("--demo needs the GBV module (definitions/gbv) among the definitions")
    print("sanad: creating the demo agency, accounts, cases and incidents…", file=sys.stderr)
    try:
        made = demo.seed(db.session_factory(engine), registry, module.id)
    except ValueError as exc:
        if "empty database" not in str(exc):
            raise CliError(str(exc)) from None
        print(
            "sanad: the database already holds data, so no demo data was added; the demo accounts' passwords "
            "were printed when it was created",
            file=sys.stderr,
        )
        return
    width = max(len(a.username) for a in made)
    print("\nDemo accounts (the passwords are shown only now; write down the ones you need):\n")
    for a in made:
        print(f"  {a.username:{width}}  {a.password}   {a.label}")
    print()


def _read_password(args: argparse.Namespace) -> str:
    import getpass

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password (10 characters or more): ")
        if getpass.getpass("Same password again: ") != password:
            raise CliError("the two passwords differ")
    else:
        raise CliError("no password: use --password-stdin to read it from standard input")
    return password


def cmd_users_add(args: argparse.Namespace) -> int:
    from engine.service import accounts
    from engine.service.errors import ServiceError
    from engine.storage import db

    registry = _registry(args)
    module = registry.module(args.module) if args.module else next(iter(registry.modules.values()))
    if module is None:
        raise CliError(f"no module '{args.module}' in the definitions; there is {', '.join(registry.modules)}")
    _, engine = _database(args, create=True)
    password = _read_password(args)
    try:
        with db.transaction(db.session_factory(engine)) as session:
            user = accounts.add_user(
                session,
                accounts.hasher(),
                module,
                args.name,
                password,
                args.role,
                args.agency,
                args.group,
                args.full_name,
            )
            print(f"added {user.username} ({args.role} in {module.id})")
    except ServiceError as exc:
        raise CliError(exc.message) from None
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from engine.storage import db
    from engine.storage.models import Agency, Group, User, UserGroup

    _, engine = _database(args)
    with db.session_factory(engine)() as session:
        agencies = {aid: code for aid, code in session.execute(select(Agency.id, Agency.code))}
        groups: dict[int, list[str]] = {}
        for uid, code in session.execute(
            select(UserGroup.user_id, Group.code).join(Group, Group.id == UserGroup.group_id)
        ):
            groups.setdefault(uid, []).append(code)
        users = list(session.scalars(select(User).order_by(User.username)))
    roles: dict[str, set[str]] | None = None
    if args.definitions:
        roles = {mid: set(m.roles) for mid, m in _registry(args).modules.items()}
    print(f"{'user':20} {'module':12} {'role':18} {'agency':12} {'groups':20} status")
    for u in users:
        print(
            f"{u.username:20} {u.module:12} {u.role:18} {agencies.get(u.agency_id or -1, '-'):12} "
            f"{','.join(groups.get(u.id, [])) or '-':20} {'disabled' if u.disabled else 'active'}"
            + (
                "  (role not in the definitions)"
                if roles is not None and u.role not in roles.get(u.module, set())
                else ""
            )
        )
    print(f"{len(users)} user{'s' if len(users) != 1 else ''}")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    from engine.service import accounts
    from engine.service.errors import ServiceError
    from engine.storage import db

    _, engine = _database(args)
    try:
        with db.transaction(db.session_factory(engine)) as session:
            accounts.disable_user(session, args.name)
    except ServiceError as exc:
        raise CliError(exc.message) from None
    print(f"disabled {args.name}; their sessions have ended")
    return 0


def cmd_audit_list(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from engine.service import audit
    from engine.storage import db

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise CliError("--since takes a date like 2026-11-01 or 2026-11-01T08:00") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
    _, engine = _database(args)
    with db.session_factory(engine)() as session:
        rows = audit.entries(
            session, username=args.user, record_id=args.record, action=args.action, since=since, limit=args.limit
        )
        if args.format == "json":
            print(
                json.dumps(
                    [
                        {
                            "id": e.id,
                            "at": audit.iso(e.at),
                            "user": e.username,
                            "ip": e.ip,
                            "action": e.action,
                            "record_id": e.record_id,
                            "details": e.details,
                        }
                        for e in rows
                    ],
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return 0
        for e in reversed(rows):
            details = " ".join(f"{k}={v}" for k, v in (e.details or {}).items() if v not in (None, "", []))
            print(
                f"{e.at.strftime('%Y-%m-%d %H:%M:%S')}  {e.username or '-':16} {e.ip or '-':15} {e.action:18} "
                f"{(e.record_id or '-')[:8]:8}  {details}"
            )
        print(f"{len(rows)} entr{'ies' if len(rows) != 1 else 'y'}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    if args.list or not args.kind:
        for kind in schema.KINDS:
            print(f"{kind:10} {schema.schema_path(kind)}")
        return 0
    print(json.dumps(schema.load_schema(args.kind), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sanad",
        description="Sanad: declarative forms and workflows for humanitarian case management.",
    )
    parser.add_argument("--version", action="version", version=f"sanad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "validate",
        help="check modules: YAML, schemas, references, expressions, workflows",
        description="Check one or more module folders and report every problem as "
        "path:line:column: severity CODE: message (hint). Exit 1 on any error.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="a module folder (the one holding module.yaml)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    p.add_argument("--no-warnings", action="store_true", help="show errors only")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "test",
        help="run the scenario tests in each module's tests/ folder",
        description="Run scenario tests; print each failed expectation with its place. Exit 1 on any failure.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="a module folder")
    p.add_argument("-v", "--verbose", action="store_true", help="also list the scenarios that pass")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser(
        "compile",
        help="print a module's forms with compiled expressions as JSON (for browsers)",
        description="Load and check a module, then print each record type's forms, fields and "
        "expression ASTs as JSON, in evaluation order.",
    )
    p.add_argument("path", metavar="PATH", help="a module folder")
    p.add_argument("--record-type", action="append", help="only this record type (repeatable)")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")
    p.set_defaults(func=cmd_compile)

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
        q.add_argument("paths", nargs="*", metavar="PATH", help="module folders (default: definitions/gbv)")
        if name == "extract":
            q.add_argument("--check", action="store_true", help="exit 1 if a catalog lacks a string of the sources")
        if name == "status":
            q.add_argument("--min", type=float, default=0.0, metavar="PERCENT", help="fail below this percentage")
            q.add_argument("--show", type=int, default=10, help="list at most this many missing strings per catalog")
        q.set_defaults(func=lambda a: __import__("engine.i18n.catalogs", fromlist=["main"]).main(a))

    p = sub.add_parser(
        "show",
        help="print a module as Sanad reads it, an overlay merged with its base, as YAML",
        description="Print the module's files after merging any overlays (extends:), as YAML documents, each "
        "with a comment naming the files it came from.",
    )
    p.add_argument("path", metavar="PATH", help="a module folder")
    p.add_argument("--kind", choices=["module", "roles", "lookup", "form", "workflow"], help="only this kind of file")
    p.add_argument("--id", help="only the form, lookup or workflow with this id")
    p.set_defaults(func=cmd_show)

    def data_options(p: argparse.ArgumentParser) -> None:
        # every data command takes both, so several deployments can be driven from one shell
        p.add_argument(
            "--definitions",
            action="append",
            metavar="PATH",
            help="a module folder (repeatable; default: definitions/gbv); users list marks roles it does not define",
        )
        p.add_argument(
            "--db",
            metavar="URL",
            help="database URL (default: $SANAD_DATABASE_URL, then a SQLite file in the data folder, $SANAD_DATA_DIR)",
        )

    p = sub.add_parser(
        "serve",
        help="serve the records service (JSON API) on http://127.0.0.1:8000",
        description="Serve the modules. A new database is set up automatically.",
    )
    data_options(p)
    p.add_argument(
        "--demo",
        action="store_true",
        help="on an empty database, add a demo agency, one account per role and about 40 synthetic cases, "
        "and print the accounts",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument(
        "--behind-proxy",
        metavar="IPS",
        help="trust X-Forwarded-Proto/For from these proxy addresses (e.g. 127.0.0.1) so that cookies are "
        "marked Secure behind a TLS proxy and the audit log records the client's address",
    )
    p.add_argument(
        "--idle-minutes",
        type=int,
        default=int(os.environ.get("SANAD_IDLE_MINUTES", "30")),
        help="sign users out after this many idle minutes (default: 30, or $SANAD_IDLE_MINUTES)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    q = dbsub.add_parser("upgrade", help="create or migrate the database to this version of Sanad")
    data_options(q)
    q.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("users", help="add, list and disable user accounts")
    usub = p.add_subparsers(dest="users_command", metavar="COMMAND", required=True)
    q = usub.add_parser("add", help="add a user (the password is asked, or read with --password-stdin)")
    q.add_argument("name", help="the user name they sign in with")
    q.add_argument("--role", required=True, help="a role id from the module's roles.yaml")
    q.add_argument("--agency", help="the agency code (created if new)")
    q.add_argument("--group", action="append", help="a user group code (repeatable; created if new)")
    q.add_argument("--module", help="the module id (default: the first module served)")
    q.add_argument("--full-name", help="the person's name, shown to colleagues")
    q.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    data_options(q)
    q.set_defaults(func=cmd_users_add)
    q = usub.add_parser("list", help="list the user accounts")
    data_options(q)
    q.set_defaults(func=cmd_users_list)
    q = usub.add_parser("disable", help="disable an account and end its sessions")
    q.add_argument("name")
    data_options(q)
    q.set_defaults(func=cmd_users_disable)

    p = sub.add_parser("audit", help="read the audit log (for the data protection officer)")
    asub = p.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    q = asub.add_parser("list", help="list audit entries, newest last")
    q.add_argument("--user", help="only this user name")
    q.add_argument("--record", help="only this record (id or its first characters)")
    q.add_argument("--action", help="only this action, e.g. record.read or login.failure")
    q.add_argument("--since", help="only entries from this date/time (ISO, UTC if no zone)")
    q.add_argument("--limit", type=int, default=200, help="at most this many entries (default 200)")
    q.add_argument("--format", choices=["text", "json"], default="text")
    data_options(q)
    q.set_defaults(func=cmd_audit_list)

    p = sub.add_parser("schema", help="print the JSON Schema of a definition file kind (for editors)")
    p.add_argument("kind", nargs="?", choices=schema.KINDS, help="which schema to print")
    p.add_argument("--list", action="store_true", help="list the schema files and their paths")
    p.set_defaults(func=cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except CliError as exc:
        print(f"sanad: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug in Sanad, not in the definitions: say so, briefly
        if os.environ.get("SANAD_DEBUG"):
            raise
        print(
            f"sanad: internal error ({type(exc).__name__}: {exc}). This is a bug in Sanad, not in your files; "
            "please report it with the command you ran. Set SANAD_DEBUG=1 to see the traceback.",
            file=sys.stderr,
        )
        return 3
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
