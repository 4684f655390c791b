"""What every page shares: rendering a template in the reader's language, flash messages, running a
page or a form action for the signed-in user, and labels (times, stages, answers)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date, format_datetime
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from engine import i18n
from engine.i18n import N_, _
from engine.runtime.workflow import state_label
from engine.service import decisions, exports, reports
from engine.service.context import Context
from engine.service.errors import Forbidden, NotFound, ServiceError, Unauthorized
from engine.web.context import Endpoint, audit_refusal, in_context, session_alive, state
from engine.web.inputs import check_texts
from engine.web.limits import PART, TOO_LARGE, BodyTooLarge
from renderers import html as renderer

FLASH = "sanad_flash"
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "ar": "العربية", "es": "Español"}
ANONYMOUS_LOCALES = ("en", "fr", "ar", "es")
_env = renderer.environment()

PageWork = Callable[[Context], Response]

# what the offline app (sanad-offline.js) says, sent with every page in the reader's language
OFFLINE_MESSAGES = {
    "online": N_("Online"),
    "offline": N_("Offline"),
    "waiting": N_("Changes waiting: %(n)s"),
    "attention": N_("Need your attention: %(n)s"),
    "sent": N_("last sent at %(when)s"),
    "never": N_("nothing sent yet"),
    "sending": N_("sending…"),
    "sync_now": N_("Send now"),
    "offline_link": N_("Work offline"),
    "locked": N_("offline data locked"),
    "unlock": N_("Unlock"),
    "unlock_title": N_("Unlock the data kept on this device"),
    "password": N_("Password"),
    "wrong_password": N_(
        "That password does not open the data kept on this device. If your password was changed, enter the one"
        " you had before."
    ),
    "sign_in_first": N_("Sign in once while connected to work offline on this device."),
    "sign_in": N_("Sign in"),
    "signed_out": N_("Sign in again to send your changes"),
    "signout_warning": N_("Changes not sent yet: %(n)s. Signing out deletes them from this device. Sign out anyway?"),
    "keep_offline": N_("Keep available offline"),
    "kept": N_("Available offline (remove from this device)"),
    "limit": N_("At most %(n)s records can be kept offline."),
    "records": N_("Records on this device"),
    "none": N_("No record on this device yet."),
    "no_package": N_("Connect and sign in once to take the forms offline."),
    "new_record": N_("New record: %(type)s"),
    "new_record_short": N_("(new)"),
    "back": N_("Back to the records on this device"),
    "forms": N_("Forms"),
    "steps": N_("Next steps"),
    "comment": N_("Comment"),
    "online_only": N_("Needs a connection: taken online."),
    "queue_step": N_("%(step)s (sent when you are connected)"),
    "draft_restored": N_("Your unsaved answers were restored."),
    "draft_older": N_("Answers you typed here on %(time)s were not saved, and the record has changed since."),
    "draft_restore": N_("Put my unsaved answers back"),
    "draft_discard": N_("Discard them"),
    "conflict_title": N_("Someone else changed these answers while you were offline: choose which to keep"),
    "mine": N_("Mine"),
    "theirs": N_("Theirs"),
    "keep_choices": N_("Keep these answers"),
    "rejected_title": N_("Not saved on the server: please correct"),
    "review_title": N_("The forms were updated: please check these answers"),
    "fix": N_("Open the form to correct it"),
    "dismiss": N_("Remove this message"),
}


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
    """A timestamp in the reader's language (Babel/CLDR medium: unambiguous in every language,
    e.g. 'Dec 5, 2026, 9:59:00 PM', '5 déc. 2026, 21:59:00')."""
    if not iso:
        return ""
    return _time_label(iso, i18n.current().locale)


@functools.lru_cache(maxsize=8192)
def _time_label(iso: str, locale: str) -> str:
    # Babel formats a moment in ~50 µs and a record page shows twenty: a history, a queue and a
    # list repeat the same moments from page to page (times of steps and saves, never answers)
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return format_datetime(moment, "medium", locale=i18n.babel_locale(locale))


def label_date(iso: str | None) -> str:
    """A date answer (YYYY-MM-DD) in the reader's language, CLDR medium ('Nov 28, 2026')."""
    if not iso:
        return ""
    try:
        day = date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return format_date(day, "medium", locale=i18n.babel_locale(i18n.current().locale))


def choice_label(f: Any, value: str) -> str:
    """An option's label in the reader's language (the value itself if it is not an option)."""
    tr = i18n.current()
    for c in f.choices or ():
        if c.value == value:
            return tr.gettext(c.label) if f.type == "yes_no" else tr.text(i18n.choice_path(f, c), c.label)[0]
    return value


def field_label(f: Any) -> str:
    """A question's label in the reader's language."""
    return i18n.current().text(f"{i18n.field_path(f)}/label", f.label)[0]


