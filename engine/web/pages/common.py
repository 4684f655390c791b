"""What every page shares: rendering a template in the reader's language, flash messages, running a
page or a form action for the signed-in user, and labels (times, stages, answers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_datetime
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from engine import i18n
from engine.i18n import _
from engine.runtime.workflow import state_label
from engine.service.context import Context
from engine.service.errors import Forbidden, NotFound, ServiceError, Unauthorized
from engine.web.context import Endpoint, audit_refusal, in_context, session_alive, state
from engine.web.inputs import check_texts
from renderers import html as renderer

FLASH = "sanad_flash"
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "ar": "العربية", "es": "Español"}
ANONYMOUS_LOCALES = ("en", "fr", "ar", "es")
_env = renderer.environment()

PageWork = Callable[[Context], Response]


# -- flash messages --------------------------------------------------------------------------------
def _flash_signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(state(request).settings.secret_key, salt="sanad-flash")


def peek_flash(request: Request) -> dict[str, Any]:
    """The flash data (a message and small state for the next page), if the cookie is genuine and fresh;
    render() then deletes the cookie, so it is shown once."""
    raw = request.cookies.get(FLASH)
    if not raw:
        return {}
    try:
        data = _flash_signer(request).loads(raw, max_age=120)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def redirect(request: Request, url: str, message: str | None = None, **extra: Any) -> Response:
    response = RedirectResponse(url, status_code=303)
    if message or extra:
        response.set_cookie(
            FLASH,
            _flash_signer(request).dumps({"messages": [message] if message else [], **extra}),
            httponly=True,
            samesite="lax",
            path="/",
            secure=request.url.scheme == "https",
        )
    return response


# -- labels -------------------------------------------------------------------------------------------
def label_time(iso: str | None) -> str:
    """A timestamp in the reader's language (Babel/CLDR), e.g. '24 nov. 2026, 21:59'."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return format_datetime(moment, "short", locale=i18n.current().locale)


def cell(f: Any, value: Any) -> str:
    """An answer as text for a list or a message: option labels for choices, a dash when empty."""
    if value in (None, "", []):
        return "—"
    if f.choices:
        labels = {c.value: c.label for c in f.choices}
        vals = value if isinstance(value, list) else [value]
        return ", ".join(str(labels.get(v, v)) for v in vals)
    return str(value)


def rows(ctx: Context, items: list[dict[str, Any]], record_type: str) -> list[dict[str, Any]]:
    """List items with their stage and last change labelled for the reader."""
    wf = ctx.module.workflow_for(record_type)
    for it in items:
        it["record_type"] = record_type
        it["stage_label"] = (
            state_label(wf, it["stage"]) if wf and it.get("stage") in wf.states else (it.get("stage") or "")
        )
        it["updated_label"] = label_time(it.get("updated_at"))
    return items


def safe_next(value: str | None) -> str:
    """A local path to go back to (never another site)."""
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


def here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


# -- rendering -----------------------------------------------------------------------------------------
def anonymous_locale(request: Request) -> str:
    """The language of a page shown before sign-in: ?locale=, else the browser's."""
    st = state(request)
    locale = i18n.negotiate(
        request.query_params.get("locale"), None, request.headers.get("accept-language"), ANONYMOUS_LOCALES
    )
    module = next(iter(st.registry.modules.values()), None)
    if module is not None:
        i18n.use(i18n.translator_for(module, locale))
    return locale


