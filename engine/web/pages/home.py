"""The home page: what waits for the signed-in user (approvals, referrals, their open records), or
counts by stage for roles that see aggregates only."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from engine.i18n import _
from engine.service import listing, referrals
from engine.service.context import Context
from engine.web.pages.common import page, render, rows


def _home(request: Request, ctx: Context) -> Response:
    role = ctx.actor.role
    values: dict[str, Any] = {
        "title": _("Welcome, %(name)s", name=ctx.user.full_name or ctx.user.username),
        "aggregate_only": role.aggregate_only,
        "audit_link": role.can("audit.read"),
    }
    main = next(iter(ctx.module.record_types))  # the module's main record type (the case, in the modules we ship)
    wf = ctx.module.workflow_for(main)
    if role.aggregate_only or (role.can("reports.read") and not role.can(f"{main}.write")):
        values["counts"] = listing.stage_counts(ctx, main)
    if not role.aggregate_only and ctx.policy.may_on_type(ctx.actor, main, "read") and wf is not None:
        approval_stages = {
            s for t in wf.transitions.values() if t.approval and role.id in t.roles for s in t.from_states
        }
        waiting = []
        for stage_id in sorted(approval_stages):
            waiting += listing.list_records(ctx, main, stage_id, None, 1)["items"]
        values["approvals"] = rows(ctx, waiting, main)
        values["referrals"] = [r for r in referrals.referrals_for(ctx) if r["status"] == "pending"]
        if role.scope == "own" or role.can(f"{main}.create"):
            finals = {s.id for s in wf.states.values() if s.final}
            mine = [r for r in listing.list_records(ctx, main, None, None, 1)["items"] if r["stage"] not in finals]
            values["mine"] = rows(ctx, mine[:20], main)
            values["mine_title"] = _("Your open cases")
        values["can_create"] = ctx.policy.can_create(ctx.actor, main)
        values["main_type"] = main
        values["new_id"] = str(uuid.uuid4())
    values.setdefault("mine", None)
    return render(request, "home.html", ctx, **values)


async def home(request: Request) -> Response:
    return await page(request, lambda ctx: _home(request, ctx))