def form_state_label(form: dict[str, Any]) -> str:
    """A form's state for the reader: not needed, not started, in progress (with what is missing)
    or complete; the same words on the record page and in lists."""
    if not form["relevant"]:
        return _("Not needed")
    if form["state"] == "not_started":
        return _("Not started")
    if form["state"] == "complete":
        return _("Complete")
    if form["missing"]:
        return i18n.current().ngettext(
            "In progress: %(num)s required answer missing",
            "In progress: %(num)s required answers missing",
            form["missing"],
        )
    return _("In progress: some answers need correcting")


def cell(f: Any, value: Any) -> str:
    """An answer as text for a list or a message, in the reader's language: option labels for
    choices, dates in CLDR medium form, a dash when empty."""
    if value in (None, "", []):
        return "—"
    if f.choices:
        return i18n.current().join([choice_label(f, str(v)) for v in i18n.chosen_codes(f, value)])
    if f.type == "date" and isinstance(value, str):
        return label_date(value)
    if f.type == "datetime" and isinstance(value, str):
        return label_time(value)
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
    if ctx is not None and not ctx.actor.role.aggregate_only and decisions.decision_stages(ctx):
        nav.append({"href": "/queue", "label": _("Decisions"), "current": request.url.path.startswith("/queue")})
    if ctx is not None and (reports.available(ctx) or exports.may_export(ctx)):
        nav.append({"href": "/reports", "label": _("Reports"), "current": request.url.path.startswith("/reports")})
    if ctx is not None and ctx.actor.role.can("audit.read"):
        nav.append({"href": "/audit", "label": _("Audit log"), "current": request.url.path.startswith("/audit")})
    offered = ctx.module.locales if ctx is not None else ANONYMOUS_LOCALES
    offline_messages = {k: tr.plain_text(v) for k, v in OFFLINE_MESSAGES.items()}
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
        offline_messages=offline_messages,
        idle_minutes=state(request).settings.idle_minutes,
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
                if TOO_LARGE in request.scope.get("state", {}):
                    raise BodyTooLarge(request.scope["state"][TOO_LARGE])
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
            except BodyTooLarge as exc:
                return await too_large(request, exc.limit, whole_form=True)
            except (MultiPartException, HTTPException) as exc:
                # Starlette reports a bad body as HTTPException(400) inside an app, with its parser's text
                detail = str(getattr(exc, "detail", exc))
                if "maximum size" in detail:  # one answer over Starlette's limit for a part
                    return await too_large(request, PART, whole_form=False)
                message = _("The form could not be read. Please try again.")
                return render(request, "error.html", None, 400, title=_("That did not work"), message=message)
            return await fn(request, Posted(items))

        return wrapped

    return decorate


def _size(limit: int) -> str:
    """A size limit for people: '1 MB', '4 MB', '16 KB' (CLDR units in the reader's language)."""
    from babel.units import format_unit

    locale = i18n.current().locale
    if limit >= 1024 * 1024:
        return format_unit(limit // (1024 * 1024), "digital-megabyte", "short", locale=locale)
    return format_unit(limit // 1024, "digital-kilobyte", "short", locale=locale)


async def error_page(request: Request, status: int, title: Callable[[], str], message: Callable[[], str]) -> Response:
    """The app's error page, in the signed-in user's language (the browser's for a visitor); the
    texts are made once that language is set."""

    def page_for(ctx: Context | None) -> Response:
        if ctx is None:
            anonymous_locale(request)
        return render(request, "error.html", ctx, status, title=title(), message=message())

    try:
        return await in_context(request, page_for)
    except ServiceError:
        return page_for(None)


async def too_large(request: Request, limit: int, *, whole_form: bool) -> Response:
    """The error page for a posted form over a size limit (413); nothing was saved, and going
    back keeps what the browser still holds."""

    def message() -> str:
        if whole_form:
            what = _("The form is larger than the %(size)s a page may send.", size=_size(limit))
        else:
            what = _("An answer is longer than the %(size)s one answer may hold.", size=_size(limit))
        return what + " " + _("Nothing was saved. Go back, shorten the longest answers, and save again.")

    return await error_page(request, 413, lambda: _("Too large to save"), message)


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
        return await error_page(
            request, 404, lambda: _("Not found"), lambda: _("There is no such page, or it is not yours to see.")
        )
    except Forbidden as exc:
        await audit_refusal(request, exc)
        refused = exc.message
        return await error_page(request, 403, lambda: _("Not allowed"), lambda: refused)
    except ServiceError as exc:
        await audit_refusal(request, exc)
        failed = exc.message
        return await error_page(request, exc.status, lambda: _("That did not work"), lambda: failed)


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
