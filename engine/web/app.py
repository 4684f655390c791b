"""The Starlette application: settings, and the app factory that puts the API and the pages together."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from engine.runtime.registry import Registry
from engine.service import accounts
from engine.service.database import Database, data_dir, private_folder
from engine.service.throttle import Limits, Throttle
from engine.web import api, pages
from engine.web.context import State, handler
from engine.web.limits import LimitsMiddleware
from engine.web.security import SecurityMiddleware


@dataclass
class Settings:
    definitions: list[str]
    database_url: str
    secret_key: str
    idle_minutes: int = 30
    cheap_hashing: bool = False  # tests only
    #: sign-in attempts per account and address, per address, per account from new devices; window (s)
    throttle: tuple[int, int, int, float] = (5, 20, 10, 900.0)


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
    database = Database.open(settings.database_url)
    st = State(
        settings=settings,
        registry=registry,
        database=database,
        hasher=accounts.hasher(settings.cheap_hashing),
        throttle=Throttle(database, Limits(*settings.throttle)),
        signer=URLSafeSerializer(settings.secret_key, salt="sanad-session"),
        device_signer=URLSafeTimedSerializer(settings.secret_key, salt="sanad-device"),
    )
    app = Starlette(
        routes=[*(Route(path, handler(fn), methods=methods) for path, fn, methods in api.ROUTES), *pages.ROUTES],
        middleware=[Middleware(SecurityMiddleware), Middleware(LimitsMiddleware)],
    )
    app.state.sanad = st
    return app
