"""The Starlette application: settings, sessions, error handling and the JSON API routes."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine import i18n
from engine.runtime.registry import Registry
from engine.service import accounts, audit
from engine.service.errors import BadRequest, Conflict, ServiceError, Unauthorized
from engine.service.records import Context
from engine.storage import db
from engine.storage.models import Session as LoginSession
from engine.storage.models import User
from engine.web.security import SecurityMiddleware

COOKIE = "sanad_session"
MAX_BODY = 2 * 1024 * 1024
T = TypeVar("T")


@dataclass
class Settings:
    definitions: list[str]
    database_url: str
    secret_key: str
    idle_minutes: int = 30
    cheap_hashing: bool = False  # tests only
    throttle: tuple[int, int, float] = (5, 20, 900.0)  # per account, per IP, window in seconds


def secret_key(explicit: str | None = None) -> str:
    """$SANAD_SECRET_KEY, else a random key kept in the data folder (made on first run)."""
    if explicit:
        return explicit
    if os.environ.get("SANAD_SECRET_KEY"):
        return os.environ["SANAD_SECRET_KEY"]
    path = os.path.join(db.data_dir(), "secret_key")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    with open(path, encoding="utf-8") as fh:
        return fh.read().strip()


@dataclass
class State:
    settings: Settings
    registry: Registry
    engine: Any
    factory: Any
    hasher: Any
    throttle: accounts.Throttle
    signer: URLSafeSerializer
    extra: dict[str, Any] = field(default_factory=dict)


def state(request: Request) -> State:
    st: State = request.app.state.sanad
    return st


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def error_response(exc: ServiceError) -> JSONResponse:
    body = {"error": exc.message, "status": exc.status, **exc.details}
    headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else None
    return JSONResponse(body, status_code=exc.status, headers=headers)


async def json_body(request: Request) -> dict[str, Any]:
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise ServiceError("the request is too large")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ServiceError("the request is too large")
    try:
        data = json.loads(raw or b"{}", parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON (numbers must be finite)") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value


def _session_id(request: Request) -> str | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        sid = state(request).signer.loads(raw)
    except BadSignature:
        return None
    return sid if isinstance(sid, str) else None


async def in_transaction(request: Request, fn: Callable[[Session], T]) -> T:
    """Run `fn` in a worker thread inside one database transaction."""
    st = state(request)

    def work() -> T:
        with db.transaction(st.factory) as session:
            return fn(session)

    try:
        return await run_in_threadpool(work)
    except StaleDataError:
        raise Conflict(
            "the record was changed by someone else at the same moment; reload it and apply your changes again"
        ) from None
    except IntegrityError:
        raise Conflict("that conflicts with data saved at the same moment; try again") from None
    except OperationalError as exc:
        if "locked" in str(exc).lower():
            raise Conflict("the database is busy; try again") from None
        raise


def current_context(request: Request, session: Session) -> Context:
    """The signed-in user's context, or 401."""
    st = state(request)
    sid = _session_id(request)
    user = accounts.resume_session(session, sid, timedelta(minutes=st.settings.idle_minutes)) if sid else None
    if user is None:
        raise Unauthorized("sign in first (your session may have ended after a period of inactivity)")
    module = st.registry.module(user.module)
    if module is None:
        raise Unauthorized(f"this server does not serve the module '{user.module}' of your account")
    actor = accounts.actor_for(session, user, module)
    locale = i18n.negotiate(
        request.query_params.get("locale"), user.locale, request.headers.get("accept-language"), module.locales
    )
    i18n.use(i18n.translator_for(module, locale))
    return Context(session, user, actor, module, st.registry.policies[module.id], client_ip(request), locale)


AUDITED_REFUSALS = {403, 404, 409, 422}


async def audit_refusal(request: Request, exc: ServiceError) -> None:
    """Record a refused request by a signed-in user (e.g. opening a record out of scope), in its own
    transaction: the refused change itself was rolled back, the attempt is kept."""
    if exc.status not in AUDITED_REFUSALS:
        return
    sid = _session_id(request)
    if sid is None:
        return
    st = state(request)

    def work() -> None:
        with db.transaction(st.factory) as session:
            row = session.get(LoginSession, sid)
            user = session.get(User, row.user_id) if row is not None and row.ended_at is None else None
            if user is None:
                return
            record_id = request.path_params.get("id") if isinstance(request.path_params.get("id"), str) else None
            audit.record(
                session,
                "request.refused",
                user=user,
                ip=client_ip(request),
                record_id=record_id if record_id and len(record_id) <= 36 else None,
                method=request.method,
                path=request.url.path,
                status=exc.status,
                reason=exc.message[:200],
            )

    try:
        await run_in_threadpool(work)
    except Exception:  # auditing a refusal must never turn it into a 500
        return


def handler(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """Turn service errors into JSON error responses (never a 500 for bad input)."""

    async def wrapped(request: Request) -> Response:
        try:
            result: Response = await fn(request)
            return result
        except ServiceError as exc:
            await audit_refusal(request, exc)
            return error_response(exc)

    return wrapped


def create_app(settings: Settings, registry: Registry | None = None) -> Starlette:
    from engine.web import api

    registry = registry or Registry.load(settings.definitions)
    engine = db.make_engine(settings.database_url)
    st = State(
        settings=settings,
        registry=registry,
        engine=engine,
        factory=db.session_factory(engine),
        hasher=accounts.hasher(settings.cheap_hashing),
        throttle=accounts.Throttle(*settings.throttle),
        signer=URLSafeSerializer(settings.secret_key, salt="sanad-session"),
    )
    from engine.web import pages

    app = Starlette(
        routes=[*(Route(path, handler(fn), methods=methods) for path, fn, methods in api.ROUTES), *pages.ROUTES],
        middleware=[Middleware(SecurityMiddleware)],
    )
    app.state.sanad = st
    return app


def set_session_cookie(request: Request, response: Response, sid: str) -> None:
    st = state(request)
    response.set_cookie(
        COOKIE, st.signer.dumps(sid), httponly=True, samesite="lax", path="/", secure=request.url.scheme == "https"
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")


def user_json(user: User) -> dict[str, Any]:
    return {"username": user.username, "role": user.role, "module": user.module, "full_name": user.full_name}
