"""`sanad serve`: the web app and the JSON API, optionally with demo data and an access log."""

from __future__ import annotations

import argparse
import errno
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import quote

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.cli import heap, listeners
from engine.cli.common import CliError, data_options, database, definition_paths, plural, registry, say, whole_number
from engine.cli.protection import reseal_if_needed
from engine.diagnostics import Report
from engine.language.demo import read_demo
from engine.runtime.registry import Registry
from engine.service import accounts, seeding
from engine.service.database import Database, display_url
from engine.service.replica import Replica, ReplicaError
from engine.web.app import DEFAULT_THREADS, Settings, create_app, secret_key


def cmd_serve(args: argparse.Namespace) -> int:
    threads = args.threads if args.threads is not None else _from_env("SANAD_THREADS", _threads, DEFAULT_THREADS)
    idle_minutes = (
        args.idle_minutes
        if args.idle_minutes is not None
        else _from_env("SANAD_IDLE_MINUTES", _minutes, DEFAULT_IDLE_MINUTES)
    )
    reg = registry(args)
    sock = bind(args.host, args.port)  # before the slow part: a busy port fails at once
    try:
        db = database(args, create=True)
        try:
            if args.demo:
                _demo(reg, db)
            reseal_if_needed(db, list(reg.modules.values()))
            db.answer_indexes(reg.modules.values(), announce=say)
            if args.reports_db:
                _check_replica(args.reports_db, db)
        finally:
            db.dispose()
        settings = Settings(
            definitions=args.definitions or [],
            database_url=db.url,
            key_file=db.key_source.path,
            secret_key=secret_key(),
            idle_minutes=idle_minutes,
            threads=threads,
            reports_database_url=args.reports_db,
        )
        names = ", ".join(f"{m.id} {m.version}" for m in reg.modules.values())
        where = _address(args.host, int(sock.getsockname()[1]))
        kind = settings.database_url.split("://")[0]
        workers = args.workers or os.cpu_count() or 1
        if workers > 1:
            _serve_workers(args, settings, sock, workers, f"serving {names} on http://{where} (database {kind})")
            return 0
        app = serving_app(settings, reg, access_log=bool(args.access_log))

        def started() -> None:
            say(f"serving {names} on http://{where} (database {kind}); press Ctrl+C to stop")

        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,  # uvicorn's access log shows query strings; --access-log never does
            proxy_headers=bool(args.behind_proxy),
            forwarded_allow_ips=args.behind_proxy or None,
        )
        server = _Server(config, started)
        try:
            server.run(sockets=[sock])
        except OSError as exc:  # listen() itself failed: another program took the port meanwhile
            raise CliError(_bind_error(args.host, args.port, exc)) from None
        if not server.started:
            raise CliError("the server did not start; see the messages above")
    finally:
        sock.close()
    return 0


def _check_replica(url: str, db: Database) -> None:
    """--reports-db: a PostgreSQL database that answers, at the schema of `db`; else a CliError that says
    what is wrong (a typo in the URL fails here, not in every report)."""
    try:
        replica = Replica.open(url, db.key_source)
    except ReplicaError as exc:
        raise CliError(str(exc)) from None
    try:
        replica.check(db.head())
    except ReplicaError as exc:
        raise CliError(str(exc)) from None
    finally:
        replica.dispose()
    say(f"reports are counted on {display_url(url)}")


# -- several processes --------------------------------------------------------------------------------
#: what each worker process starts from (set by `serve --workers N` for the processes it starts)
WORKER_ENV = "SANAD_SERVE_WORKER"


