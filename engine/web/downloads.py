"""Export files for the web app and the API: the export is written to a temporary file inside the
request's transaction (line by line, in bounded memory), then sent and deleted."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from engine import i18n
from engine.i18n import _
from engine.service import exports
from engine.service.context import Context
from engine.service.errors import BadRequest, Forbidden
from engine.web.context import in_context
from renderers import exporting

MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
}


def _ids(value: Any, name: str) -> list[str] | None:
    if value in (None, "", []):
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise BadRequest(f"'{name}' is a list of ids")
    return [x.strip() for x in items if x.strip()]


async def export_response(request: Request, spec: dict[str, Any]) -> Response:
    kind = spec.get("format") or "csv"
    if kind not in ("csv", "xlsx"):
        raise BadRequest("'format' is csv or xlsx")
    phrase = spec.get("password") or None
    if phrase is not None:
        if not isinstance(phrase, str):
            raise BadRequest("'password' is a text")
        try:
            exporting.check_passphrase(phrase)
        except ValueError:
            raise BadRequest(_("A passphrase has at least 12 characters.")) from None
    fd, path = tempfile.mkstemp(prefix="sanad-export-")
    os.close(fd)

    def work(ctx: Context) -> tuple[str, str]:
        if isinstance(spec.get("export"), str):
            plan = exports.defined_export(ctx.session, ctx.module, spec["export"], ctx=ctx)
            name = spec["export"]
        else:
            if not exports.may_export(ctx):
                raise Forbidden(_("Your role may not export records."))
            rt = spec.get("record_type")
            if not isinstance(rt, str):
                raise BadRequest('name the record type: {"record_type": "case"}')
            plan = exports.records_export(
                ctx.session,
                ctx.module,
                rt,
                ctx=ctx,
                forms=_ids(spec.get("forms"), "forms"),
                fields=_ids(spec.get("fields"), "fields"),
                deidentified=bool(spec.get("deidentified")),
            )
            name = f"{rt}{'-deidentified' if spec.get('deidentified') else ''}"
        exports.audited(ctx.session, plan, ctx, kind, phrase is not None, {})
        with open(path, "wb") as fh:
            if kind == "csv":
                exporting.write_csv(fh, plan.header, plan.lines)
            else:
                rtl = i18n.locale_direction(ctx.locale) == "rtl"
                exporting.write_xlsx(fh, plan.sheet, plan.header, plan.lines, rtl)
        return name, ctx.module.id

    try:
        name, _module = await in_context(request, work)
    except BaseException:
        os.remove(path)
        raise
    filename = f"{name}.{kind}"
    if phrase is not None:
        zipped = path + ".zip"
        exporting.encrypt(path, filename, zipped, phrase)
        path, filename, kind = zipped, filename + ".zip", "zip"
    return FileResponse(path, media_type=MEDIA[kind], filename=filename, background=BackgroundTask(os.remove, path))