def render(request: Request, template: str, ctx: Context | None, status: int = 200, **values: Any) -> HTMLResponse:
    flash = peek_flash(request)
    locale = ctx.locale if ctx is not None else anonymous_locale(request)
    tr = i18n.current()
    nav = []
    if ctx is not None and not ctx.actor.role.aggregate_only:
        for rt in ctx.module.record_types.values():
            if ctx.policy.may_on_type(ctx.actor, rt.id, "read"):
                href = f"/records/{rt.id}"
                label = tr.text(f"record_types/{rt.id}/title", rt.title)[0]
                nav.append({"href": href, "label": label, "current": request.url.path.startswith(href)})
    if ctx is not None and ctx.actor.role.can("audit.read"):
        nav.append({"href": "/audit", "label": _("Audit log"), "current": request.url.path.startswith("/audit")})
    offered = ctx.module.locales if ctx is not None else ANONYMOUS_LOCALES
    body = _env.get_template(template).render(
        lang=locale,
        dir=i18n.locale_direction(locale),
        locales=[(code, LANGUAGE_NAMES.get(code, code)) for code in offered],
        back_url=here(request),
        user=ctx.user if ctx else None,
        role_label=tr.text(f"roles/{ctx.actor.role.id}/label", ctx.actor.role.label)[0] if ctx else "",
        nav=nav,
        flashes=flash.get("messages", []),
        flash=flash,
        **values,
    )
    response = HTMLResponse(body, status_code=status)
    if flash:
        response.delete_cookie(FLASH, path="/")
    return response


# -- reading a posted form ---------------------------------------------------------------------------------
class Posted:
    """A posted form's fields, read after the session was checked, with clean texts."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.items = items

    def get(self, key: str, default: str = "") -> str:
        return next((v for k, v in reversed(self.items) if k == key), default)

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self.items if k == key]


PostHandler = Callable[[Request, Posted], Awaitable[Response]]


def _record_page_of(path: str) -> str:
    """Where to come back after signing in: the page the form belongs to."""
    parts = path.strip("/").split("/")
    if parts[:1] == ["records"] and len(parts) >= 5 and parts[3] == "forms":
        return "/" + "/".join(parts[:5])
    if parts[:1] == ["records"] and len(parts) >= 3:
        return "/" + "/".join(parts[:3])
    return "/"


def with_form(max_fields: int, *, signed_in: bool = True) -> Callable[[PostHandler], Endpoint]:
    """Read a posted form for the handler. When `signed_in`, the session is checked first, so a
    visitor without one is sent to sign in before a byte of the body is read."""

    def decorate(fn: PostHandler) -> Endpoint:
        async def wrapped(request: Request) -> Response:
            try:
                if signed_in and not await session_alive(request):
                    raise Unauthorized("sign in first")
                async with request.form(max_files=0, max_fields=max_fields) as form:
                    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
                for k, v in items:
                    check_texts(v, k.removeprefix("f:"))
            except Unauthorized:
                target = _record_page_of(request.url.path)
                return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
            except ServiceError as exc:
                return render(
                    request, "error.html", None, exc.status, title=_("That did not work"), message=exc.message
                )
            except MultiPartException as exc:
                return render(request, "error.html", None, 400, title=_("That did not work"), message=str(exc))
            return await fn(request, Posted(items))

        return wrapped

    return decorate


# -- running pages and actions ---------------------------------------------------------------------------
async def page(request: Request, work: PageWork) -> Response:
    """Run a page for the signed-in user in one transaction; signed-out users go to the sign-in page,
    refusals get an error page (and are audited)."""
    try:
        return await in_context(request, work)
    except Unauthorized:
        return RedirectResponse("/login?" + urlencode({"next": here(request)}), status_code=303)
    except NotFound as exc:
        await audit_refusal(request, exc)
        return render(
            request,
            "error.html",
            None,
            404,
            title=_("Not found"),
            message=_("There is no such page, or it is not yours to see."),
        )
    except Forbidden as exc:
        await audit_refusal(request, exc)
        return render(request, "error.html", None, 403, title=_("Not allowed"), message=exc.message)
    except ServiceError as exc:
        await audit_refusal(request, exc)
        return render(request, "error.html", None, exc.status, title=_("That did not work"), message=exc.message)


async def action(request: Request, work: PageWork, back: str) -> Response:
    """Run a POST action; on a refusal go back with the reason as a message (nothing was saved)."""
    try:
        return await in_context(request, work)
    except Unauthorized:
        return RedirectResponse("/login?" + urlencode({"next": back}), status_code=303)
    except ServiceError as exc:
        await audit_refusal(request, exc)
        reasons = " ".join(exc.details.get("reasons", []))
        return redirect(request, back, f"{exc.message}. {reasons}".strip())