def _serve_workers(args: argparse.Namespace, settings: Settings, sock: socket.socket, workers: int, what: str) -> None:
    """`workers` processes, each with the whole app and, on Linux, a listening socket of its own on
    the port (`listeners`; elsewhere they share one); the supervisor restarts one that dies. They
    share nothing in memory: sessions, sign-in throttling, the audit chain, emergency grants and the
    keys' check values are in the database; the secret key comes from $SANAD_SECRET_KEY or the data
    folder's file (as it did here), the key file from the same path."""
    os.environ[WORKER_ENV] = json.dumps(
        {
            "definitions": definition_paths(args),
            "database_url": settings.database_url,
            "key_file": settings.key_file,
            "idle_minutes": settings.idle_minutes,
            "threads": settings.threads,
            "reports_database_url": settings.reports_database_url,
            "access_log": bool(args.access_log),
        }
    )
    config = uvicorn.Config(
        "engine.cli.server:worker_app",
        factory=True,
        workers=workers,
        log_level="warning",
        access_log=False,
        proxy_headers=bool(args.behind_proxy),
        forwarded_allow_ips=args.behind_proxy or None,
    )
    try:
        supervisor = listeners.supervisor(config, sock, workers)
    except OSError as exc:
        raise CliError(_bind_error(args.host, args.port, exc)) from None
    say(f"{what} with {workers} worker processes; press Ctrl+C to stop")
    supervisor.run()


def worker_app() -> ASGIApp:
    """The app of one worker process (uvicorn calls this in each process it starts)."""
    conf = json.loads(os.environ[WORKER_ENV])
    settings = Settings(
        definitions=conf["definitions"],
        database_url=conf["database_url"],
        key_file=conf["key_file"],
        secret_key=secret_key(),
        idle_minutes=conf["idle_minutes"],
        threads=conf["threads"],
        reports_database_url=conf.get("reports_database_url"),
    )
    return serving_app(settings, Registry.load(conf["definitions"]), access_log=conf["access_log"])


def serving_app(settings: Settings, reg: Registry, *, access_log: bool) -> ASGIApp:
    """The app a server process answers with (one process, or each worker): built, with the access
    log if asked, and what it keeps for its life set apart from the garbage collector (`heap`)."""
    app: ASGIApp = create_app(settings, reg)
    if access_log:
        app = AccessLog(app)
    heap.settle()
    return app


MAX_THREADS = 256
#: --threads, $SANAD_THREADS
_threads = whole_number("threads", MAX_THREADS)

#: minutes of inactivity after which a session ends (--idle-minutes, $SANAD_IDLE_MINUTES)
DEFAULT_IDLE_MINUTES = 30
MAX_IDLE_MINUTES = 7 * 24 * 60
_minutes = whole_number("minutes", MAX_IDLE_MINUTES, " (a week)")


def _from_env(name: str, parse: Callable[[str], int], default: int) -> int:
    """The environment's value of a `serve` option (when not given on the command line), checked as
    the option is: a bad one is one line naming the variable, before anything is set up."""
    text = os.environ.get(name)
    if not text:
        return default
    try:
        return parse(text)
    except argparse.ArgumentTypeError as exc:
        raise CliError(f"{name}: {exc}") from None


def _workers(text: str) -> int:
    """--workers: a number of processes; 0 or 'auto' for one per CPU."""
    if text.strip().lower() == "auto":
        return 0
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of processes (or 'auto')") from None
    if not 0 <= n <= 256:
        raise argparse.ArgumentTypeError(f"{n} processes: give 1 to 256, or 0 / auto for one per CPU")
    return n


# -- listening ----------------------------------------------------------------------------------------


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (uvicorn listens on it), or a CliError that says what to do.
    Bound the way uvicorn binds (IPv6 when the host has a colon, SO_REUSEADDR), so a port whose
    previous server just stopped can be used again at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CliError(_bind_error(host, port, exc)) from None
    sock.set_inheritable(True)
    return sock


