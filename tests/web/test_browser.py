"""The caseworkers' app in a real browser (headless Chromium): live forms, workflow, access, keyboard.

One seeded demo database and one live server (the `site` fixture, tests/web/conftest.py) serve every
browser test; screenshots of the main pages are saved to test-artifacts/ (not committed).
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from tests.browser import demo_record, new_case, screenshot, sign_in
from tests.conformance_support import browser_payload


def test_sign_in_create_a_case_and_screenshots(site: dict[str, Any]) -> None:
    page = sign_in(site, "caseworker")
    assert "Your open cases" in page.content()
    screenshot(page, "home-caseworker")
    page.goto(site["base"] + "/records/case")
    screenshot(page, "case-list")
    rid = new_case(page)
    assert "Consent for services" in page.title()
    screenshot(page, "form-consent")
    page.goto(f"{site['base']}/records/case/{rid}")
    screenshot(page, "case-page")
    phone = sign_in(site, "caseworker", width=360)
    phone.goto(f"{site['base']}/records/case/{rid}/forms/survivor_information")
    screenshot(phone, "form-phone-360")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the form scrolls sideways on a phone ({width}px)"
    assert page.js_errors == [] and phone.js_errors == []


def test_live_skip_logic_and_calculations(site: dict[str, Any]) -> None:
    page = sign_in(site, "caseworker")
    rid = new_case(page)
    page.goto(f"{site['base']}/records/case/{rid}/forms/survivor_information")
    page.wait_for_selector("#record-form[data-live='1']")
    child_only = page.locator("[data-field='unaccompanied_separated_status']")
    assert child_only.is_visible()  # the age is not known yet: asked, in case the survivor is a child
    page.fill("#fld-date_of_birth", "1990-03-02")
    child_only.wait_for(state="hidden")
    page.fill("#fld-date_of_birth", "2014-03-02")
    child_only.wait_for(state="visible")
    assert re.fullmatch(r"1[0-9]", page.locator("[data-field='age'] output").inner_text())
    page.fill("#fld-date_of_birth", "1990-03-02")
    child_only.wait_for(state="hidden")
    assert int(page.locator("[data-field='age'] output").inner_text()) >= 30
    assert page.js_errors == []


def test_an_invalid_answer_blocks_the_save_in_the_browser(site: dict[str, Any]) -> None:
    page = sign_in(site, "caseworker")
    rid = new_case(page)
    page.goto(f"{site['base']}/records/case/{rid}/forms/survivor_information")
    page.wait_for_selector("#record-form[data-live='1']")
    page.fill("#fld-survivor_code", "gbv 42")
    page.click("button[value=save]")
    summary = page.locator("#error-summary")
    summary.wait_for(state="visible")
    assert "Please check" in summary.inner_text() and "GBV-0042" in summary.inner_text()
    assert "/forms/survivor_information" in page.url and "Saved." not in page.content()


def test_missing_required_answer_shows_the_error_summary(site: dict[str, Any]) -> None:
    page = sign_in(site, "caseworker")
    rid = new_case(page)
    page.goto(f"{site['base']}/records/case/{rid}/forms/survivor_information")
    page.wait_for_selector("#record-form[data-live='1']")
    page.fill("#fld-survivor_code", "")
    page.click("button[value=save]")
    summary = page.locator("#error-summary")
    summary.wait_for(state="visible")
    page.wait_for_selector("#record-form[data-live='1']")
    assert "still needed" in summary.inner_text()  # saved (nothing is lost), and told what is missing
    assert "Survivor code" in summary.inner_text()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    summary.locator("a").first.click()
    assert page.evaluate("document.activeElement.id") == "fld-survivor_code"
    assert page.get_attribute("#fld-survivor_code", "aria-invalid") == "true"


def test_subform_rows_can_be_added_and_removed(site: dict[str, Any]) -> None:
    page = sign_in(site, "caseworker")
    rid = new_case(page)
    page.goto(f"{site['base']}/records/case/{rid}/forms/action_plan")
    page.wait_for_selector("#record-form[data-live='1']")
    rows = page.locator("[data-subform='services'] [data-rows-list] > fieldset.row")
    assert rows.count() == 0
    page.click("[data-subform='services'] [data-add-row]")
    page.click("[data-subform='services'] [data-add-row]")
    assert rows.count() == 2
    rows.nth(0).locator("[data-remove-row]").click()
    assert rows.count() == 1
    assert page.evaluate("document.querySelector('[data-subform=services] [data-rows]').value") == "1"
    rows.nth(0).locator("[data-field='goal']").locator("textarea, input").fill("Medical check-up this week")
    page.click("button[value=save]")
    page.wait_for_selector("text=Saved.")
    assert page.locator("[data-subform='services'] [data-rows-list] > fieldset.row").count() == 1
    assert "Medical check-up" in page.content()


def test_action_plan_approval_by_the_supervisor(site: dict[str, Any]) -> None:
    worker = sign_in(site, "caseworker")
    # a case of its own, whose plan the survivor agreed (the other tests move the seeded ones on)
    rid = demo_record(site, "plan_sent_back")
    worker.goto(f"{site['base']}/records/case/{rid}")
    worker.click("button:text('Ask the supervisor to approve the action plan')")
    worker.wait_for_selector("text=Done:")
    assert "Action plan waiting for approval" in worker.locator(".stage.big").inner_text()
    boss = sign_in(site, "supervisor")
    boss.goto(f"{site['base']}/records/case/{rid}")
    screenshot(boss, "case-page-approval")
    boss.click("button:text('Approve the action plan')")
    boss.wait_for_selector("text=Done:")
    assert boss.locator(".stage.big").inner_text() == "Implementation"


def test_another_caseworker_cannot_open_the_case(site: dict[str, Any]) -> None:
    worker = sign_in(site, "caseworker")
    rid = new_case(worker)
    other = sign_in(site, "caseworker2")
    response = other.goto(f"{site['base']}/records/case/{rid}")
    assert response is not None and response.status == 404
    assert "not yours to see" in other.content()


def test_the_managers_pages_never_contain_a_direct_identifier(site: dict[str, Any]) -> None:
    worker = sign_in(site, "caseworker")
    items = worker.request.get("/api/v1/records/case").json()["items"]
    records = (worker.request.get(f"/api/v1/records/case/{it['id']}").json() for it in items)
    rec = next(r for r in records if r["data"].get("name"))
    name = rec["data"]["name"]
    manager = sign_in(site, "cm_manager")
    for url in (f"/records/case/{rec['id']}", f"/records/case/{rec['id']}/forms/survivor_information", "/records/case"):
        manager.goto(site["base"] + url)
        assert name not in manager.content(), url
    screenshot(manager, "case-list-manager")


def test_a_stale_save_shows_the_conflict(site: dict[str, Any]) -> None:
    worker, boss = sign_in(site, "caseworker"), sign_in(site, "supervisor")
    rid = new_case(worker)
    url = f"{site['base']}/records/case/{rid}/forms/survivor_information"
    worker.goto(url)
    boss.goto(url)
    boss.fill("#fld-survivor_code", "GBV-1111")
    boss.click("button[value=save]")
    boss.wait_for_selector("text=Saved.")
    worker.fill("#fld-survivor_code", "GBV-2222")
    worker.check("[data-field='sex'] input[value=female]")
    worker.click("button[value=save]")
    worker.wait_for_selector("#conflict")
    text = worker.locator("#conflict").inner_text()
    assert "supervisor" in text and "Survivor code" in text
    assert worker.input_value("#fld-survivor_code") == "GBV-2222"  # the user's edit is kept to re-apply
    screenshot(worker, "form-conflict")
    worker.click("button[value=save]")
    worker.wait_for_selector("text=Saved.")


def _tab_to(page: Any, test: str, limit: int = 250) -> None:
    for _ in range(limit):
        if page.evaluate(f"(() => {{ const e = document.activeElement; return !!e && ({test}); }})()"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"keyboard focus never reached: {test}")


def _choose(page: Any, name: str, value: str) -> None:
    _tab_to(page, f"e.name === 'f:{name}'")
    for _ in range(12):
        if page.evaluate("document.activeElement.value") == value:
            page.keyboard.press("Space")
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no option {value} for {name}")


def test_the_consent_form_can_be_completed_with_the_keyboard_only(site: dict[str, Any]) -> None:
    page = sign_in(site, "caseworker")
    rid = new_case(page)
    page.goto(f"{site['base']}/records/case/{rid}/forms/consent_services")
    page.wait_for_selector("#record-form[data-live='1']")
    page.keyboard.press("Tab")
    _tab_to(page, "e.id === 'fld-consent_date'")
    page.keyboard.type("11012026")
    _choose(page, "consent_obtained_from", "survivor")
    _choose(page, "age_band_at_consent", "18_plus")
    _choose(page, "confidentiality_explained", "yes")
    _choose(page, "consent_for_services", "yes")
    _choose(page, "consent_reporting", "yes")
    _tab_to(page, "e.value === 'save'")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Saved.")
    page.goto(f"{site['base']}/records/case/{rid}")
    assert "Complete" in page.locator("li", has_text="Consent for services").inner_text()
    assert page.js_errors == []


def test_the_conformance_vectors_pass_in_the_browser(site: dict[str, Any]) -> None:
    page = site["browser"].new_page()
    page.goto(site["base"] + "/login")
    page.add_script_tag(url="/static/sanad-expr.js")
    vectors = browser_payload()
    results = page.evaluate(
        """(vs) => vs.map(v => { try { return {ok: true, value: SanadExpr.compile(v.ast)(v.env)}; }
                                  catch (e) { return {ok: false, value: String(e)}; } })""",
        vectors,
    )
    failed = []
    for v, r in zip(vectors, results, strict=True):
        want, got = v["expect"], r["value"]
        same = r["ok"] and (
            (isinstance(want, bool) and got is want)
            or (
                isinstance(want, (int, float))
                and not isinstance(want, bool)
                and isinstance(got, (int, float))
                and math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-9)
            )
            or (not isinstance(want, (bool, int, float)) and want == got)
        )
        if not same:
            failed.append((v["name"], want, got))
    assert len(vectors) >= 450
    assert failed == []


@pytest.mark.parametrize("locale", ["ar", "fr", "es"])
def test_pages_in_each_language(site: dict[str, Any], locale: str) -> None:
    """The main pages in each language: direction, no script error, no interface string left in English."""
    from babel.messages.pofile import read_po

    from engine import i18n

    with open(f"{i18n.ROOT_LOCALES}/{locale}/LC_MESSAGES/sanad.po", "rb") as fh:
        catalog = read_po(fh)
    english = {
        m.id
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and "%(" not in m.id and len(m.id) > 12 and m.string != m.id
    }
    page = sign_in(site, "caseworker")
    worker_case = page.request.get("/api/v1/records/case?stage=follow_up").json()["items"][0]["id"]
    for name, url in (
        ("case-page", f"/records/case/{worker_case}"),
        ("long-form", f"/records/case/{worker_case}/forms/survivor_information"),
        ("consent-form", f"/records/case/{worker_case}/forms/consent_services"),
        ("action-plan", f"/records/case/{worker_case}/forms/action_plan"),
        ("home", "/"),
        ("case-list", "/records/case"),
        ("incident-list", "/records/incident"),
    ):
        page.goto(f"{site['base']}{url}?locale={locale}")
        assert page.get_attribute("html", "lang") == locale
        assert page.get_attribute("html", "dir") == ("rtl" if locale == "ar" else "ltr")
        text = page.inner_text("body")
        left = sorted(s for s in english if s in text)
        assert left == [], f"{url} in {locale} still shows English interface text: {left[:5]}"
        screenshot(page, f"{name}-{locale}")
    assert page.js_errors == []
    dpo = sign_in(site, "dpo")
    dpo.goto(f"{site['base']}/audit?locale={locale}")
    assert dpo.get_attribute("html", "dir") == ("rtl" if locale == "ar" else "ltr")
    assert not sorted(s for s in english if s in dpo.inner_text("body"))
    login = site["browser"].new_page()
    login.goto(f"{site['base']}/login?locale={locale}")
    assert login.get_attribute("html", "lang") == locale
    assert not sorted(s for s in english if s in login.inner_text("body"))
