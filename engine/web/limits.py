"""Limits on what a request may carry, enforced before anything is parsed.

- Bodies: a declared length over the limit is refused at once; a chunked body is counted while it
  streams in and refused (413) as soon as it passes the limit, so no request can make the server
  hold more than the limit in memory. JSON API calls, page forms and the sign-in form have their
  own limits.
- URLs: a NUL character (`%00`) in the path or query string is refused (400): no database stores it,
  and no user types it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_BODY = 2 * 1024 * 1024  # JSON: a record with long narratives is well under 100 KB
FORM_BODY = 4 * 1024 * 1024  # a page's form: every answer of the longest form, with room to spare
SIGN_IN_BODY = 16 * 1024  # a user name and a password, or a sign-in code


TOO_LARGE = "sanad.body_too_large"  # scope state: the limit a page's posted form went over
PART = 1024 * 1024  # one answer of a page's form (Starlette's limit for one part)


class BodyTooLarge(Exception):
    """A body passed its limit while it streamed in."""

    def __init__(self, limit: int = 0) -> None:
        super().__init__(limit)
        self.limit = limit


def is_page(path: str) -> bool:
    """A caseworker's page (HTML) rather than the JSON API."""
    return not path.startswith("/api/")


async def _empty_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def body_limit(path: str) -> int:
    if path.startswith("/api/"):
        return API_BODY
    if path in ("/login", "/logout", "/locale") or path.startswith("/sign-in/"):
        return SIGN_IN_BODY
    return FORM_BODY


class LimitsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            await _answer(send, 400, "NUL characters are not allowed in addresses")
            return
        limit = body_limit(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await _answer(send, 400, "the Content-Length header is not a number")
            return
        if declared is not None and int(declared) > limit:
            if is_page(scope.get("path", "")):
                # a page answers in the reader's language, with the app's own error page: the form
                # handler sees the mark (TOO_LARGE) and an empty body, never the oversized one
                scope.setdefault("state", {})[TOO_LARGE] = limit
                await self.app(scope, _empty_body, send)
                return
            await _answer(send, 413, f"the request is larger than the {limit // 1024} KB this address accepts")
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _answer(send, 413, f"the request is larger than the {limit // 1024} KB this address accepts")


async def _answer(send: Send, status: int, message: str) -> None:
    import json

    body = json.dumps({"error": message, "status": status}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
