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


def demo_record(site: dict[str, Any], path: str, owner: str = "caseworker") -> str:
    """A new record of `owner`, walked along one of the demo's paths as the demo's own people are
    (same answers, same steps, same accounts): a test that moves a record on has one of its own,
    whatever the other tests did to the seeded ones. Its id."""
    from datetime import date

    from engine.diagnostics import Report
    from engine.language.demo import read_demo
    from engine.service import seeding
    from engine.service.database import Database

    srv = site["server"]
    module = srv.registry.modules["gbv"]
    demo = read_demo(module, Report())
    assert demo is not None
    walker = seeding._Walker(module, srv.registry, demo, date.today())
    rt = module.record_types[demo.paths[path].record_type]
    person = next(p for p in demo.people if p.path == path and walker.username(walker.owner(rt), p.group) == owner)
    database = Database.open(srv.url)
    try:
        with database.transaction() as session:
            return walker.walk(session, person, None)
    finally:
        database.dispose()


def answer_consent(page: Any, date: str | None = "2026-12-01") -> None:
    """Every required answer of the GBV consent form, on the open form page."""
    if date is not None:
        page.fill("#fld-consent_date", date)
    for name, value in (
        ("consent_obtained_from", "survivor"),
        ("age_band_at_consent", "18_plus"),
        ("confidentiality_explained", "yes"),
        ("consent_for_services", "yes"),
        ("consent_reporting", "yes"),
    ):
        page.check(f"[data-field='{name}'] input[value='{value}']")


def save_oversized_name(page: Any, base: str, case_id: str) -> int:
    """Type a name over the 1 MB limit into a case's form and save: the status of the page shown."""
    page.goto(f"{base}/records/case/{case_id}/forms/survivor_information")
    page.wait_for_selector("#record-form[data-live='1']")
    page.evaluate("document.querySelector('#fld-name').value = 'x'.repeat(1024 * 1024 + 10)")
    with page.expect_navigation() as sent:
        page.click("button[value=save]")
    assert sent.value is not None
    return int(sent.value.status)
