"""Signing in and out, the language switcher, and the user's own account: changing their password,
setting up a second factor.

Signing in is one step (the password) for most accounts, two for an account with a second factor
(the password, then a code of its authenticator app or a recovery code), and, for a user whose role
requires a second factor and who has none yet, the password then setting one up. Between the
steps the browser holds only a signed, short-lived `sanad_signin` cookie (the account and a digest
of its password and second factor, service/accounts.fingerprint): no session exists until the last
step, so a user who must set up a second factor can do nothing else first. Each code attempt is
throttled like a password (service/throttle.py)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from engine import i18n
from engine.i18n import _
from engine.service import accounts, second_factor
from engine.service.context import Context
from engine.service.database import Unit
from engine.service.errors import ServiceError, TooManyAttempts, Unauthorized
from engine.web.context import (
    _device_names,
    clear_session_cookie,
    client_ip,
    in_context,
    in_thread,
    in_transaction,
    remember_device,
    session_id,
    set_session_cookie,
    sign_out,
    state,
)
from engine.web.pages.common import (
    ANONYMOUS_LOCALES,
    Posted,
    label_time,
    page,
    redirect,
    render,
    safe_next,
    with_form,
)

PENDING = "sanad_signin"
#: how long the second step may wait: a code is typed in seconds; setting up an app takes minutes
PENDING_SECONDS = {accounts.CODE: 5 * 60, accounts.ENROL: 15 * 60}


# -- the steps, shared with the API (engine/web/api.py) ------------------------------------------------------
def _known(request: Request, username: str) -> bool:
    return username.strip().lower() in _device_names(request)


def _code_key(username: str) -> str:
    """The throttle's name for an account's codes: counted apart from its passwords (a space: no user
    name has one)."""
    return f"code {username}"


async def first_step(request: Request, username: str, password: str, locale: str | None = None) -> accounts.Attempt:
    """Check the password (throttled; TooManyAttempts above the limits): signed in, or what comes
    next, or nothing (wrong). `locale`, the language chosen on the sign-in page, is saved to the
    profile when the user's module offers it."""
    st = state(request)
    ip = client_ip(request)
    reservation = await in_thread(request, st.throttle.reserve, username, ip, _known(request, username))

    def work(session: Unit) -> accounts.Attempt:
        attempt = accounts.password_step(session, st.hasher, username, password, ip, st.registry.module)
        if attempt.user_id is not None and attempt.module and locale:
            module, user = st.registry.module(attempt.module), accounts.find_user(session, username)
            if module is not None and user is not None and locale in module.locales:
                accounts.set_locale(user, locale)
        return attempt

    attempt = await in_transaction(request, work)
    if attempt.user_id is not None:
        await in_thread(request, st.throttle.succeeded, reservation)
    return attempt


async def second_step(
    request: Request, user_id: int, username: str, code: str, expected: str | None
) -> accounts.Attempt:
    """Check a code of the account's app or a recovery code (throttled like a password)."""
    st = state(request)
    ip = client_ip(request)
    reservation = await in_thread(request, st.throttle.reserve, _code_key(username), ip, _known(request, username))
    attempt = await in_transaction(
        request, lambda session: accounts.code_step(session, st.hasher, user_id, expected, code, ip)
    )
    if attempt.session_id is not None:
        await in_thread(request, st.throttle.succeeded, reservation)
    return attempt


# -- the half-finished sign-in -------------------------------------------------------------------------------
def _pending_signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(state(request).settings.secret_key, salt="sanad-second-factor")


def _set_pending(request: Request, response: Response, attempt: accounts.Attempt, nxt: str) -> None:
    data = {"u": attempt.user_id, "n": attempt.username, "f": attempt.fingerprint, "k": attempt.then, "x": nxt}
    response.set_cookie(
        PENDING,
        _pending_signer(request).dumps(data),
        max_age=PENDING_SECONDS[attempt.then or accounts.CODE],
        httponly=True,
        samesite="lax",
        path="/",
        secure=request.url.scheme == "https",
    )


