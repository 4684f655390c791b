"""The audit log page, for roles that may read it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from engine.i18n import _
from engine.service import audit
from engine.service.context import Context
from engine.web.inputs import moment
from engine.web.pages.common import label_time, page, render

AUDIT_ACTIONS = [
    "request.refused",
    "login.success",
    "login.failure",
    "logout",
    "record.list",
    "record.read",
    "record.create",
    "record.update",
    "record.history",
    "record.transition",
    "record.assign",
    "record.unassign",
    "record.refer",
    "record.reveal",
    "referral.accept",
    "referral.decline",
    "referral.revoke",
    "referral.close",
    "user.add",
    "user.disable",
    "user.password_reset",
    "agency.add",
    "agency.update",
    "report.run",
    "export.run",
    "record.offline",
    "record.sync",
    "emergency.open",
    "emergency.read",
    "emergency.end",
    "user.password_change",
    "user.second_factor_reset",
    "second_factor.enrol",
    "second_factor.enrol_failure",
    "login.second_factor_failure",
    "login.recovery_code",
    "audit.read",
]


async def audit_page(request: Request) -> Response:
    qp = request.query_params

    def work(ctx: Context) -> Response:
        since = moment(qp.get("since"), "since")
        found = audit.read_log(
            ctx,
            username=qp.get("user") or None,
            record_id=qp.get("record") or None,
            action=qp.get("action") or None,
            since=since,
            limit=300,
            filters=dict(qp),
        )
        entries = [
            {
                **e,
                "username": e["user"],
                "at_label": label_time(e["at"]),
                "details_text": ", ".join(f"{k}: {v}" for k, v in e["details"].items() if v not in (None, "", [])),
            }
            for e in found
        ]
        return render(
            request,
            "audit.html",
            ctx,
            title=_("Audit log"),
            entries=entries,
            actions=AUDIT_ACTIONS,
            f_user=qp.get("user"),
            f_record=qp.get("record"),
            f_action=qp.get("action"),
            f_since=qp.get("since"),
        )

    return await page(request, work)
