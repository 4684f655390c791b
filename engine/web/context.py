"""The request context: the app's state, the signed-in user, one transaction per request, JSON
bodies, and turning service errors into responses. The API and the pages both build on it."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from anyio import CapacityLimiter, to_thread
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from engine import i18n
from engine.runtime.registry import Registry
from engine.service import accounts, audit
from engine.service.context import Context
from engine.service.database import Database, Unit
from engine.service.errors import ServiceError, Unauthorized
from engine.service.replica import Replica
from engine.service.throttle import Throttle
from engine.web.inputs import parse_json
from engine.web.limits import BodyTooLarge

if TYPE_CHECKING:
    from engine.web.app import Settings

COOKIE = "sanad_session"
T = TypeVar("T")


@dataclass
class State:
    """What every request of one app shares."""

    settings: Settings
    registry: Registry
    database: Database
    hasher: Any
    throttle: Throttle
    signer: URLSafeSerializer
    device_signer: URLSafeTimedSerializer
    #: how many requests work (in threads) at once; the others wait their turn (see in_thread)
    threads: int
    #: where reports count (Settings.reports_database_url); None: on the database
    replica: Replica | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: one limiter per event loop: a server process runs one, a test's clients one each, and an
    #: asyncio primitive must never be shared between loops (a waiter on another loop is never woken)
    limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    def limiter(self) -> CapacityLimiter:
        loop = asyncio.get_running_loop()
        found = self.limiters.get(loop)
        if found is None:
            found = self.limiters[loop] = CapacityLimiter(self.threads)
        return found


def state(request: Request) -> State:
    st: State = request.app.state.sanad
    return st


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


# -- errors: every one of the API is JSON {"error", "status", …} ------------------------------------------
log = logging.getLogger("sanad.web")
#: what a 500 says: never the exception, its message or a traceback (the log has them)
UNEXPECTED = "the server could not answer this request; the error was logged"


def is_api(path: str) -> bool:
    """An address of the JSON API (its errors are JSON), rather than a page (HTML)."""
    return path == "/api" or path.startswith("/api/")


def error_json(status: int, message: str, headers: Mapping[str, str] | None = None, **details: Any) -> JSONResponse:
    """The API's error: {"error": message, "status": status, …details} (docs/api.md, "Errors")."""
    return JSONResponse({"error": message, "status": status, **details}, status_code=status, headers=headers)


def error_response(exc: ServiceError) -> JSONResponse:
    headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else None
    return error_json(exc.status, exc.message, headers, **exc.details)


def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own errors as the API's: an unknown address (404), a method the address does not
    take (405, with Allow), a body Starlette could not read."""
    if exc.status_code == 404:
        message = "there is no such address in this API (see /api/v1/openapi.json)"
    elif exc.status_code == 405:
        message = f"this address does not take {request.method}"
    else:
        message = exc.detail
    return error_json(exc.status_code, message, exc.headers)


def unexpected(request: Request, exc: BaseException) -> JSONResponse:
    """An exception nobody expected: logged with its traceback, answered with a 500 that holds
    nothing of it (the transaction it happened in was rolled back)."""
    log.error("unexpected error answering %s %s", request.method, request.url.path, exc_info=exc)
    return error_json(500, UNEXPECTED)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (its size was limited while it streamed in: web/limits.py); a
    body that is not declared as JSON is a 415."""
    return parse_json(await request.body(), request.headers.get("content-type"))


# -- the session cookie ------------------------------------------------------------------------------
def session_id(request: Request) -> str | None:
    """The id in a genuine session cookie (the cookie holds nothing else)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        sid = state(request).signer.loads(raw)
    except BadSignature:
        return None
    return sid if isinstance(sid, str) else None


def set_session_cookie(request: Request, response: Response, sid: str) -> None:
    st = state(request)
    response.set_cookie(
        COOKIE, st.signer.dumps(sid), httponly=True, samesite="lax", path="/", secure=request.url.scheme == "https"
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")


async def session_alive(request: Request) -> bool:
    """Does the request carry the cookie of a session that has not ended? (No refresh, no body read.)"""
    sid = session_id(request)
    if sid is None:
        return False
    return await in_transaction(request, lambda session: accounts.session_user(session, sid) is not None)


# -- running a request's work -----------------------------------------------------------------------
async def in_thread(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in a worker thread, at most `Settings.threads` of this process at once.

    Python runs one thread at a time. Forty threads each holding a request (anyio's default) take
    turns every few milliseconds, and a request that has locked a row (the audit chain's end, taken
    at commit) waits for its turn while every other request waits for the row: under load the lock
    is held for many turns and throughput falls. A few threads per process keep each request's turn
    short; the requests beyond them wait, holding nothing, in the event loop."""
    return await to_thread.run_sync(lambda: fn(*args), limiter=state(request).limiter())


