"""Finding 9: memory. A 1.5 GB chunked JSON body to /api/v1/login (no sign-in needed) reached 3 GB
of memory before the size error; 1,000 form fields of 1 MB posted to a form URL reached 1 GB before
the redirect to sign-in. JSON nested 2,000 deep before sign-in was a 500.

The app is driven at the ASGI level with a body that is produced chunk by chunk, so the test sees
how much of it the server read."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.security.conftest import World
from tests.server import asgi_request

CHUNK = 64 * 1024


def _drive(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], total: int) -> tuple[int, int]:
    """(status, bytes the app read) for a request whose body is `total` bytes of 'a', sent in chunks."""
    sent = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent >= total:
            return {"type": "http.disconnect"}
        n = min(CHUNK, total - sent)
        sent += n
        return {"type": "http.request", "body": b"a" * n, "more_body": sent < total}

    status = asyncio.run(asgi_request(app, method, path, headers, receive))
    return status, sent


def test_a_huge_chunked_json_body_is_refused_while_streaming(world: World) -> None:
    status, read = _drive(world.srv.app, "POST", "/api/v1/login", [(b"content-type", b"application/json")], 50 << 20)
    assert status == 413
    assert read <= (2 << 20) + CHUNK, f"read {read} bytes"


def test_a_declared_oversized_body_is_refused_before_reading(world: World) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(50 << 20).encode())]
    status, read = _drive(world.srv.app, "POST", "/api/v1/login", headers, 50 << 20)
    assert status == 413 and read == 0


def test_a_form_post_without_a_session_is_not_read(world: World) -> None:
    rec = world.case()
    path = f"/records/case/{rec['id']}/forms/registration"
    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    status, read = _drive(world.srv.app, "POST", path, headers, 50 << 20)
    assert status == 303
    assert read <= CHUNK, f"read {read} bytes before sending the visitor to sign in"


def test_deeply_nested_json_is_a_clear_400(world: World) -> None:
    body = "[" * 2000 + "]" * 2000
    r = world.client().post("/api/v1/login", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    r = world.client("amina").post(
        "/api/v1/records/case",
        content='{"data": ' + "[" * 2000 + "]" * 2000 + "}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400, r.text
