"""Break the glass in a real browser, in English and Arabic (issue 14): the supervisor of team south
opens a case of team north from the emergency page with a reason, reads it under a banner that says
until when and that every view is recorded, cannot take its steps, and ends it; the supervisor of
team north finds it on their home page, and the caseworker in the case's history."""

from __future__ import annotations

from typing import Any

import pytest

from engine import i18n
from tests.browser import screenshot, sign_in

REASON = {
    "en": "The survivor is at the clinic now; her caseworker cannot be reached.",
    "ar": "الناجية في العيادة الآن ولا يمكن الوصول إلى مسؤولة حالتها.",
}


def _words(site: dict[str, Any], locale: str, message: str) -> list[str]:
    """The words of an interface message in `locale` (as the catalogs have it), around its values."""
    text = i18n.translator_for(site["server"].registry.modules["gbv"], locale).plain_text(message)
    return [part.strip() for part in text.replace("%(time)s", "\0").split("\0") if part.strip()]


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_a_supervisor_breaks_the_glass_and_the_team_sees_it(site: dict[str, Any], locale: str) -> None:
    worker = sign_in(site, "caseworker", locale=locale)
    mine = worker.request.get("/api/v1/records/case").json()["items"]
    case = next(it for it in mine if it["owner"] == "caseworker")
    rid, short = case["id"], case["short_id"]

    other = sign_in(site, "supervisor2", locale=locale)  # team south: the case is out of their scope
    assert other.request.get(f"/api/v1/records/case/{rid}").status == 404
    other.click("a[href='/emergency']")
    other.wait_for_url(site["base"] + "/emergency")
    assert other.get_attribute("html", "dir") == ("rtl" if locale == "ar" else "ltr")
    other.fill("#emergency-record", short)
    other.fill("#emergency-reason", "now")  # too short: the browser asks for more before sending
    other.click("form[action='/emergency'] button[type=submit]")
    assert other.evaluate("document.querySelector('#emergency-reason').validity.valid") is False
    assert other.url == site["base"] + "/emergency"
    other.fill("#emergency-reason", REASON[locale])
    other.click("form[action='/emergency'] button[type=submit]")
    other.wait_for_url(f"{site['base']}/records/case/{rid}")
    banner = other.locator("section.emergency")
    title = banner.locator("h2").inner_text()
    for words in _words(site, locale, "Emergency access until %(time)s — every view is recorded"):
        assert words in title, (words, title)
    assert REASON[locale] in banner.inner_text()
    # read-only: no step, no assignment, every form read only
    assert other.locator("form.decide").count() == 0 and other.locator("#assign-to").count() == 0
    assert other.locator("ul.forms li").count() > 0
    screenshot(other, f"emergency-{locale}")

    boss = sign_in(site, "supervisor", locale=locale)  # team north: the case's supervisor
    section = boss.locator("section.emergencies")
    assert section.count() == 1
    assert short in section.inner_text() and REASON[locale] in section.inner_text()
    assert "supervisor2" in section.inner_text()
    screenshot(boss, f"emergency-home-{locale}")

    worker.goto(f"{site['base']}/records/case/{rid}")
    assert REASON[locale] in worker.locator("ol.history").inner_text()

    other.click("section.emergency button[type=submit]")
    other.wait_for_url(site["base"] + "/emergency")
    assert other.request.get(f"/api/v1/records/case/{rid}").status == 404
    for page in (worker, other, boss):
        assert page.js_errors == []