async def in_transaction(request: Request, fn: Callable[[Unit], T]) -> T:
    """Run `fn` in a worker thread inside one database transaction."""
    database = state(request).database
    return await in_thread(request, database.run, fn)


def current_context(request: Request, session: Unit) -> Context:
    """The signed-in user's context (in the request's language), or 401."""
    st = state(request)
    sid = session_id(request)
    user = accounts.resume_session(session, sid, timedelta(minutes=st.settings.idle_minutes)) if sid else None
    if user is None:
        raise Unauthorized("sign in first (your session may have ended after a period of inactivity)")
    module = st.registry.module(user.module)
    if module is None:
        raise Unauthorized(f"this server does not serve the module '{user.module}' of your account")
    if accounts.second_factor_missing(user, module):
        # a session from before the role required a second factor: sign in again, and set it up
        raise Unauthorized("your role now signs in with a second factor: sign in again to set it up")
    actor = accounts.actor_for(session, user, module)
    locale = i18n.negotiate(
        request.query_params.get("locale"), user.locale, request.headers.get("accept-language"), module.locales
    )
    i18n.use(i18n.translator_for(module, locale))
    return Context(
        session, user, actor, module, st.registry.policies[module.id], client_ip(request), locale, replica=st.replica
    )


async def in_context(request: Request, fn: Callable[[Context], T]) -> T:
    """Run a use case for the signed-in user, in one transaction."""
    return await in_transaction(request, lambda session: fn(current_context(request, session)))


DEVICE_COOKIE = "sanad_device"
DEVICE_DAYS = 180


def _device_names(request: Request) -> list[str]:
    """The accounts that signed in before on this browser (a signed cookie, 180 days)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        names = state(request).device_signer.loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def remember_device(request: Request, response: Response, username: str) -> None:
    """Mark this browser as one the account signs in on: a flood of wrong passwords from elsewhere
    does not slow its owner down here (service/throttle.py)."""
    others = [n for n in _device_names(request) if n != username.lower()][-4:]
    names = [*others, username.lower()]
    response.set_cookie(
        DEVICE_COOKIE,
        state(request).device_signer.dumps(names),
        max_age=DEVICE_DAYS * 86400,
        httponly=True,
        samesite="lax",
        path="/",
        secure=request.url.scheme == "https",
    )


async def sign_in(
    request: Request, username: str, password: str, locale: str | None = None
) -> tuple[dict[str, Any], str] | None:
    """Check the password (throttled: service/throttle.py): the user's profile and a new session id,
    or None. `locale`, the language chosen on the sign-in page, is saved to the profile when the
    user's module offers it."""
    st = state(request)
    ip = client_ip(request)
    known = username.strip().lower() in _device_names(request)
    reservation = await in_thread(request, st.throttle.reserve, username, ip, known)

    def work(session: Unit) -> tuple[dict[str, Any], str] | None:
        found = accounts.sign_in(
            session, st.hasher, username, password, ip, lambda m: st.registry.module(m) is not None
        )
        if found and locale:
            module = st.registry.module(found[0].module)
            if module is not None and locale in module.locales:
                accounts.set_locale(found[0], locale)
        return (accounts.profile(found[0]), found[1]) if found else None

    result = await in_transaction(request, work)
    if result is not None:
        await in_thread(request, st.throttle.succeeded, reservation)
    return result


async def sign_out(request: Request) -> None:
    """End the request's session, if any (the caller clears the cookie)."""
    sid = session_id(request)
    if sid:
        await in_transaction(request, lambda session: accounts.sign_out(session, sid, client_ip(request)))


AUDITED_REFUSALS = {403, 404, 409, 422}


async def audit_refusal(request: Request, exc: ServiceError) -> None:
    """Record a refused request by a signed-in user (e.g. opening a record out of scope), in its own
    transaction: the refused change itself was rolled back, the attempt is kept."""
    if exc.status not in AUDITED_REFUSALS:
        return
    sid = session_id(request)
    if sid is None:
        return

    def work(session: Unit) -> None:
        user = accounts.session_user(session, sid)
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
        await in_transaction(request, work)
    except Exception:  # auditing a refusal must never turn it into a 500
        return


Endpoint = Callable[[Request], Awaitable[Response]]


def handler(fn: Endpoint) -> Endpoint:
    """Turn service errors into JSON error responses (never a 500 for bad input), and anything
    unexpected into the API's JSON 500 (logged). A body over its limit and a client gone away are
    left to the limits middleware and the server."""

    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except ServiceError as exc:
            await audit_refusal(request, exc)
            return error_response(exc)
        except (BodyTooLarge, ClientDisconnect):
            raise
        except HTTPException as exc:
            return http_error(request, exc)
        except Exception as exc:
            return unexpected(request, exc)

    return wrapped
