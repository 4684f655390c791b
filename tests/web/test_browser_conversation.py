"""Caseworker → supervisor → caseworker in a real browser, in Arabic, French and English (issue 11):
ask for approval with a comment, be sent back with a reason, see it, fix the plan, be approved. On
the way, in Arabic and French, no word of the interface or the definitions is left in English
(data — comments, codes, user names — is not the interface). Screenshots of the case page, the
decision panel, a form with sections and the supervisor's queue go to test-artifacts/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from babel.messages.pofile import read_po
from babel.units import format_unit

from engine import i18n
from tests.browser import answer_consent, demo_record, new_case, save_oversized_name, screenshot, sign_in

COMMENTS = {
    "ar": ("وافقت الناجية على الخطة في جلسة اليوم.", "يُرجى إضافة موعد لكل هدف.", "أضفت المواعيد."),
    "fr": (
        "Plan convenu avec la survivante aujourd'hui.",
        "Ajoutez une échéance à chaque objectif.",
        "Échéances ajoutées.",
    ),
    "en": ("Plan agreed with the survivor today.", "Please add a due date to each goal.", "Due dates added."),
}

# text a reader sees that is data, not the interface: comments, codes and user names
_DATA_FREE_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('blockquote, bdi, script, template, option:not(:checked), .flash').forEach(e => e.remove());
  return body.innerText;
}"""


def _english(locale: str) -> list[str]:
    """English strings of the interface and of the GBV definitions that have a translation in
    `locale`; long enough not to be found by chance inside a word."""
    out: set[str] = set()
    for path in (
        f"{i18n.ROOT_LOCALES}/{locale}/LC_MESSAGES/sanad.po",
        f"{i18n.ROOT_LOCALES}/{locale}/LC_MESSAGES/gbv.po",
    ):
        with open(path, "rb") as fh:
            for m in read_po(fh):
                if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string and m.string != m.id:
                    text = m.id.split("%(")[0].strip()
                    if len(text) >= 10 and not text.startswith(("http", "GBV-")):
                        out.add(text)
    return sorted(out)


def assert_no_english(page: Any, locale: str, where: str) -> None:
    if locale == "en":
        return
    text = " ".join(page.evaluate(_DATA_FREE_TEXT).split())
    left = [s for s in _ENGLISH.setdefault(locale, _english(locale)) if s in text]
    assert left == [], f"{where} in {locale} still shows English: {left[:6]}"
    # times in the page's language: "23:16:49" or "١١:١٦:٤٩ م", never "11:16:49 PM"
    ampm = re.findall(r".{0,20}\b(?:AM|PM)\b", text)
    assert ampm == [], f"{where} in {locale} shows an English time: {ampm[:3]}"


def sent_just_now(page: Any) -> None:
    """The offline status in the header says when changes were last sent (a time of day)."""
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_function(
        "() => { const m = document.querySelector('#sync-status .meta');"
        " return !!m && /[0-9\u0660-\u0669]/.test(m.textContent); }"
    )


_ENGLISH: dict[str, list[str]] = {}


def _case_to_plan(page: Any) -> str:
    """A case of this caseworker where the action plan can be sent for approval (a case being
    implemented goes back to planning first, as a caseworker would to revise the plan)."""
    for stage, step in (("action_planning", "request_action_plan_approval"), ("implementation", "revise_action_plan")):
        for it in page.request.get(f"/api/v1/records/case?stage={stage}").json()["items"]:
            rec = page.request.get(f"/api/v1/records/case/{it['id']}").json()
            if any(t["id"] == step and t["allowed"] for t in rec["transitions"]) and rec["owner"] == "caseworker":
                if step == "revise_action_plan":
                    page.goto(f"/records/case/{it['id']}")
                    page.click("button[data-step='revise_action_plan']")
                    page.wait_for_selector(".flash .notice")
                    ok = page.request.get(f"/api/v1/records/case/{it['id']}").json()
                    if not any(t["id"] == "request_action_plan_approval" and t["allowed"] for t in ok["transitions"]):
                        continue
                return str(it["id"])
    raise AssertionError("no case of the caseworker can go to the supervisor")


