"""Commands for the person who runs Sanad: the database, user accounts and the audit log."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Any

from engine.cli import protection
from engine.cli.common import CliError, data_options, database, plural, registry, say
from engine.service import accounts, audit
from engine.service.database import Database, DatabaseUnavailable, display_url, resolve_url
from engine.service.errors import NotFound, ServiceError


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    reg = registry(args)  # the modules whose reports' periods are indexed
    try:
        db = Database.open(url)
    except Exception as exc:
        raise CliError(f"cannot migrate {display_url(url)}: {str(exc).splitlines()[0]}") from None
    try:
        before = db.revision()
        if before is not None:  # one line before each (some rewrite every record: minutes at scale)
            for revision, title in db.pending_migrations():
                say(f"migrating to {revision}: {title}")
        db.upgrade()
        after = db.revision()
        # made here too, by the owner of the tables: an application role may not make them itself
        db.answer_indexes(reg.modules.values(), announce=say)
    except DatabaseUnavailable as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:
        raise CliError(f"cannot migrate {display_url(url)}: {str(exc).splitlines()[0]}") from None
    finally:
        db.dispose()
    print(
        f"{display_url(url)}: "
        + ("already up to date" if before == after else f"migrated from {before or 'empty'} to {after}")
    )
    return 0


def cmd_db_grant(args: argparse.Namespace) -> int:
    db = database(args)
    try:
        statements = db.grant_app_role(args.role)
    except DatabaseUnavailable as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:
        raise CliError(f"cannot grant to '{args.role}': {str(exc).splitlines()[0]}") from None
    finally:
        db.dispose()
    for statement in statements:
        print(statement + ";")
    print(f"the role {args.role} may now use Sanad's tables; the audit log only to add entries and read them")
    return 0


def _read_password(args: argparse.Namespace, prompt: str = "Password") -> str:
    """The password of --password-stdin (the first line of stdin), else asked twice at the terminal."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise CliError(
                "no password on standard input: --password-stdin reads the password from its first line "
                "(e.g. printf '%s\\n' \"$PASSWORD\" | sanad users …)"
            )
    elif sys.stdin.isatty():
        try:
            password = getpass.getpass(f"{prompt} ({accounts.MIN_PASSWORD_LENGTH} characters or more): ")
            if getpass.getpass("Same password again: ") != password:
                raise CliError("the two passwords differ; nothing was changed")
        except EOFError:
            raise CliError("no password given; nothing was changed") from None
    else:
        raise CliError("no password: use --password-stdin to read it from standard input")
    return password


def cmd_users_add(args: argparse.Namespace) -> int:
    reg = registry(args)
    module = reg.module(args.module) if args.module else next(iter(reg.modules.values()))
    if module is None:
        raise CliError(f"no module '{args.module}' in the definitions; there is {', '.join(reg.modules)}")
    db = database(args, create=True)
    password = _read_password(args)
    try:
        with db.transaction() as session:
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
    finally:
        db.dispose()
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    db = database(args)
    try:
        with db.reading() as session:
            users = accounts.list_accounts(session)
    finally:
        db.dispose()
    roles: dict[str, set[str]] | None = None
    required: set[tuple[str, str]] = set()  # (module, role) whose users need a second factor
    if args.definitions:
        modules = registry(args).modules
        roles = {mid: set(m.roles) for mid, m in modules.items()}
        required = {(mid, r.id) for mid, m in modules.items() for r in m.roles.values() if r.second_factor_required}
    print(f"{'user':20} {'module':12} {'role':18} {'agency':12} {'groups':20} {'2fa':8} status")
    for u in users:
        two_fa = "on" if u.second_factor else "missing" if (u.module, u.role) in required else "off"
        print(
            f"{u.username:20} {u.module:12} {u.role:18} {u.agency or '-':12} "
            f"{','.join(u.groups) or '-':20} {two_fa:8} {'disabled' if u.disabled else 'active'}"
            + (
                "  (role not in the definitions)"
                if roles is not None and u.role not in roles.get(u.module, set())
                else ""
            )
        )
    print(f"{len(users)} user{'s' if len(users) != 1 else ''}")
    if required and any(not u.second_factor and (u.module, u.role) in required for u in users):
        print("2fa 'missing': the role requires a second factor; the user sets it up at their next sign-in")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    db = database(args)
    try:
        with db.transaction() as session:
            accounts.disable_user(session, args.name)
    except ServiceError as exc:
        raise CliError(exc.message) from None
    finally:
        db.dispose()
    print(f"disabled {args.name}; their sessions have ended")
    return 0


