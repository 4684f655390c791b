"""Lists of records: filters, search, sorting, paging, and revealing a masked name (audited)."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from engine import i18n
from engine.runtime.workflow import state_label
from engine.service import listing, records
from engine.service.context import Context
from engine.service.errors import NotFound
from engine.service.listing import COUNT_CAP, MAX_PAGE
from engine.web.inputs import whole_number
from engine.web.pages.common import (
    Posted,
    cell,
    choice_label,
    field_label,
    here,
    page,
    peek_flash,
    redirect,
    render,
    rows,
    safe_next,
    with_form,
)

#: records a list page shows
LIST_PAGE_SIZE = 25


async def record_list(request: Request) -> Response:
    rt_id = request.path_params["record_type"]
    qp = request.query_params

    def work(ctx: Context) -> Response:
        rt = ctx.module.record_types.get(rt_id)
        if rt is None or not ctx.policy.may_on_type(ctx.actor, rt_id, "read"):
            raise NotFound("no such list")
        page_no = whole_number(qp.get("page"), "page", default=1, low=1, high=MAX_PAGE)
        sort = qp.get("sort", "updated")
        after = qp.get("after") or None
        choice_filters = [
            rt.scope.fields[fid]
            for fid in rt.list_fields
            if rt.scope.fields[fid].choices
            and rt.scope.fields[fid].sensitivity in ctx.actor.role.sensitivity
            and ctx.actor.role.may_read_form(rt.scope.fields[fid].form_id)
        ]
        filters = {f.id: qp.get(f"f_{f.id}", "") for f in choice_filters}
        result = listing.list_records(
            ctx,
            rt_id,
            qp.get("stage") or None,
            qp.get("q") or None,
            page_no,
            sort,
            rt.list_fields,
            page_size=LIST_PAGE_SIZE,
            filters=filters,
            owner=qp.get("owner") or None,
            created_from=qp.get("from") or None,
            created_to=qp.get("to") or None,
            after=after,
        )
        columns = []
        for fid in rt.list_fields:
            f = rt.scope.fields[fid]
            if f.sensitivity in ctx.actor.role.sensitivity:
                columns.append({"id": fid, "label": field_label(f), "masked": f.sensitivity == "direct"})
        items = rows(ctx, result["items"], rt_id)
        for it in items:
            it["cells"] = {
                str(c["id"]): cell(rt.scope.fields[str(c["id"])], it.get("fields", {}).get(c["id"])) for c in columns
            }
        wf = ctx.module.workflow_for(rt_id)
        # the total is exact up to COUNT_CAP records; past it "more than 1,000" and no last page
        pages = None if result["total_capped"] else max(1, -(-result["total"] // result["page_size"]))

        def page_link(n: int, cursor: str | None = None) -> str:
            """Page `n`: the next page by the cursor after this one (an index seek, however deep),
            an earlier one by its number."""
            params = {k: v for k, v in qp.items() if k not in ("page", "after")}
            params["page"] = str(n)
            if cursor:
                params["after"] = cursor
            return f"/records/{rt_id}?{urlencode(params)}"

        return render(
            request,
            "list.html",
            ctx,
            title=i18n.current().text(f"record_types/{rt.id}/title", rt.title)[0],
            rt=rt,
            items=items,
            columns=columns,
            stages=[{"id": st.id, "label": state_label(wf, st.id)} for st in wf.states.values()] if wf else [],
            stage=qp.get("stage"),
            q=qp.get("q"),
            sort=sort,
            total=result["total"],
            total_capped=result["total_capped"],
            count_cap=COUNT_CAP,
            page=page_no,
            pages=pages,
            page_size=result["page_size"],
            next_link=page_link(page_no + 1, result["next"]) if result["next"] and page_no < MAX_PAGE else None,
            page_link=page_link,
            revealed=peek_flash(request).get("revealed"),
            back=here(request),
            can_create=ctx.policy.can_create(ctx.actor, rt_id),
            choice_filters=[
                {
                    "id": f.id,
                    "label": field_label(f),
                    "choices": [{"value": c.value, "label": choice_label(f, c.value)} for c in f.choices or ()],
                    "value": filters[f.id],
                }
                for f in choice_filters
            ],
            owner=qp.get("owner"),
            date_from=qp.get("from"),
            date_to=qp.get("to"),
            new_id=str(uuid.uuid4()),
        )

    return await page(request, work)


@with_form(5)
async def reveal(request: Request, form: Posted) -> Response:
    p = request.path_params
    back = safe_next(form.get("back", f"/records/{p['record_type']}"))

    def work(ctx: Context) -> Response:
        rid = records.reveal(ctx, p["record_type"], p["id"], "shown in a list")
        return redirect(request, back, None, revealed=rid)

    return await page(request, work)