@pytest.mark.parametrize("locale", ["ar", "fr", "en"])
def test_request_send_back_fix_and_approve(site: dict[str, Any], locale: str) -> None:
    ask, reason, fixed = COMMENTS[locale]
    worker = sign_in(site, "caseworker", locale=locale)
    assert worker.get_attribute("html", "lang") == locale  # the language chosen at sign-in is kept
    rid = _case_to_plan(worker)
    case_url = f"{site['base']}/records/case/{rid}"

    # 1. the caseworker asks for approval, with a note
    worker.goto(case_url)
    sent_just_now(worker)
    assert_no_english(worker, locale, "the case page")
    worker.fill("#step-comment", ask)
    worker.click("button[data-step='request_action_plan_approval']")
    worker.wait_for_selector(".flash .notice")
    assert_no_english(worker, locale, "the case page after the request")
    # the plan cannot change while it waits
    worker.goto(f"{case_url}/forms/action_plan")
    assert worker.locator(".notice.locked").is_visible() and worker.locator("button[value=save]").count() == 0
    assert_no_english(worker, locale, "the locked action plan")

    # 2. the supervisor finds it in the queue and sees the note
    boss = sign_in(site, "supervisor", locale=locale)
    boss.goto(f"{site['base']}/queue")
    while not boss.locator(f"a[href='/records/case/{rid}']").count():
        boss.click("a[rel=next]")  # the oldest request first: a new one may be on a later page
    assert_no_english(boss, locale, "the queue")
    screenshot(boss, f"queue-{locale}")
    boss.goto(case_url)
    latest = boss.locator("section.decision")
    assert ask in latest.inner_text() and "caseworker" in latest.inner_text()
    assert_no_english(boss, locale, "the decision panel")
    screenshot(boss, f"decision-panel-{locale}")
    # the approving step is the main button; sending back needs a reason
    assert "primary" in (boss.get_attribute("button[data-step='approve_action_plan']", "class") or "")
    assert "secondary" in (boss.get_attribute("button[data-step='reject_action_plan']", "class") or "")
    boss.click("button[data-step='reject_action_plan']")
    boss.wait_for_selector(".flash .notice")
    assert boss.locator(".flash .notice").inner_text().strip() != ""  # told why, in their language
    assert_no_english(boss, locale, "the refusal without a comment")
    assert boss.request.get(f"/api/v1/records/case/{rid}").json()["stage"] == "action_plan_requested"
    boss.fill("#step-comment", reason)
    boss.click("button[data-step='reject_action_plan']")
    boss.wait_for_selector(".flash .notice")
    assert boss.request.get(f"/api/v1/records/case/{rid}").json()["stage"] == "action_planning"

    # 3. the caseworker sees it returned, with the reason
    worker.goto(site["base"] + "/")
    returned = worker.locator("section.returned")
    assert reason in returned.inner_text() and "supervisor" in returned.inner_text()
    assert_no_english(worker, locale, "the home page")
    returned.locator(f"a[href='/records/case/{rid}']").first.click()
    worker.wait_for_selector("section.decision")
    assert reason in worker.locator("section.decision").inner_text()
    assert reason in worker.locator(".history").inner_text() and ask in worker.locator(".history").inner_text()
    screenshot(worker, f"case-page-returned-{locale}")
    assert_no_english(worker, locale, "the returned case")

    # 4. fixes the plan and asks again
    worker.goto(f"{case_url}/forms/action_plan")
    worker.wait_for_selector("#record-form[data-live='1']")
    worker.fill("#fld-plan_summary", fixed)
    worker.click("button[value=save]")
    worker.wait_for_selector(".flash .notice")
    assert_no_english(worker, locale, "the saved action plan")
    worker.goto(case_url)
    worker.fill("#step-comment", fixed)
    worker.click("button[data-step='request_action_plan_approval']")
    worker.wait_for_selector(".flash .notice")

    # 5. approved
    boss.goto(case_url)
    assert fixed in boss.locator("section.decision").inner_text()
    boss.click("button[data-step='approve_action_plan']")
    boss.wait_for_selector(".flash .notice")
    assert boss.request.get(f"/api/v1/records/case/{rid}").json()["stage"] == "implementation"
    assert_no_english(boss, locale, "the approved case")
    worker.goto(site["base"] + "/")
    assert reason not in worker.inner_text("body")  # no longer waiting on the caseworker
    assert worker.js_errors == [] and boss.js_errors == []