def cmd_users_reset_password(args: argparse.Namespace) -> int:
    db = database(args)
    try:
        with db.reading() as session:  # before asking for the password: a mistyped name fails at once
            known = accounts.find_user(session, args.name) is not None
        if not known:
            raise NotFound(f"there is no user '{args.name}'")
        password = _read_password(args, f"New password for {args.name}")
        with db.transaction() as session:
            user, ended = accounts.reset_password(session, accounts.hasher(), args.name, password)
            disabled = user.disabled
    except NotFound as exc:
        raise CliError(f"{exc.message}; 'sanad users list' shows the accounts") from None
    except ServiceError as exc:
        raise CliError(f"{exc.message}; nothing was changed") from None
    finally:
        db.dispose()
    print(
        f"Password reset for {args.name}; {plural(ended, 'session')} ended."
        + (" The account is disabled and stays so: they still cannot sign in." if disabled else "")
    )
    return 0


def cmd_users_reset_2fa(args: argparse.Namespace) -> int:
    db = database(args)
    try:
        with db.transaction() as session:
            user, had, ended = accounts.reset_second_factor(session, args.name)
            disabled = user.disabled
    except NotFound as exc:
        raise CliError(f"{exc.message}; 'sanad users list' shows the accounts") from None
    except ServiceError as exc:
        raise CliError(exc.message) from None
    finally:
        db.dispose()
    if had:
        print(
            f"Second factor removed for {args.name}: their app's codes and recovery codes no longer work; "
            f"{plural(ended, 'session')} ended. At their next sign-in they set up a new one if their role "
            "requires it (or on their account page)." + (" The account is disabled and stays so." if disabled else "")
        )
    else:
        print(f"{args.name} had no second factor; nothing to remove ({plural(ended, 'session')} ended).")
    return 0


def cmd_audit_list(args: argparse.Namespace) -> int:
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise CliError("--since takes a date like 2026-11-01 or 2026-11-01T08:00") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
    db = database(args)
    try:
        with db.reading() as session:
            entries = audit.search(
                session, username=args.user, record_id=args.record, action=args.action, since=since, limit=args.limit
            )
    finally:
        db.dispose()
    if args.format == "json":
        print(json.dumps(entries, ensure_ascii=False, indent=2))
        return 0
    for e in reversed(entries):
        details = " ".join(f"{k}={v}" for k, v in e["details"].items() if v not in (None, "", []))
        at = datetime.fromisoformat(e["at"]).strftime("%Y-%m-%d %H:%M:%S")
        print(
            f"{at}  {e['user'] or '-':16} {e['ip'] or '-':15} {e['action']:18} {(e['record_id'] or '-')[:8]:8}  {details}"
        )
    print(f"{len(entries)} entr{'ies' if len(entries) != 1 else 'y'}")
    return 0


def cmd_agencies_add(args: argparse.Namespace) -> int:
    db = database(args, create=True)
    try:
        with db.transaction() as session:
            agency = accounts.add_agency(session, args.code, args.name, args.reporting_code)
            print(f"added the agency {agency.code} ({agency.name})" + _reporting(agency.reporting_code))
    except ServiceError as exc:
        raise CliError(exc.message) from None
    finally:
        db.dispose()
    return 0


def _reporting(code: str | None) -> str:
    return f", reporting code {code}" if code else ", no reporting code (exports write its code)"


def cmd_agencies_set(args: argparse.Namespace) -> int:
    if args.name is None and args.reporting_code is None and not args.no_reporting_code:
        raise CliError("nothing to change: give --name, --reporting-code or --no-reporting-code")
    db = database(args)
    try:
        with db.transaction() as session:
            code: str | accounts.Keep | None = accounts.KEEP
            if args.no_reporting_code:
                code = None
            elif args.reporting_code is not None:
                code = args.reporting_code
            agency = accounts.update_agency(session, args.code, name=args.name, reporting_code=code)
            print(f"{agency.code} ({agency.name})" + _reporting(agency.reporting_code))
    except ServiceError as exc:
        raise CliError(exc.message) from None
    finally:
        db.dispose()
    return 0


