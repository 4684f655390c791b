"""The Starlette application: settings, and the app factory that puts the API and the pages together."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from engine.i18n import _
from engine.runtime.registry import Registry
from engine.service import accounts
from engine.service.database import Database, data_dir, private_folder
from engine.service.replica import Replica
from engine.service.throttle import Limits, Throttle
from engine.web import api, pages
from engine.web.context import State, handler, http_error, is_api, log, unexpected
from engine.web.limits import LimitsMiddleware
from engine.web.pages import common
from engine.web.security import HEADERS, SecurityMiddleware

#: see Settings.threads and docs/operations.md (measured with tests/benchmarks/bench_service.py)
DEFAULT_THREADS = 2


@dataclass
class Settings:
    definitions: list[str]
    database_url: str
    secret_key: str
    #: the key file that seals identifying answers (None: $SANAD_KEY_FILE, else the data folder's)
    key_file: str | None = None
    idle_minutes: int = 30
    cheap_hashing: bool = False  # tests only
    #: sign-in attempts per account and address, per address, per account from new devices; window (s)
    throttle: tuple[int, int, int, float] = (5, 20, 10, 900.0)
    #: requests that work at once in this process (engine.web.context.in_thread); the rest queue
    threads: int = DEFAULT_THREADS
    #: a PostgreSQL replica of the database that reports count on (service/replica.py); None: the database
    reports_database_url: str | None = None


def secret_key(explicit: str | None = None) -> str:
    """$SANAD_SECRET_KEY, else a random key kept in the data folder (made on first run)."""
    if explicit:
        return explicit
    if os.environ.get("SANAD_SECRET_KEY"):
        return os.environ["SANAD_SECRET_KEY"]
    path = os.path.join(data_dir(), "secret_key")
    if not os.path.exists(path):
        private_folder(os.path.dirname(path))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    with open(path, encoding="utf-8") as fh:
        return fh.read().strip()


def create_app(settings: Settings, registry: Registry | None = None) -> Starlette:
    registry = registry or Registry.load(settings.definitions)
    database = Database.open(settings.database_url, settings.key_file)
    replica = (
        Replica.open(settings.reports_database_url, database.key_source) if settings.reports_database_url else None
    )
    st = State(
        settings=settings,
        registry=registry,
        database=database,
        hasher=accounts.hasher(settings.cheap_hashing),
        throttle=Throttle(database, Limits(*settings.throttle)),
        signer=URLSafeSerializer(settings.secret_key, salt="sanad-session"),
        device_signer=URLSafeTimedSerializer(settings.secret_key, salt="sanad-device"),
        threads=settings.threads,
        replica=replica,
    )
    app = Starlette(
        routes=[*(Route(path, handler(fn), methods=methods) for path, fn, methods in api.ROUTES), *pages.ROUTES],
        middleware=[Middleware(SecurityMiddleware), Middleware(LimitsMiddleware)],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.sanad = st
    return app


# -- errors outside the handlers: JSON for the API, the app's error page for the pages --------------------
async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors: an unknown address (404), a method an address does not take (405)."""
    assert isinstance(exc, HTTPException)
    if is_api(request.url.path):
        return http_error(request, exc)
    if exc.status_code not in (404, 405):
        return PlainTextResponse(exc.detail, exc.status_code, headers=exc.headers)
    try:
        page = await common.error_page(
            request,
            exc.status_code,
            lambda: _("Not found"),
            lambda: _("There is no such page, or it is not yours to see."),
        )
    except Exception as failed:  # the error page itself failed: say no more than the status
        log.error("the error page failed", exc_info=failed)
        return PlainTextResponse(exc.detail, exc.status_code, headers=exc.headers)
    page.headers.update(exc.headers or {})
    return page


async def _server_error(request: Request, exc: Exception) -> Response:
    """An exception no handler caught (Starlette's outermost middleware, outside the security headers,
    which are added here): never a traceback. The API's handlers answer their own (engine.web.context)."""
    if is_api(request.url.path):
        response: Response = unexpected(request, exc)
    else:
        try:
            response = common.render(
                request,
                "error.html",
                None,
                500,
                title=_("That did not work"),
                message=_("The server could not answer. The error was logged; please try again in a moment."),
            )
        except Exception:
            response = PlainTextResponse("Internal Server Error", 500)
    response.headers["cache-control"] = "no-store"
    for name, value in HEADERS:
        response.headers.setdefault(name.decode(), value.decode())
    return response
