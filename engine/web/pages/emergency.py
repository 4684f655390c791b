"""Break the glass: the page where a user whose role has emergency access types a record's id and
why they need it now, then reads the record for a limited time; ending it early."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel import Locale
from babel.dates import format_skeleton, format_time
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from engine import i18n
from engine.i18n import _
from engine.service import emergency
from engine.service.context import Context
from engine.service.errors import Forbidden, ServiceError, Unauthorized
from engine.web.context import audit_refusal, in_context
from engine.web.inputs import positive_id
from engine.web.pages.common import Posted, action, page, redirect, render, safe_next, with_form


def until_label(iso: str | None) -> str:
    """When a grant ends, for the reader: day and time (hours and minutes) in their language, e.g.
    'Dec 5, 9:59 PM', '5 déc., 21:59'."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    locale = i18n.current().locale
    pattern = str(Locale.parse(locale).datetime_formats["medium"])
    day = format_skeleton("MMMd", moment, locale=locale)
    return pattern.replace("{1}", day).replace("{0}", format_time(moment, "short", locale=locale))


def labelled(grants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grants with their times labelled for the reader ('until' is when it ended, if earlier)."""
    for g in grants:
        g["at_label"] = until_label(g["at"])
        ended = g.get("ended_at")
        g["until_label"] = until_label(ended if ended and ended < g["expires_at"] else g["expires_at"])
    return grants


def _form_page(
    request: Request, ctx: Context, record: str = "", reason: str = "", error: str | None = None, status: int = 200
) -> Response:
    if not ctx.policy.may_break_glass(ctx.actor):
        raise Forbidden(_("Your role does not have emergency access."))
    return render(
        request,
        "emergency.html",
        ctx,
        status,
        title=_("Emergency access to a record"),
        hours=emergency.hours(ctx.module),
        min_reason=emergency.MIN_REASON,
        record=record,
        reason=reason,
        error=error,
        grants=labelled(emergency.mine(ctx)),
    )


async def emergency_page(request: Request) -> Response:
    return await page(request, lambda ctx: _form_page(request, ctx))


@with_form(5)
async def emergency_submit(request: Request, form: Posted) -> Response:
    record, reason = form.get("record").strip(), form.get("reason").strip()

    def work(ctx: Context) -> Response:
        grant = emergency.open_emergency(ctx, record, reason)
        target = grant["record"]
        url = f"/records/{target['record_type']}/{target['id']}"
        if grant["in_reach"]:
            return redirect(request, url, _("You can open this record without emergency access."))
        return redirect(request, url)

    try:
        response: Response = await in_context(request, work)
        return response
    except Unauthorized:
        return RedirectResponse("/login?next=/emergency", status_code=303)
    except ServiceError as exc:  # the form again, with what was typed and why it did not work
        await audit_refusal(request, exc)
        failed, status = exc.message, exc.status
        return await page(request, lambda ctx: _form_page(request, ctx, record, reason, failed, status))


@with_form(5)
async def emergency_end(request: Request, form: Posted) -> Response:
    raw = request.path_params["id"]
    back = safe_next(form.get("back") or "/emergency")

    def work(ctx: Context) -> Response:
        grant = emergency.end_emergency(ctx, positive_id(raw, "emergency access"))
        mine = grant["user"] == ctx.user.username
        return redirect(request, "/emergency" if mine else back, _("Emergency access ended."))

    return await action(request, work, back)
