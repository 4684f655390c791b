"""Signing in and out, and the language switcher."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from engine.i18n import _
from engine.service import accounts
from engine.service.context import Context
from engine.service.errors import TooManyAttempts, Unauthorized
from engine.web.context import clear_session_cookie, in_context, set_session_cookie, sign_in, sign_out, state
from engine.web.pages.common import redirect, render, safe_next


async def login_page(request: Request) -> Response:
    return render(
        request,
        "login.html",
        None,
        title=_("Sign in"),
        next=safe_next(request.query_params.get("next")),
        idle_minutes=state(request).settings.idle_minutes,
    )


async def login_submit(request: Request) -> Response:
    st = state(request)
    async with request.form(max_files=0, max_fields=10) as form:
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        nxt = safe_next(str(form.get("next", "/")))

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
            idle_minutes=st.settings.idle_minutes,
        )

    try:
        result = await sign_in(request, username, password)
    except TooManyAttempts as exc:
        return fail(exc.message, 429)
    if result is None:
        return fail(_("The user name or password is not right."), 401)
    response = RedirectResponse(nxt, status_code=303)
    set_session_cookie(request, response, result[1])
    return response


async def logout_submit(request: Request) -> Response:
    await sign_out(request)
    response = redirect(request, "/login", _("You are signed out."))
    clear_session_cookie(request, response)
    return response


async def set_locale(request: Request) -> Response:
    """The language switcher: saves the choice to the user's profile and goes back."""
    async with request.form(max_files=0, max_fields=5) as form:
        locale = str(form.get("locale") or "")
        back = safe_next(str(form.get("back") or "/"))

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
