"""The home page: what waits for the signed-in user (their decisions, records sent back to them,
referrals, their open records), or counts by stage for roles that see aggregates only; and the
queue, every record waiting for the user's decision, paged."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from engine import i18n
from engine.i18n import _
from engine.runtime.workflow import state_label
from engine.service import decisions, emergency, listing, referrals
from engine.service.context import Context
from engine.web.inputs import whole_number
from engine.web.pages.common import label_time, page, render, rows
from engine.web.pages.emergency import labelled

HOME_QUEUE = 10  # decisions shown on the home page; the queue page has them all


def _type_label(ctx: Context, record_type: str) -> str:
    rt = ctx.module.record_types[record_type]
    return i18n.current().text(f"record_types/{rt.id}/title", rt.title)[0]


def _queue_rows(ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for it in items:
        wf = ctx.module.workflow_for(it["record_type"])
        it["type_label"] = _type_label(ctx, it["record_type"])
        it["stage_label"] = state_label(wf, it["stage"]) if wf and it["stage"] else ""
        it["waiting_label"] = label_time(it["waiting_since"])
    return items


def _groups(ctx: Context, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for g in groups:
        g["type_label"] = _type_label(ctx, g["record_type"])
        g["href"] = f"/records/{g['record_type']}?" + urlencode({"stage": g["stage"]})
    return groups


def _home(request: Request, ctx: Context) -> Response:
    role = ctx.actor.role
    values: dict[str, Any] = {
        "title": _("Welcome, %(name)s", name=ctx.user.full_name or ctx.user.username),
        "display_name": ctx.user.full_name or ctx.user.username,
        "aggregate_only": role.aggregate_only,
        "audit_link": role.can("audit.read"),
    }
    main = next(iter(ctx.module.record_types))  # the module's main record type (the case, in the modules we ship)
    wf = ctx.module.workflow_for(main)
    if role.aggregate_only or (role.can("reports.read") and not role.can(f"{main}.write")):
        values["counts"] = listing.stage_counts(ctx, main)
    if not role.aggregate_only:
        waiting = decisions.queue(ctx, 1, HOME_QUEUE)
        values["queue"] = _queue_rows(ctx, waiting["items"])
        values["queue_total"] = waiting["total"]
        values["queue_groups"] = _groups(ctx, [g for g in waiting["groups"] if g["count"]])
        returned = decisions.returned_to_me(ctx)
        for r in returned:
            r["type_label"] = _type_label(ctx, r["record_type"])
            r["at_label"] = label_time(r["step"]["at"])
        values["returned"] = returned
        values["referrals"] = referrals.referrals_for(ctx, "pending")
        # break the glass: emergency access others opened to the records this user supervises
        values["emergencies"] = labelled(emergency.overseen(ctx))
        values["emergency_link"] = ctx.policy.may_break_glass(ctx.actor)
    if not role.aggregate_only and ctx.policy.may_on_type(ctx.actor, main, "read") and wf is not None:
        if role.scope == "own" or role.can(f"{main}.create"):
            finals = {s.id for s in wf.states.values() if s.final}
            mine = [
                r
                for r in listing.list_records(ctx, main, None, None, 1, counted=False)["items"]
                if r["stage"] not in finals
            ]
            values["mine"] = rows(ctx, mine[:20], main)
            values["mine_title"] = _("Your open cases")
        values["can_create"] = ctx.policy.can_create(ctx.actor, main)
        values["main_type"] = main
        values["new_id"] = str(uuid.uuid4())
    values.setdefault("mine", None)
    return render(request, "home.html", ctx, **values)


async def home(request: Request) -> Response:
    return await page(request, lambda ctx: _home(request, ctx))


async def queue_page(request: Request) -> Response:
    def work(ctx: Context) -> Response:
        page_no = whole_number(request.query_params.get("page"), "page", default=1, low=1, high=decisions.MAX_PAGE)
        found = decisions.queue(ctx, page_no)
        pages = max(1, -(-found["total"] // found["page_size"]))
        return render(
            request,
            "queue.html",
            ctx,
            title=_("Waiting for your decision"),
            items=_queue_rows(ctx, found["items"]),
            groups=_groups(ctx, found["groups"]),
            total=found["total"],
            page=page_no,
            pages=pages,
            page_size=found["page_size"],
        )

    return await page(request, work)