def cmd_agencies_list(args: argparse.Namespace) -> int:
    db = database(args)
    try:
        with db.reading() as session:
            rows = [(a.code, a.reporting_code, a.name) for a in accounts.list_agencies(session)]
    finally:
        db.dispose()
    print(f"{'agency':16} {'reporting code':16} name")
    for code, reporting, name in rows:
        print(f"{code:16} {reporting or '-':16} {name}")
    print(f"{len(rows)} agenc{'y' if len(rows) == 1 else 'ies'}")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    q = dbsub.add_parser("upgrade", help="create or migrate the database to this version of Sanad")
    data_options(q)
    q.set_defaults(func=cmd_db_upgrade)
    q = dbsub.add_parser(
        "grant",
        help="PostgreSQL: let the application's role use the tables, the audit log only to add and read",
        description="Run as the owner of the tables (the role that runs 'sanad db upgrade'). The application "
        "then connects as ROLE, which cannot change, delete or truncate audit entries. See docs/operations.md.",
    )
    q.add_argument("role", help="the PostgreSQL role the application signs in as")
    data_options(q)
    q.set_defaults(func=cmd_db_grant)

    p = sub.add_parser("users", help="add, list and disable user accounts, reset passwords and second factors")
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
    q = usub.add_parser(
        "reset-password",
        help="set a new password for a user and end their sessions (asked twice, or --password-stdin)",
        description="Set a new password for an existing user (the same rules as 'users add': at least "
        f"{accounts.MIN_PASSWORD_LENGTH} characters, not among the 100,000 most common passwords, not "
        "containing the user name). Every session they have open ends at once, and the change is written "
        "to the audit log.",
    )
    q.add_argument("name", help="the user name they sign in with")
    q.add_argument("--password-stdin", action="store_true", help="read the new password from the first line of stdin")
    data_options(q)
    q.set_defaults(func=cmd_users_reset_password)
    q = usub.add_parser(
        "reset-2fa",
        help="remove a user's second factor (a lost phone) and end their sessions",
        description="Remove the user's second factor: the codes of their authenticator app and their "
        "recovery codes stop working, and every session they have open ends. At their next sign-in they "
        "set up a new one if their role requires it (roles.yaml 'second_factor: required'), or later on "
        "their account page. Written to the audit log (user.second_factor_reset). Check first that the "
        "request comes from the person: this removes a protection of their account.",
    )
    q.add_argument("name", help="the user name they sign in with")
    data_options(q)
    q.set_defaults(func=cmd_users_reset_2fa)

    p = sub.add_parser("agencies", help="add and list agencies, set the code they report under")
    gsub = p.add_subparsers(dest="agencies_command", metavar="COMMAND", required=True)
    q = gsub.add_parser(
        "add",
        help="add an agency (users add --agency also creates one, with its code as name)",
        description="Add an agency. Its reporting code is the code it reports under in shared layouts, "
        "such as the 'Reporting Agency Code' column of the GBVIMS Incident Recorder, when it differs from "
        "the code Sanad knows it by; without one, the exports write its code.",
    )
    q.add_argument("code", help="the agency's code in Sanad (as in users add --agency)")
    q.add_argument("name", nargs="?", help="its name (default: the code)")
    q.add_argument("--reporting-code", metavar="CODE", help="the code it reports under (the Incident Recorder's)")
    data_options(q)
    q.set_defaults(func=cmd_agencies_add)
    q = gsub.add_parser("set", help="rename an agency or set (or remove) its reporting code")
    q.add_argument("code", help="the agency's code in Sanad")
    q.add_argument("--name", help="its new name")
    g = q.add_mutually_exclusive_group()
    g.add_argument("--reporting-code", metavar="CODE", help="the code it reports under (the Incident Recorder's)")
    g.add_argument(
        "--no-reporting-code", action="store_true", help="remove the reporting code: exports write the agency's code"
    )
    data_options(q)
    q.set_defaults(func=cmd_agencies_set)
    q = gsub.add_parser("list", help="list the agencies with their reporting codes")
    data_options(q)
    q.set_defaults(func=cmd_agencies_list)

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
    protection.add_audit_commands(asub)
