"""`sanad serve`: the web app and the JSON API, optionally with demo data."""

from __future__ import annotations

import argparse
import os
from typing import Any

import uvicorn

from engine.cli.common import CliError, data_options, database, registry, say
from engine.runtime.registry import Registry
from engine.service import seeding
from engine.service.database import Database
from engine.web.app import Settings, create_app, secret_key


def cmd_serve(args: argparse.Namespace) -> int:
    reg = registry(args)
    db = database(args, create=True)
    try:
        if args.demo:
            _demo(reg, db)
    finally:
        db.dispose()
    settings = Settings(
        definitions=args.definitions or [], database_url=db.url, secret_key=secret_key(), idle_minutes=args.idle_minutes
    )
    app = create_app(settings, reg)
    names = ", ".join(f"{m.id} {m.version}" for m in reg.modules.values())
    say(f"serving {names} on http://{args.host}:{args.port} (database {settings.database_url.split('://')[0]})")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        proxy_headers=bool(args.behind_proxy),
        forwarded_allow_ips=args.behind_proxy or None,
    )
    return 0


def _demo(reg: Registry, db: Database) -> None:
    with_demo = seeding.modules_with_demo(reg)
    if not with_demo:
        raise CliError(
            "--demo needs demo data, and none of the modules served has a demo/ folder "
            "(the GBV reference module and examples/child-protection have one)"
        )
    module = reg.modules[with_demo[0]]
    say(f"creating the demo of '{module.id}': an agency, one account per role, and its people's records…")

    def progress(done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            say(f"  {done} of {total} people")

    try:
        made = seeding.seed(db, reg, module.id, progress=progress)
    except seeding.DemoError as exc:
        if "empty database" not in str(exc):
            raise CliError(str(exc)) from None
        say(
            "the database already holds data, so no demo data was added; the demo accounts' passwords "
            "were printed when it was created"
        )
        return
    width = max(len(a.username) for a in made)
    lines = [f"  {a.username:{width}}  {a.password}   {a.label}" for a in made]
    text = "\n".join(
        ["", "Demo accounts (the passwords are shown only now; write down the ones you need):", "", *lines]
    )
    print(text + "\n", flush=True)  # before the server starts, even when stdout is a pipe


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the records service (JSON API) on http://127.0.0.1:8000",
        description="Serve the modules. A new database is set up automatically.",
    )
    data_options(p)
    p.add_argument(
        "--demo",
        action="store_true",
        help="on an empty database, add the module's demo data (demo/ in the module folder): an agency, one "
        "account per role and synthetic records at every stage; print the accounts",
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