@pytest.mark.parametrize("locale", ["ar", "en"])
def test_a_long_form_in_sections_with_live_messages_in_the_pages_language(site: dict[str, Any], locale: str) -> None:
    page = sign_in(site, "caseworker", locale=locale)
    page.click("form[action='/records/case/new'] button")
    page.wait_for_selector("#record-form[data-live='1']")
    rid = str(page.url).split("/")[5]
    page.goto(f"{site['base']}/records/case/{rid}/forms/survivor_information")
    page.wait_for_selector("#record-form[data-live='1']")
    toc = page.locator("nav.toc li")
    assert toc.count() >= 5 and page.locator("fieldset.section").count() >= 5
    child = page.locator("fieldset[data-section='section_child']")
    page.fill("#fld-date_of_birth", "1990-06-01")  # an adult: the questions for a child go away
    child.wait_for(state="hidden")
    assert page.locator("nav.toc li[data-toc='section_child']").is_hidden()
    page.fill("#fld-date_of_birth", "2013-06-01")
    child.wait_for(state="visible")
    assert page.locator("nav.toc li[data-toc='section_child']").is_visible()
    # the calculated age group shows its label in the page's language, never the code
    group = page.locator("#fld-age_group").inner_text()
    assert group not in ("12_17", "17_12") and (locale == "en" or not group.isascii())
    screenshot(page, f"form-sections-{locale}")
    # a wrong answer: the live message, the summary and its field names are in the page's language
    page.fill("#fld-survivor_code", "gbv 42")
    page.click("button[value=save]")
    summary = page.locator("#error-summary")
    summary.wait_for(state="visible")
    if locale == "ar":
        assert "Please check" not in summary.inner_text() and "Survivor code" not in summary.inner_text()
        assert not summary.locator("h2").inner_text().isascii()
    assert_no_english(page, locale, "the form with an error")
    # a row added in the browser is numbered, in the page's language
    page.goto(f"{site['base']}/records/case/{rid}/forms/action_plan")
    page.wait_for_selector("#record-form[data-live='1']")
    page.click("[data-subform='services'] [data-add-row]")
    legend = page.locator("[data-subform='services'] fieldset.row legend").first.inner_text()
    assert "1" in legend and "new row" not in legend and (locale == "en" or "row" not in legend)
    # the server's own checks after saving are translated too
    page.goto(f"{site['base']}/records/case/{rid}/forms/consent_services")
    page.wait_for_selector("#record-form[data-live='1']")
    page.click("button[value=save]")
    page.wait_for_selector("#error-summary:not([hidden])")
    assert_no_english(page, locale, "the checks after saving")
    if locale == "ar":
        assert "This field is required." not in page.inner_text("body")
    assert page.js_errors == []


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_closing_a_case_asks_for_confirmation(site: dict[str, Any], locale: str) -> None:
    rid = demo_record(site, "closure_requested")  # a case of the caseworker, waiting for closure
    boss = sign_in(site, "supervisor", locale=locale)
    boss.goto(f"{site['base']}/records/case/{rid}")
    comment = {"en": "Goals met; the survivor agrees.", "ar": "تحققت الأهداف وتوافق الناجية."}[locale]
    boss.fill("#step-comment", comment)
    boss.click("button[data-step='approve_closure']")
    boss.wait_for_selector("section.confirm")
    assert boss.request.get(f"/api/v1/records/case/{rid}").json()["stage"] == "closure_requested"
    assert boss.input_value("#confirm-comment") == comment
    assert boss.get_attribute("html", "dir") == ("rtl" if locale == "ar" else "ltr")
    assert_no_english(boss, locale, "the confirmation")
    screenshot(boss, f"confirm-closure-{locale}")
    boss.click("section.confirm button.primary")
    boss.wait_for_selector(".flash .notice")
    assert_no_english(boss, locale, "the closed case")
    assert boss.request.get(f"/api/v1/records/case/{rid}").json()["stage"] == "closed"
    assert boss.js_errors == []


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_assigning_picks_a_colleague_from_a_list(site: dict[str, Any], locale: str) -> None:
    manager = sign_in(site, "cm_manager", locale=locale)  # agency-wide: may assign to either team
    rid = demo_record(site, "follow_up")
    owner = manager.request.get(f"/api/v1/records/case/{rid}").json()["owner"]
    manager.goto(f"{site['base']}/records/case/{rid}")
    values = manager.locator("#assign-to option").evaluate_all("os => os.map(o => o.value)")
    assert values[0] == "" and owner not in values and "cm_manager" not in values  # not the owner, not themself
    assert "dpo" not in values and "gbv_coordinator" not in values  # roles that do not work on cases
    # each option names the colleague and their role in the page's language
    labels = manager.locator("#assign-to option").evaluate_all("os => os.map(o => o.textContent)")
    assert locale == "en" or all(not label.isascii() for label in labels)
    assert_no_english(manager, locale, "the assignment picker")
    other = next(v for v in values if v.startswith("caseworker") or v.startswith("supervisor"))
    manager.select_option("#assign-to", other)
    manager.click("form[action$='/assign'] button")
    manager.wait_for_selector(".flash .notice")
    assert other in manager.locator("section.workflow ul.plain").first.inner_text()
    assert other not in manager.locator("#assign-to option").evaluate_all("os => os.map(o => o.value)")
    assert_no_english(manager, locale, "the assigned case")
    screenshot(manager, f"assigned-{locale}")
    assert manager.js_errors == []