def _bind_error(host: str, port: int, exc: OSError) -> str:
    where = f"cannot listen on {_address(host, port)}"
    if isinstance(exc, socket.gaierror):
        return (
            f"{where}: '{host}' is not a known address; --host takes an address of this computer, e.g. "
            "--host 127.0.0.1 (this computer only) or --host 0.0.0.0 (every network)"
        )
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{where}: the port {port} is already in use (by another Sanad or another program); stop it, or "
            f"choose a free port with --port, e.g. --port {port + 1 if port < 65535 else 8000}"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        why = " (ports below 1024 need administrator rights)" if port < 1024 else ""
        return f"{where}: not allowed to use the port {port}{why}; choose another with --port, e.g. --port 8000"
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"{where}: {host} is not an address of this computer; use --host 127.0.0.1 (this computer only) "
            "or --host 0.0.0.0 (every network)"
        )
    return f"{where}: {exc.strerror or exc}; choose another address with --host or port with --port"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535)")
    return port


class _Server(uvicorn.Server):
    """uvicorn's server, calling `started` once it listens (and only then)."""

    def __init__(self, config: uvicorn.Config, started: Callable[[], None]) -> None:
        super().__init__(config)
        self._started = started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._started()


# -- the access log -----------------------------------------------------------------------------------


class AccessLog:
    """ASGI middleware writing one line per HTTP request: the time (UTC), the client's address, the
    method, the path, the status and the duration. Never the query string nor a body: they can carry
    the names and search terms of the people whose records Sanad holds."""

    def __init__(self, app: ASGIApp, stream: TextIO | None = None) -> None:
        self.app = app
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: list[int] = []

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException:
            if not status:
                status.append(500)
            raise
        finally:
            self.write(scope, status[0] if status else None, time.perf_counter() - start)

    def write(self, scope: Scope, status: int | None, seconds: float) -> None:
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        client = scope.get("client")
        address = str(client[0]) if client else "-"
        line = (
            f"{at} {address} {_printable(str(scope.get('method', '-')), 16)} "
            f"{_printable(str(scope.get('path', '')), 300)} {status or '-'} {seconds * 1000:.0f}ms"
        )
        print(line, file=self.stream or sys.stderr, flush=True)


def _printable(text: str, limit: int) -> str:
    """The text on one line: spaces and control characters percent-encoded, cut at `limit`. (The
    path is already without its query string: ASGI keeps that apart, in `query_string`.)"""
    out = "".join(c if c.isprintable() and not c.isspace() else quote(c, safe="") for c in text)
    return out if len(out) <= limit else out[: limit - 1] + "…"


# -- demo data ----------------------------------------------------------------------------------------


