"""The offline app's pages: its home (/offline), the blank form of each form a role fills
(/offline/form/<record type>/<form>), which the device keeps and fills from its own store, the
service worker that serves them without a connection, and the web app manifest."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine import i18n
from engine.i18n import _
from engine.runtime.evaluation import evaluate
from engine.service.context import Context
from engine.service.errors import NotFound
from engine.web.pages.common import page, render
from renderers import html as renderer
from renderers.html import formview
from renderers.json.form import evaluation_order, form_to_json

STATIC_FILES = ("sanad.css", "sanad-expr.js", "sanad-form.js", "sanad-merge.js", "sanad-store.js", "sanad-offline.js")


async def offline_home(request: Request) -> Response:
    def work(ctx: Context) -> Response:
        return render(request, "offline.html", ctx, title=_("Working offline"))

    return await page(request, work)


async def offline_form(request: Request) -> Response:
    """A form with no answers, every question the role may see, ready to be filled on the device."""
    p = request.path_params

    def work(ctx: Context) -> Response:
        rt = ctx.module.record_types.get(p["record_type"])
        if rt is None or p["form"] not in rt.forms or not ctx.actor.role.may_read_form(p["form"]):
            raise NotFound("no such form")
        form = rt.forms[p["form"]]
        ev = evaluate(rt, {})
        visible = frozenset(f.id for f in rt.all_fields.values() if ctx.policy.sees(ctx.actor, f))
        editable = ctx.actor.role.may_write_form(form.id)
        fields = formview.build(form, ev, {}, editable, visible, show_errors=False)
        definition = form_to_json(ctx.module, form, i18n.current(), lambda f: f.id in visible)
        definition["order"] = [name for kind, name in evaluation_order(rt) if kind == "field" and name in visible]
        items = formview.layout(form, fields, ev)
        top = [i for i in items if isinstance(i, formview.SectionView)]
        return render(
            request,
            "form.html",
            ctx,
            title=i18n.current().text(f"forms/{form.id}/title", form.title)[0],
            rt=rt,
            rec={"id": "", "short_id": ""},
            form=form,
            fields=fields,
            items=items,
            toc=top if len(top) >= 2 and len(form.fields) >= 12 else [],
            locked=None,
            summary=[],
            summary_title=None,
            editable=editable,
            form_relevant=True,
            version=0,
            definition=definition,
            record_values={},
            conflict=None,
            today=ev.today,
            offline=True,
        )

    return await page(request, work)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in STATIC_FILES:
        path = os.path.join(renderer.STATIC, name)
        with open(path, "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()[:12]


async def service_worker(request: Request) -> Response:
    """The service worker, with the fingerprint of the static files in its cache's name (so a new
    version of Sanad replaces the cached files)."""
    with open(os.path.join(renderer.STATIC, "sw.js"), encoding="utf-8") as fh:
        script = fh.read().replace("__VERSION__", _fingerprint())
    return Response(
        script,
        media_type="text/javascript",
        headers={"service-worker-allowed": "/", "cache-control": "no-cache"},
    )


async def manifest(request: Request) -> Response:
    data: dict[str, Any] = {
        "name": "Sanad",
        "short_name": "Sanad",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f5f7fa",
        "theme_color": "#1d5e8c",
        "icons": [{"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml"}],
    }
    return JSONResponse(
        data, media_type="application/manifest+json", headers={"cache-control": "public, max-age=86400"}
    )