def _pending(request: Request, kind: str) -> dict[str, Any] | None:
    """The sign-in waiting for its `kind` of second step, if its cookie is genuine and fresh."""
    raw = request.cookies.get(PENDING)
    if not raw:
        return None
    try:
        data = _pending_signer(request).loads(raw, max_age=PENDING_SECONDS[kind])
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("k") != kind or not isinstance(data.get("u"), int):
        return None
    if not isinstance(data.get("n"), str) or not isinstance(data.get("f"), str):
        return None
    return data


def _clear_pending(request: Request, response: Response) -> None:
    response.delete_cookie(PENDING, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")


def _locale_query(request: Request) -> str:
    chosen = _chosen(request.query_params.get("locale"))
    return f"?{urlencode({'locale': chosen})}" if chosen else ""


def _start_again(request: Request) -> Response:
    response = redirect(
        request,
        "/login" + _locale_query(request),
        _("Your sign-in was not finished in time, or your account changed meanwhile. Please sign in again."),
    )
    _clear_pending(request, response)
    return response


def _signed_in(request: Request, attempt: accounts.Attempt, nxt: str, message: str | None = None) -> Response:
    assert attempt.session_id is not None and attempt.username is not None
    response = redirect(request, nxt, message)
    set_session_cookie(request, response, attempt.session_id)
    remember_device(request, response, attempt.username)
    _clear_pending(request, response)
    return response


# -- signing in ------------------------------------------------------------------------------------------------
async def login_page(request: Request) -> Response:
    return render(
        request,
        "login.html",
        None,
        title=_("Sign in"),
        next=safe_next(request.query_params.get("next")),
        chosen_locale=_chosen(request.query_params.get("locale")),
    )


def _chosen(locale: str | None) -> str | None:
    """A language the visitor chose with the switcher on the sign-in page (saved at sign-in)."""
    return locale if locale in ANONYMOUS_LOCALES else None


@with_form(10, signed_in=False)
async def login_submit(request: Request, form: Posted) -> Response:
    username, password = form.get("username"), form.get("password")
    chosen = _chosen(form.get("locale") or None)
    nxt = safe_next(form.get("next", "/"))

    def fail(message: str, status: int) -> Response:
        return render(
            request,
            "login.html",
            None,
            status,
            title=_("Sign in"),
            error=message,
            username=username,
            next=nxt,
            chosen_locale=chosen,
        )

    try:
        attempt = await first_step(request, username, password, chosen)
    except TooManyAttempts as exc:
        return fail(exc.message, 429)
    if attempt.user_id is None:
        return fail(_("The user name or password is not right."), 401)
    if attempt.session_id is not None:
        response = RedirectResponse(nxt, status_code=303)
        set_session_cookie(request, response, attempt.session_id)
        remember_device(request, response, username)
        return response
    target = "/sign-in/code" if attempt.then == accounts.CODE else "/sign-in/second-factor"
    response = RedirectResponse(target + (f"?{urlencode({'locale': chosen})}" if chosen else ""), status_code=303)
    _set_pending(request, response, attempt, nxt)
    return response


def _code_page(request: Request, status: int = 200, error: str | None = None) -> Response:
    return render(
        request,
        "signin_code.html",
        None,
        status,
        title=_("Your sign-in code"),
        error=error,
        locale_query=_locale_query(request),
    )


async def code_page(request: Request) -> Response:
    if _pending(request, accounts.CODE) is None:
        return _start_again(request)
    return _code_page(request)


def _refusal(refused: str | None, enrolling: bool = False) -> str:
    if refused == "password":
        return _("The current password is not right.")
    if refused == "used":
        return _("This code was already used. Wait for the next code in your app (a new one every 30 seconds).")
    if enrolling:
        return _(
            "The code is not right. Type the 6 digits the app shows now for this account; if it still fails, "
            "check that your phone sets its time automatically."
        )
    return _("The code is not right. Type the 6 digits your app shows now, or one of your recovery codes.")


@with_form(5, signed_in=False)
async def code_submit(request: Request, form: Posted) -> Response:
    pending = _pending(request, accounts.CODE)
    if pending is None:
        return _start_again(request)
    code = form.get("code").strip()
    if not code:
        return _code_page(request, 400, _("Type the code your app shows."))
    try:
        attempt = await second_step(request, pending["u"], pending["n"], code, pending["f"])
    except TooManyAttempts as exc:
        return _code_page(request, 429, exc.message)
    if attempt.refused == "expired":
        return _start_again(request)
    if attempt.session_id is None:
        return _code_page(request, 401, _refusal(attempt.refused))
    message = None
    if attempt.recovery_left is not None:
        message = i18n.current().ngettext(
            "You signed in with a recovery code; it cannot be used again. %(num)s recovery code is left: if "
            "you lost your phone, ask your administrator to reset your second factor.",
            "You signed in with a recovery code; it cannot be used again. %(num)s recovery codes are left: if "
            "you lost your phone, ask your administrator to reset your second factor.",
            attempt.recovery_left,
        )
    return _signed_in(request, attempt, safe_next(pending.get("x")), message)


# -- setting up a second factor ------------------------------------------------------------------------------------
def _setup_values(username: str, secret: str) -> dict[str, Any]:
    uri = second_factor.provisioning_uri(secret, username)
    return {
        "username": username,
        "secret": second_factor.grouped(secret),
        "uri": uri,
        "qr": Markup(second_factor.qr_svg(uri, _("QR code to scan with your authenticator app"))),
    }


def _setup_page(
    request: Request, ctx: Context | None, values: dict[str, Any], action: str, status: int = 200, **more: Any
) -> Response:
    return render(
        request,
        "second_factor_setup.html",
        ctx,
        status,
        title=_("Set up your second factor"),
        action=action,
        **values,
        **more,
    )


def _enrol_action(request: Request) -> str:
    return "/sign-in/second-factor" + _locale_query(request)


async def enrol_page(request: Request) -> Response:
    """Right after the password, for a user whose role requires a second factor they have not set up."""
    pending = _pending(request, accounts.ENROL)
    if pending is None:
        return _start_again(request)

    def work(session: Unit) -> dict[str, Any] | None:
        found = accounts.enrolment_secret(session, pending["u"], pending["f"])
        return _setup_values(found[0].username, found[1]) if found else None

    values = await in_transaction(request, work)
    if values is None:
        return _start_again(request)
    return _setup_page(request, None, values, _enrol_action(request), required=True)


async def _confirm_with_throttle(
    request: Request, username: str, confirm: Any
) -> tuple[accounts.Attempt, list[str]] | str:
    """Run `confirm(session)` (a first code of the app) within the code throttle: its result, or
    the message of a refusal for too many attempts."""
    st = state(request)
    try:
        reservation = await in_thread(
            request, st.throttle.reserve, _code_key(username), client_ip(request), _known(request, username)
        )
    except TooManyAttempts as exc:
        return exc.message
    result: tuple[accounts.Attempt, list[str]] = await in_transaction(request, confirm)
    if result[1]:
        await in_thread(request, st.throttle.succeeded, reservation)
    return result


@with_form(5, signed_in=False)
async def enrol_submit(request: Request, form: Posted) -> Response:
    pending = _pending(request, accounts.ENROL)
    if pending is None:
        return _start_again(request)
    st, ip = state(request), client_ip(request)
    code = form.get("code").strip()
    result = await _confirm_with_throttle(
        request,
        pending["n"],
        lambda session: accounts.confirm_enrolment(session, st.hasher, pending["u"], code, ip, pending["f"]),
    )
    if isinstance(result, tuple) and result[0].refused == "expired":
        return _start_again(request)
    if isinstance(result, str) or not result[1]:
        error = result if isinstance(result, str) else _refusal(result[0].refused, enrolling=True)

        def again(session: Unit) -> dict[str, Any] | None:
            found = accounts.enrolment_secret(session, pending["u"], pending["f"])
            return _setup_values(found[0].username, found[1]) if found else None

        values = await in_transaction(request, again)
        if values is None:
            return _start_again(request)
        status = 429 if isinstance(result, str) else 400
        return _setup_page(request, None, values, _enrol_action(request), status, required=True, error=error)
    attempt, codes = result
    assert attempt.session_id is not None and attempt.username is not None
    response = render(
        request, "recovery_codes.html", None, title=_("Your recovery codes"), codes=codes, next=safe_next(pending["x"])
    )
    set_session_cookie(request, response, attempt.session_id)
    remember_device(request, response, attempt.username)
    _clear_pending(request, response)
    return response


# -- the user's own account -----------------------------------------------------------------------------------------
def _account_page(ctx: Context, request: Request, status: int = 200, **more: Any) -> Response:
    sec = accounts.security(ctx.user, ctx.module)
    return render(
        request,
        "account.html",
        ctx,
        status,
        title=_("Your account"),
        sec=sec,
        since=label_time(sec.second_factor_since),
        changed=label_time(sec.password_changed_at),
        min_length=accounts.MIN_PASSWORD_LENGTH,
        **more,
    )


async def account_page(request: Request) -> Response:
    return await page(request, lambda ctx: _account_page(ctx, request))


async def _signed_in_name(request: Request) -> str | None:
    sid = session_id(request)
    if sid is None:
        return None

    def work(session: Unit) -> str | None:
        user = accounts.session_user(session, sid)
        return user.username if user is not None else None

    name: str | None = await in_transaction(request, work)
    return name


def _to_sign_in(back: str) -> Response:
    return RedirectResponse("/login?" + urlencode({"next": back}), status_code=303)


@with_form(5)
async def password_submit(request: Request, form: Posted) -> Response:
    """Change one's own password: the current one, the new one twice. The other sessions end."""
    current, new, again = form.get("current"), form.get("new"), form.get("again")
    st, ip, sid = state(request), client_ip(request), session_id(request)
    username = await _signed_in_name(request)
    if username is None:
        return _to_sign_in("/account")

    if new != again:
        return await page(
            request, lambda ctx: _account_page(ctx, request, 400, error=_("The two new passwords differ."))
        )
    try:
        reservation = await in_thread(request, st.throttle.reserve, username, ip, _known(request, username))
    except TooManyAttempts as exc:
        message = exc.message
        return await page(request, lambda ctx: _account_page(ctx, request, 429, error=message))

    def work(ctx: Context) -> int:
        return accounts.change_password(ctx.session, st.hasher, ctx.user, current, new, sid, ip)

    try:
        ended = await in_context(request, work)
    except Unauthorized:
        return _to_sign_in("/account")
    except ServiceError as exc:
        if exc.details.get("field") == "current":
            text = exc.message
        else:  # the current password was right; the new one is refused by the policy
            await in_thread(request, st.throttle.succeeded, reservation)
            text = _("Choose another password: %(reason)s.", reason=exc.message)
        return await page(request, lambda ctx: _account_page(ctx, request, 422, error=text))
    await in_thread(request, st.throttle.succeeded, reservation)
    return redirect(
        request,
        "/account",
        i18n.current().ngettext(
            "Your password was changed. %(num)s other session of yours was ended: sign in there again.",
            "Your password was changed. %(num)s other sessions of yours were ended: sign in there again.",
            ended,
        )
        if ended
        else _("Your password was changed."),
    )


async def second_factor_page(request: Request) -> Response:
    """Set up a second factor, for a signed-in user who has none."""

    def work(ctx: Context) -> Response:
        if accounts.security(ctx.user, ctx.module).second_factor:
            return redirect(request, "/account", _("Your second factor is already set up."))
        found = accounts.enrolment_secret(ctx.session, ctx.user.id)
        if found is None:
            return redirect(request, "/account")
        return _setup_page(request, ctx, _setup_values(ctx.user.username, found[1]), "/account/second-factor")

    return await page(request, work)


@with_form(5)
async def second_factor_submit(request: Request, form: Posted) -> Response:
    st, ip = state(request), client_ip(request)
    code, password = form.get("code").strip(), form.get("password")
    username = await _signed_in_name(request)
    if username is None:
        return _to_sign_in("/account/second-factor")
    outcome: dict[str, Any] = {}

    def confirm(session: Unit) -> tuple[accounts.Attempt, list[str]]:
        user = accounts.find_user(session, username)
        if user is None:
            return accounts.Attempt(refused="expired"), []
        # the password too: a session left open (or stolen) cannot tie the account to someone else's phone
        if not accounts.verify_password(st.hasher, user, password):
            return accounts.Attempt(refused="password"), []
        return accounts.confirm_enrolment(session, st.hasher, user.id, code, ip)

    result = await _confirm_with_throttle(request, username, confirm)
    if isinstance(result, tuple) and result[1]:
        outcome["codes"] = result[1]

    def work(ctx: Context) -> Response:
        if "codes" in outcome:
            return render(
                request,
                "recovery_codes.html",
                ctx,
                title=_("Your recovery codes"),
                codes=outcome["codes"],
                next="/account",
            )
        if accounts.security(ctx.user, ctx.module).second_factor:
            return redirect(request, "/account", _("Your second factor is already set up."))
        found = accounts.enrolment_secret(ctx.session, ctx.user.id)
        if found is None:
            return redirect(request, "/account")
        error = result if isinstance(result, str) else _refusal(result[0].refused, enrolling=True)
        status = 429 if isinstance(result, str) else 400
        values = _setup_values(ctx.user.username, found[1])
        return _setup_page(request, ctx, values, "/account/second-factor", status, error=error)

    return await page(request, work)


# -- signing out, the language ------------------------------------------------------------------------------------
async def logout_submit(request: Request) -> Response:
    await sign_out(request)
    response = redirect(request, "/login", _("You are signed out."))
    clear_session_cookie(request, response)
    _clear_pending(request, response)
    return response


@with_form(5, signed_in=False)
async def set_locale(request: Request, form: Posted) -> Response:
    """The language switcher: saves the choice to the user's profile and goes back."""
    locale = form.get("locale")
    back = safe_next(form.get("back") or "/")

    def work(ctx: Context) -> Response:
        if locale in ctx.module.locales:
            accounts.set_locale(ctx.user, locale)
        return RedirectResponse(re.sub(r"([?&])locale=[^&]*&?", r"\1", back).rstrip("?&") or "/", status_code=303)

    try:
        return await in_context(request, work)
    except Unauthorized:
        target = back + ("&" if "?" in back else "?") + urlencode({"locale": locale})
        return RedirectResponse(target, status_code=303)


async def favicon(request: Request) -> Response:
    return Response(status_code=204, headers={"cache-control": "public, max-age=86400"})


#: the second steps of signing in and the account pages (engine/web/pages/__init__.py mounts them)
ACCOUNT_ROUTES = [
    Route("/sign-in/code", code_page, methods=["GET"]),
    Route("/sign-in/code", code_submit, methods=["POST"]),
    Route("/sign-in/second-factor", enrol_page, methods=["GET"]),
    Route("/sign-in/second-factor", enrol_submit, methods=["POST"]),
    Route("/account", account_page, methods=["GET"]),
    Route("/account/password", password_submit, methods=["POST"]),
    Route("/account/second-factor", second_factor_page, methods=["GET"]),
    Route("/account/second-factor", second_factor_submit, methods=["POST"]),
]
