"""axe-core over every kind of page, in English and Arabic, on a desktop and a phone (issue 11,
item 16): no violation of any rule axe runs by default (WCAG 2.0-2.2 A/AA and best practices).

axe-core is the copy bundled by the axe-playwright-python package (no download at test time)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.browser import demo_record, save_oversized_name, sign_in


def _axe_script() -> str:
    import axe_playwright_python

    with open(os.path.join(os.path.dirname(axe_playwright_python.__file__), "axe.min.js"), encoding="utf-8") as fh:
        return fh.read()


def violations(page: Any) -> list[str]:
    page.evaluate(_AXE.setdefault("script", _axe_script()))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    out = []
    for v in result["violations"]:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:3]]
        out.append(f"{v['id']} ({v['impact']}): {v['help']} at {targets}")
    return out


_AXE: dict[str, str] = {}


def _pages(page: Any, who: str) -> list[tuple[str, str]]:
    """(name, url) of every page kind this user sees, on records of the seeded demo."""
    req = page.request
    if who == "caseworker":
        case = req.get("/api/v1/records/case?stage=follow_up").json()["items"][0]["id"]
        return [
            ("home", "/"),
            ("case-list", "/records/case"),
            ("incident-list", "/records/incident"),
            ("case", f"/records/case/{case}"),
            ("form-sections", f"/records/case/{case}/forms/survivor_information"),
            ("form-rows", f"/records/case/{case}/forms/action_plan"),
            ("form-consent", f"/records/case/{case}/forms/consent_services"),
            ("not-found", "/records/case/00000000-0000-4000-8000-000000000000"),
            ("offline", "/offline"),
            ("offline-form", "/offline/form/case/survivor_information"),
            ("account", "/account"),
        ]
    if who == "supervisor":
        waiting = req.get("/api/v1/records/case?stage=action_plan_requested").json()["items"]
        incident = req.get("/api/v1/records/incident").json()["items"][0]["id"]
        pages = [
            ("home", "/"),
            ("queue", "/queue"),
            ("incident", f"/records/incident/{incident}"),
            ("indicators", "/reports/case_management"),
            ("emergency", "/emergency"),
        ]
        if waiting:
            pages.append(("decision", f"/records/case/{waiting[0]['id']}"))
        return pages
    if who == "dpo":
        return [("audit", "/audit")]
    return [("home-aggregate", "/"), ("reports", "/reports"), ("dashboard", "/reports/isp_monthly")]


@pytest.mark.parametrize("width", [1280, 360], ids=["desktop", "phone"])
@pytest.mark.parametrize("locale", ["en", "ar"])
def test_no_axe_violation_on_any_page(site: dict[str, Any], locale: str, width: int) -> None:
    found: dict[str, list[str]] = {}
    for who in ("caseworker", "supervisor", "dpo", "gbv_coordinator"):
        page = sign_in(site, who, width=width, locale=locale)
        for name, url in _pages(page, who):
            page.goto(site["base"] + url)
            assert page.get_attribute("html", "lang") == locale, f"{who} {name}"
            if page.locator("#record-form").count():
                page.wait_for_selector("#record-form[data-live='1']")
            problems = violations(page)
            if problems:
                found[f"{who} {name}"] = problems
            if width == 360:
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= 360, f"{who} {name} scrolls sideways on a phone ({scroll}px)"
    login = site["browser"].new_page(viewport={"width": width, "height": 800})
    login.goto(f"{site['base']}/login?locale={locale}")
    if problems := violations(login):
        found["sign-in"] = problems
    # pages that answer a form: the confirmation of a final step, and the page for a post too large
    boss = sign_in(site, "supervisor", width=width, locale=locale)
    boss.goto(f"{site['base']}/records/case/{demo_record(site, 'closure_requested')}")
    boss.click("button[data-step='approve_closure']")
    boss.wait_for_selector("section.confirm")
    if problems := violations(boss):
        found["supervisor confirm-step"] = problems
    worker = sign_in(site, "caseworker", width=width, locale=locale)
    case = worker.request.get("/api/v1/records/case?stage=follow_up").json()["items"][0]["id"]
    assert save_oversized_name(worker, site["base"], case) == 413
    if problems := violations(worker):
        found["caseworker too-large"] = problems
    for page in (boss, worker):
        assert page.get_attribute("html", "lang") == locale
        if width == 360:
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert found == {}, "\n".join(f"{k}: {p}" for k, v in found.items() for p in v)
