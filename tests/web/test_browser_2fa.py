"""The second factor in a real browser, in English and Arabic: a supervisor (the GBV module requires
it of the role) signs in, sets up an authenticator app on the page it is sent to, keeps the recovery
codes, signs out, and signs in again with a code computed as the phone's app would (pyotp). The new
pages have no axe violation."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest

from tests.browser import screenshot
from tests.server import PASSWORD
from tests.web.test_accessibility import violations


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_set_up_sign_out_and_sign_in_with_a_code(site: dict[str, Any], locale: str) -> None:
    name = f"tala_{locale}"
    site["server"].add_user(name, "supervisor", agency="agency_2fa", groups=("team_2fa",))
    base = site["base"]
    ctx = site["browser"].new_context(viewport={"width": 1280, "height": 900}, base_url=base)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{base}/login?locale={locale}")
        page.fill("#username", name)
        page.fill("#password", PASSWORD)
        page.click("form[action^='/login'] button[type=submit]")

        # the role requires a second factor: the setup page, before anything else
        page.wait_for_url(f"**/sign-in/second-factor?locale={locale}")
        assert page.get_attribute("html", "lang") == locale
        assert page.get_attribute("html", "dir") == ("rtl" if locale == "ar" else "ltr")
        assert page.is_visible("figure.qr svg")
        assert violations(page) == []
        screenshot(page, f"2fa-setup-{locale}")
        page.goto(f"{base}/")  # nothing else is open yet
        assert "/login" in page.url
        page.go_back()
        page.wait_for_url("**/sign-in/second-factor**")
        page.click("details summary")  # cannot scan: the key as text
        secret = (page.text_content("#totp-secret") or "").replace(" ", "")
        assert page.get_attribute("#totp-uri", "href", timeout=2000).startswith("otpauth://totp/")
        app = pyotp.TOTP(secret)
        page.fill("#code", "000000" if app.now() != "000000" else "111111")
        page.click("form[data-second-step] button[type=submit]")
        assert page.is_visible("[role=alert]")
        page.fill("#code", app.now())
        page.click("form[data-second-step] button[type=submit]")
        page.wait_for_selector("#recovery-codes")
        assert len(page.query_selector_all("#recovery-codes li")) == 10
        assert violations(page) == []
        page.click("a.button")
        page.wait_for_url(f"{base}/")
        assert page.get_attribute("body", "data-user") == name

        page.click("form.signout button[type=submit]")
        page.wait_for_url("**/login**")

        # the password, then a code: the app's next one (the current one was spent setting it up)
        page.goto(f"{base}/login?locale={locale}")
        page.fill("#username", name)
        page.fill("#password", PASSWORD)
        page.click("form[action^='/login'] button[type=submit]")
        page.wait_for_url(f"**/sign-in/code?locale={locale}")
        assert page.get_attribute("html", "dir") == ("rtl" if locale == "ar" else "ltr")
        assert page.get_attribute("#code", "autocomplete") == "one-time-code"
        assert violations(page) == []
        screenshot(page, f"2fa-code-{locale}")
        page.fill("#code", app.at(time.time() + 30))
        page.click("form[data-second-step] button[type=submit]")
        page.wait_for_url(f"{base}/")
        assert page.get_attribute("body", "data-user") == name

        page.goto(f"{base}/account")
        assert page.is_visible("#second-factor")
        assert violations(page) == []
        screenshot(page, f"2fa-account-{locale}")
        assert errors == []
    finally:
        ctx.close()
