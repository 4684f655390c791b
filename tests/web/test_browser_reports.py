"""Dashboards in a real browser, in English and Arabic (issue 12): a coordinator's ISP statistics
(aggregates only, suppressed), filtered by period and region, with charts and the same numbers in
tables, right to left in Arabic; a supervisor's case-management indicators; the downloads."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import screenshot, sign_in
from tests.web.test_browser_conversation import assert_no_english


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_the_coordinators_dashboard(site: dict[str, Any], locale: str) -> None:
    page = sign_in(site, "gbv_coordinator", locale=locale)
    page.click("nav a[href='/reports']")
    page.wait_for_url(site["base"] + "/reports")
    assert page.locator("a[href='/reports/isp_monthly']").count() == 1
    assert page.locator("a[href='/reports/case_management']").count() == 0  # internal: not for aggregates-only roles
    page.click("a[href='/reports/isp_monthly']")
    page.wait_for_selector("section.report-table")
    assert page.get_attribute("html", "dir") == ("rtl" if locale == "ar" else "ltr")
    assert page.locator("svg.chart").count() >= 8 and page.locator("table.numbers").count() == 13
    first = page.locator("svg.chart").first
    assert first.get_attribute("role") == "img" and first.get_attribute("aria-label")
    # nothing identifying: no survivor code, no caseworker, no name; suppressed cells are marked
    body = page.inner_text("body")
    assert "GBV-0" not in body and "caseworker" not in body
    assert_no_english(page, locale, "the ISP dashboard")
    screenshot(page, f"dashboard-{locale}")
    # type x sex x age: one chart per type of violence (never summed over the type), each hidden
    # count a hatched box of its own with its text, never a bar of nothing
    period = {"from": page.input_value("#r-from"), "to": page.input_value("#r-to"), "locale": locale}
    api = page.request.get("/api/v1/reports/isp_monthly", params=period).json()
    table = next(t for t in api["tables"] if t["id"] == "by_type_sex_age")
    types = [table["labels"]["values"]["gbv_type"].get(str(c), str(c)) for c in table["categories"]["gbv_type"]]
    section = page.locator("section.report-table:has(#t-by_type_sex_age)")
    assert section.locator("figure.chart-panel > figcaption").all_inner_texts() == types
    assert section.locator("figure.chart-panel > svg[role=img][aria-label]").count() == len(types)
    assert section.locator("table.numbers").count() == 1  # the numbers stay next to the chart
    hidden = [r["count"] for r in table["rows"] if isinstance(r["count"], str)]
    boxes = section.locator("g.suppressed")
    marks = boxes.evaluate_all("gs => gs.map(g => [g.dataset.count, g.lastElementChild.textContent])")
    assert sorted(m for m, _text in marks) == sorted(hidden) and all(m == text for m, text in marks)
    for i in range(min(boxes.count(), 5)):
        box = boxes.nth(i).locator("rect").first.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0
    total = page.locator("p.summary").inner_text()
    page.select_option("#r-incident_admin1", index=1)
    page.click("form.filters button")
    page.wait_for_url("**incident_admin1=*")
    assert page.locator("p.summary").inner_text() != total or "0" in total
    assert page.js_errors == []


def test_a_supervisors_indicators_and_the_downloads(site: dict[str, Any]) -> None:
    page = sign_in(site, "supervisor")
    page.goto(f"{site['base']}/reports/case_management")
    page.wait_for_selector("section.report-table")
    assert "Cases by stage" in page.inner_text("body")
    assert page.locator("#t-open_by_caseworker").count() == 1
    csv = page.request.get(page.get_attribute("p.downloads a:has-text('CSV')", "href") or "")
    assert csv.status == 200 and "by_stage" in csv.text()
    xlsx = page.request.get(page.get_attribute("p.downloads a:has-text('XLSX')", "href") or "")
    assert xlsx.status == 200 and xlsx.body()[:2] == b"PK"
    manager = sign_in(site, "cm_manager")
    manager.goto(f"{site['base']}/reports")
    with manager.expect_download() as info:
        manager.click("form[action='/exports'] button[type=submit] >> nth=0")
    assert info.value.suggested_filename.endswith(".csv")
    screenshot(page, "dashboard-supervisor")