# the inline boxes of a cell's text: more than one when the browser broke it over lines
_LINES = "els => els.map(e => e.getClientRects().length)"


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_narrow_screens_and_long_words(site: dict[str, Any], locale: str) -> None:
    worker = sign_in(site, "caseworker", locale=locale)
    rid = demo_record(site, "follow_up")
    rec = worker.request.get(f"/api/v1/records/case/{rid}").json()
    word = "W" * 400
    r = worker.request.patch(f"/api/v1/records/case/{rid}", data={"version": rec["version"], "data": {"name": word}})
    assert r.status == 200, r.text()
    worker.goto(f"{site['base']}/records/case")
    width = worker.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"a long word stretches the list to {width}px"
    # a record number or a user name is never broken inside, on a narrow screen in Arabic too
    narrow = sign_in(site, "caseworker", width=700, locale=locale)
    for name, url in (("case-list", "/records/case"), ("home", "/")):
        narrow.goto(site["base"] + url)
        for cells in ("td.id bdi", "td.user bdi"):
            lines = narrow.locator(cells).evaluate_all(_LINES)
            assert lines and set(lines) == {1}, f"{url}: {cells} broken over lines: {lines}"
        assert narrow.evaluate("document.documentElement.scrollWidth") <= 700
        screenshot(narrow, f"{name}-narrow-{locale}")
    dpo = sign_in(site, "dpo", width=360, locale=locale)
    dpo.goto(f"{site['base']}/audit")
    assert dpo.evaluate("document.documentElement.scrollWidth") <= 360  # the table scrolls in its own box
    assert dpo.evaluate("window.scrollX") == 0
    box = dpo.locator(".table-scroll")
    assert box.evaluate("e => e.scrollWidth > e.clientWidth")
    screenshot(dpo, f"audit-phone-{locale}")
    # an answer over the limit: the app's own page, in the page's language, stating the limit
    assert save_oversized_name(worker, site["base"], rid) == 413
    assert worker.get_attribute("html", "lang") == locale
    assert worker.locator("link[rel=stylesheet]").count() >= 1 and "exceeded" not in worker.content()
    size = {"en": "1 MB", "ar": format_unit(1, "digital-megabyte", "short", locale="ar")}[locale]
    assert size in worker.inner_text("main"), worker.inner_text("main")
    assert_no_english(worker, locale, "the page for an oversized answer")
    screenshot(worker, f"too-large-{locale}")
    assert worker.request.get(f"/api/v1/records/case/{rid}").json()["data"]["name"] == word  # nothing saved


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_forms_are_not_started_in_progress_or_complete(site: dict[str, Any], locale: str) -> None:
    worker = sign_in(site, "caseworker", locale=locale)
    rid = new_case(worker)
    case_url = f"{site['base']}/records/case/{rid}"
    worker.goto(case_url)
    forms = worker.locator("ul.forms li")
    states = forms.evaluate_all("ls => ls.map(l => l.className)")
    assert states and set(states) <= {"not_started", "skipped"} and "not_started" in states
    assert "✓" not in worker.locator("ul.forms").inner_text()  # nothing is complete on a brand-new case
    not_started = worker.locator("ul.forms li.not_started .state").first.inner_text()
    assert not_started == "Not started" if locale == "en" else not not_started.isascii()
    # one answer saved: in progress, with what is missing
    worker.goto(f"{case_url}/forms/consent_services")
    worker.wait_for_selector("#record-form[data-live='1']")
    worker.fill("#fld-consent_date", "2026-12-01")
    worker.click("button[value=save]")
    worker.wait_for_selector(".flash, #error-summary")
    worker.goto(case_url)
    consent = worker.locator("ul.forms li", has=worker.locator("a[href$='/forms/consent_services']"))
    assert consent.get_attribute("class") == "in_progress" and "✓" not in consent.inner_text()
    in_progress = consent.locator(".state").inner_text()
    assert any(ch.isdigit() or "\u0660" <= ch <= "\u0669" for ch in in_progress)  # how many answers are missing
    assert_no_english(worker, locale, "a form in progress")
    # every required answer: complete
    worker.goto(f"{case_url}/forms/consent_services")
    worker.wait_for_selector("#record-form[data-live='1']")
    answer_consent(worker, date=None)
    worker.click("button[value=save]")
    worker.wait_for_selector(".flash .notice")
    worker.goto(case_url)
    consent = worker.locator("ul.forms li", has=worker.locator("a[href$='/forms/consent_services']"))
    assert consent.get_attribute("class") == "complete" and "✓" in consent.inner_text()
    others = worker.locator("ul.forms li:not(.complete)").evaluate_all("ls => ls.map(l => l.className)")
    assert others and set(others) <= {"not_started", "skipped"}  # the forms never opened are still not started
    assert_no_english(worker, locale, "the case page with a complete form")
    screenshot(worker, f"form-states-{locale}")
    assert worker.js_errors == []


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_history_folds_calculated_answers_away(site: dict[str, Any], locale: str) -> None:
    worker = sign_in(site, "caseworker", locale=locale)
    rid = new_case(worker)
    worker.goto(f"{site['base']}/records/case/{rid}/forms/survivor_information")
    worker.wait_for_selector("#record-form[data-live='1']")
    worker.fill("#fld-survivor_code", "GBV-0042")
    worker.fill("#fld-date_of_birth", "2013-06-01")  # the age, the age group, "a child": calculated
    worker.click("button[value=save]")
    worker.wait_for_selector(".flash, #error-summary")
    worker.goto(f"{site['base']}/records/case/{rid}")
    entry = worker.locator("ol.history > li").first
    folded = entry.locator("details.computed")
    assert folded.count() == 1 and folded.get_attribute("open") is None  # folded away
    people = entry.locator(".change").evaluate_all(
        "es => es.filter(e => !e.closest('details')).map(e => e.textContent)"
    )
    assert people, "the answers people changed are listed"
    summary = folded.locator("summary").inner_text()
    assert summary and (locale == "en" or not summary.isascii())
    # the words never run together: a separator stands between the changed answers and the fold
    text = " ".join(entry.inner_text().split())
    assert f" · {summary}" in text, text
    assert locale == "en" or ", " not in text  # Arabic lists have no Latin comma
    worker.click("ol.history > li:first-child details.computed summary")
    assert folded.get_attribute("open") is not None
    calculated = folded.locator(".change").evaluate_all("es => es.map(e => e.textContent)")
    assert len(calculated) >= 2 and not set(calculated) & set(people)  # calculated ones only in the fold
    assert_no_english(worker, locale, "the history")
    screenshot(worker, f"history-folded-{locale}")
    assert worker.js_errors == []


