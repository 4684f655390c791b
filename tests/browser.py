"""A live server in a thread and a headless Chromium (Playwright, the system's /usr/bin/chromium)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyotp
import pytest
import uvicorn

CHROMIUM = os.environ.get("SANAD_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-artifacts")


def chromium_or_skip() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium") or ""
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed (apt-get install -y chromium), and CI requires the browser tests")
        pytest.skip("Chromium is not installed")
    return path


@contextmanager
def live(app: Any) -> Iterator[str]:
    """Serve `app` on a free local port in a background thread; yields the base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = chromium_or_skip()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def screenshot(page: Any, name: str) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)


def sign_in(site: dict[str, Any], username: str, width: int = 1280, locale: str = "en") -> Any:
    """A new browser context signed in as `username` (a demo account) on the seeded site, the
    language chosen on the sign-in page first (and so saved to the account: the tests share it)."""
    ctx = site["browser"].new_context(viewport={"width": width, "height": 900}, base_url=site["base"])
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{site['base']}/login?locale={locale}")
    page.fill("#username", username)
    page.fill("#password", site["accounts"][username].password)
    page.click("form[action^='/login'] button[type=submit]")
    second_step(site, page, username)
    page.wait_for_url(site["base"] + "/")
    page.js_errors = errors  # checked by the tests: no script error on any page
    return page


def second_step(site: dict[str, Any], page: Any, username: str) -> None:
    """After the password: type the code of the account's app, as its owner would (computed with
    pyotp), or, for a role that requires a second factor the account does not have yet, set it up
    on the page (the key it shows, a first code, the recovery codes page) and go on."""
    base = site["base"]
    page.wait_for_url(lambda url: url.rstrip("/") == base or "/sign-in/" in url)
    if "/sign-in/second-factor" in page.url:
        secret = page.text_content("#totp-secret").replace(" ", "")
        page.fill("#code", pyotp.TOTP(secret).now())
        page.click("form[data-second-step] button[type=submit]")
        page.wait_for_selector("#recovery-codes")
        page.click("a.button")
    elif "/sign-in/code" in page.url:
        page.fill("#code", site["server"].totp_code(username))
        page.click("form[data-second-step] button[type=submit]")


def new_case(page: Any) -> str:
    page.click("form[action='/records/case/new'] button")
    page.wait_for_selector("#record-form[data-live='1']")
    return str(page.url).split("/")[5]
