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
from engine.web.context import (
    clear_session_cookie,
    in_context,
    remember_device,
    set_session_cookie,
    sign_in,
    sign_out,
)
from engine.web.pages.common import ANONYMOUS_LOCALES, Posted, redirect, render, safe_next, with_form


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
        result = await sign_in(request, username, password, chosen)
    except TooManyAttempts as exc:
        return fail(exc.message, 429)
    if result is None:
        return fail(_("The user name or password is not right."), 401)
    response = RedirectResponse(nxt, status_code=303)
    set_session_cookie(request, response, result[1])
    remember_device(request, response, username)
    return response


async def logout_submit(request: Request) -> Response:
    await sign_out(request)
    response = redirect(request, "/login", _("You are signed out."))
    clear_session_cookie(request, response)
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