def test_masked_names_and_focus_are_visible_to_everyone(site: dict[str, Any]) -> None:
    manager = sign_in(site, "cm_manager")
    manager.goto(f"{site['base']}/records/case")
    assert manager.locator("[aria-label='hidden']").count() == 0
    masked = manager.locator("td .masked")
    if masked.count():
        assert masked.first.get_attribute("aria-hidden") == "true"
        assert manager.locator("td .visually-hidden").first.inner_text().strip() != ""
    worker = sign_in(site, "caseworker")
    worker.goto(f"{site['base']}/records/case")
    worker.focus("#q")
    ratio = worker.evaluate(_FOCUS_CONTRAST)
    assert ratio >= 3, f"the focus indicator has a contrast of {ratio:.2f}:1"
    worker.focus("#locale-select")
    assert worker.evaluate(_FOCUS_CONTRAST) >= 3  # on the blue header too


_FOCUS_CONTRAST = """() => {
  // the contrast of the focus indicator's outermost-contrasting colour with the page behind it
  const lum = (c) => { const m = c.match(/[\\d.]+/g).map(Number).slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]; };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const el = document.activeElement;
  const st = getComputedStyle(el);
  let bg = 'rgb(255, 255, 255)';
  for (let e = el.parentElement; e; e = e.parentElement) {
    const b = getComputedStyle(e).backgroundColor;
    if (b && !b.includes('rgba(0, 0, 0, 0)') && b !== 'transparent') { bg = b; break; }
  }
  const colours = [st.outlineColor, ...(st.boxShadow.match(/rgba?\\([^)]*\\)/g) || [])];
  return Math.max(...colours.map(c => ratio(c, bg)));
}"""


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_calculated_codes_read_as_labels_while_the_form_is_live(site: dict[str, Any], locale: str) -> None:
    """The perpetrators' sex summary and the case context (several codes in one answer) show their
    labels, a list joined as the page's language joins one, also when the browser works them out again."""
    worker = sign_in(site, "caseworker", locale=locale)
    data = {
        "survivor_age_entered": 30,
        "gbv_type": "rape",
        "perpetrators": [
            {"perpetrator_sex": "male", "perpetrator_relationship": "intimate_partner_former_partner"},
            {"perpetrator_sex": "female", "perpetrator_relationship": "no_relation"},
        ],
    }
    r = worker.request.post("/api/v1/records/incident", data={"data": data})
    assert r.status == 201, r.text()
    base = f"{site['base']}/records/incident/{r.json()['id']}/forms"
    sexes, partner, both = {
        "en": ("Female and male", "Intimate partner violence", "Child sexual abuse and Intimate partner violence"),
        "ar": ("أنثى وذكر", "عنف الشريك الحميم", "الإساءة الجنسية للأطفال وعنف الشريك الحميم"),
    }[locale]
    worker.goto(f"{base}/alleged_perpetrators")
    worker.wait_for_selector("#record-form[data-live='1']")
    assert worker.locator("#fld-perpetrators_sex_summary").inner_text() == sexes
    worker.goto(f"{base}/gbv_incident")
    worker.wait_for_selector("#record-form[data-live='1']")
    context = worker.locator("#fld-gbv_case_context")
    assert context.inner_text() == partner
    worker.fill("#fld-survivor_age_entered", "16")  # a child: child sexual abuse too, worked out live
    worker.wait_for_function("want => document.querySelector('#fld-gbv_case_context').textContent === want", arg=both)
    assert_no_english(worker, locale, "the incident form")
    assert worker.js_errors == []