def _demo(reg: Registry, db: Database) -> None:
    with_demo = seeding.modules_with_demo(reg)
    if not with_demo:
        raise CliError(
            "--demo needs demo data, and none of the modules served has a demo/ folder "
            "(the GBV reference module and examples/child-protection have one)"
        )
    module = reg.modules[with_demo[0]]
    with db.reading() as session:
        existing = {a.username for a in accounts.list_accounts(session)}
    if existing:
        _reuse(reg, db, module.id, existing)
        return
    say(f"creating the demo of '{module.id}': an agency, one account per role, and its people's records…")

    def progress(done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            say(f"  {done} of {total} people")

    try:
        made = seeding.seed(db, reg, module.id, progress=progress)
    except seeding.DemoError as exc:
        if "empty database" not in str(exc):
            raise CliError(str(exc)) from None
        _reuse(reg, db, module.id, set())
        return
    width = max(len(a.username) for a in made)
    lines = [
        f"  {a.username:{width}}  {a.password}   {a.label}"
        + ("  (sets up a second factor at first sign-in)" if a.second_factor else "")
        for a in made
    ]
    footer = (
        [
            "",
            "Accounts marked so sign in with a code from an authenticator app on a phone: the first sign-in shows a QR code to scan.",
        ]
        if any(a.second_factor for a in made)
        else []
    )
    text = "\n".join(
        ["", "Demo accounts (the passwords are shown only now; write down the ones you need):", "", *lines, *footer]
    )
    print(text + "\n", flush=True)  # before the server starts, even when stdout is a pipe


def _reuse(reg: Registry, db: Database, module_id: str, existing: set[str]) -> None:
    """Say plainly what --demo does on a database that holds data: nothing, and how to start over."""
    module = reg.modules[module_id]
    demo = read_demo(module, Report())
    planned = {username for username, *_ in seeding.account_plan(module, demo)} if demo is not None else set()
    ours = planned & existing
    path = sqlite_path(db.url)
    if ours:
        fresh = (
            f"stop the server, delete the database file {path} (with its -wal and -shm files, if any) and run "
            "the same command again"
            if path
            else f"stop the server, empty the database {display_url(db.url)} (drop and re-create it), run "
            "'sanad db upgrade' and the same command again"
        )
        say(
            f"the database already holds the demo of '{module_id}' ({plural(len(ours), 'demo account')}), so it "
            "is used as it is: nothing was added, and the demo accounts keep the passwords printed when it was "
            f"created (forgotten one? 'sanad users reset-password NAME' sets a new one). To start over with "
            f"fresh demo data, {fresh}; or try the demo on a new database file with --db sqlite:///demo.db"
        )
    else:
        say(
            "the database already holds data that is not the demo of "
            f"'{module_id}' ({plural(len(existing), 'account')}), so no demo data was added and nothing was "
            "changed. To see the demo, give it a database of its own, e.g. --db sqlite:///demo.db"
        )


def sqlite_path(url: str) -> str | None:
    """The absolute path of a SQLite database file, or None (another database, or in memory)."""
    if not url.startswith("sqlite") or ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return os.path.abspath(path)


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the web app (sign in, forms, records) and its JSON API (/api/v1) on http://127.0.0.1:8000",
        description="Serve the modules: the web app that people sign in to, and the JSON API under /api/v1. "
        "A new database is set up automatically.",
    )
    data_options(p)
    p.add_argument(
        "--demo",
        action="store_true",
        help="on an empty database, add the module's demo data (demo/ in the module folder): an agency, one "
        "account per role and synthetic records at every stage; print the accounts. On a database that "
        "already holds data, nothing is added (the existing accounts keep working)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    p.add_argument(
        "--behind-proxy",
        metavar="IPS",
        help="trust X-Forwarded-Proto/For from these proxy addresses (e.g. 127.0.0.1) so that cookies are "
        "marked Secure behind a TLS proxy and the audit log records the client's address",
    )
    p.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="serve with N processes (default: 1; 0 or 'auto': one per CPU). They share the port and keep "
        "nothing to themselves: sessions, sign-in throttling and the audit chain are in the database",
    )
    p.add_argument(
        "--threads",
        type=_threads,
        default=None,
        metavar="N",
        help=f"requests each process works on at once; the others wait their turn (default: {DEFAULT_THREADS}, or "
        "$SANAD_THREADS). More rarely helps: Python runs one thread at a time",
    )
    p.add_argument(
        "--reports-db",
        metavar="URL",
        default=os.environ.get("SANAD_REPORTS_DATABASE_URL") or None,
        help="count reports on this PostgreSQL replica of --db (a streaming replica, a hot standby), not on "
        "the main database (default: $SANAD_REPORTS_DATABASE_URL; none). Who may run a report, and its "
        "audit entry, stay on the main database; when the replica cannot be reached, reports are counted "
        "there too",
    )
    p.add_argument(
        "--idle-minutes",
        type=_minutes,
        default=None,
        help=f"sign users out after this many idle minutes (default: {DEFAULT_IDLE_MINUTES}, or $SANAD_IDLE_MINUTES)",
    )
    p.add_argument(
        "--access-log",
        action="store_true",
        help="print one line per request to stderr: time (UTC), client address, method, path (never the "
        "query string), status and duration",
    )
    p.set_defaults(func=cmd_serve)
