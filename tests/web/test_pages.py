"""The caseworkers' pages without a browser: what the server renders, and that it works without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.server import PASSWORD, Server, database, server

GBV = f"{ROOT}/definitions/gbv"


@pytest.fixture
def srv(tmp_path: Any) -> Iterator[Server]:
    with database("sqlite", tmp_path) as url, server(url, [GBV]) as s:
        s.add_user("amina", "caseworker")
        s.add_user("bilal", "caseworker", groups=("team_2",))
        s.add_user("sam", "supervisor")
        s.add_user("maya", "cm_manager", groups=())
        s.add_user("gina", "gbv_coordinator", groups=())
        s.add_user("dora", "dpo", groups=())
        yield s


def signed_in(srv: Server, name: str) -> Any:
    c = srv.client()
    r = c.post("/login", data={"username": name, "password": PASSWORD, "next": "/"})
    assert r.status_code == 200 and str(r.url).endswith("/"), r.text[:300]
    return c


def new_case(c: Any) -> str:
    r = c.post("/records/case/new", data={"client_id": ""})
    assert r.status_code == 200
    return str(r.url).split("/")[5]


def save(c: Any, rid: str, form: str, version: int, **answers: Any) -> Any:
    data: dict[str, Any] = {"version": str(version), "action": "save"}
    data.update({f"f:{k}": v for k, v in answers.items()})
    return c.post(f"/records/case/{rid}/forms/{form}", data=data)


class Audit(HTMLParser):
    """Collects what the accessibility checks need from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.labels_for: set[str] = set()
        self.inputs: list[dict[str, str | None]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.fieldset_depth = 0
        self.radios_outside_fieldset = 0
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "label" and a.get("for"):
            self.labels_for.add(a["for"] or "")
        if tag == "fieldset":
            self.fieldset_depth += 1
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.inputs.append(a)
            if a.get("type") in ("radio", "checkbox") and not self.fieldset_depth:
                self.radios_outside_fieldset += 1
        if tag == "script":
            self.scripts.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "fieldset":
            self.fieldset_depth -= 1


def test_sign_in_page_and_redirect_back(srv: Server) -> None:
    c = srv.client()
    r = c.get("/records/case")
    assert str(r.url).endswith("/login?next=%2Frecords%2Fcase") and "Sign in" in r.text
    bad = c.post("/login", data={"username": "amina", "password": "nope", "next": "/records/case"})
    assert bad.status_code == 401 and "not right" in bad.text
    ok = c.post("/login", data={"username": "amina", "password": PASSWORD, "next": "/records/case"})
    assert str(ok.url).endswith("/records/case")
    assert (
        c.post("/login", data={"username": "amina", "password": PASSWORD, "next": "//evil.example"}).url.host
        == "testserver"
    )
    out = c.post("/logout")
    assert "You are signed out." in out.text and c.get("/").url.path == "/login"


def test_every_page_is_accessible_in_structure_and_has_no_inline_script(srv: Server) -> None:
    c = signed_in(srv, "amina")
    rid = new_case(c)
    pages = ["/", "/records/case", f"/records/case/{rid}"] + [
        f"/records/case/{rid}/forms/{f}"
        for f in ("consent_services", "survivor_information", "action_plan", "follow_up")
    ]
    for url in pages:
        r = c.get(url)
        assert r.status_code == 200, url
        assert "script-src 'self'" in r.headers["content-security-policy"]
        page = Audit()
        page.feed(r.text)
        assert page.lang == "en"
        for s in page.scripts:
            assert s.get("src") or s.get("type") == "application/json", f"inline script on {url}"
        for i in page.inputs:
            if i.get("type") in ("radio", "checkbox"):
                continue
            assert i.get("id") in page.labels_for, f"{url}: an input without a label: {i}"
        assert page.radios_outside_fieldset == 0, url


def test_home_pages_per_role(srv: Server) -> None:
    amina = signed_in(srv, "amina")
    rid = new_case(amina)
    assert "Your open cases" in amina.get("/").text
    assert "Cases by stage" in signed_in(srv, "maya").get("/").text
    coord = signed_in(srv, "gina").get("/")
    assert "de-identified statistics only" in coord.text and rid not in coord.text
    assert signed_in(srv, "gina").get(f"/records/case/{rid}").status_code == 404
    dpo = signed_in(srv, "dora")
    assert "Audit log" in dpo.get("/").text and dpo.get("/audit").status_code == 200
    assert amina.get("/audit").status_code == 403


def test_saving_with_errors_shows_a_summary_linked_to_the_fields(srv: Server) -> None:
    c = signed_in(srv, "amina")
    rid = new_case(c)
    r = save(c, rid, "survivor_information", 1, survivor_code="bad", sex="female")
    assert r.status_code == 422
    summary = r.text.split('id="error-summary"')[1].split("</div>")[0]
    assert 'href="#fld-survivor_code"' in summary and "GBV-0042" in summary
    assert 'id="fld-survivor_code"' in r.text and 'aria-invalid="true"' in r.text
    assert 'value="bad"' in r.text  # the answer typed is kept, not lost
    ok = save(c, rid, "survivor_information", 1, survivor_code="GBV-0042", sex="female", date_of_birth="2010-05-01")
    assert "Saved." in ok.text
    assert re.search(r"<output[^>]*>16</output>", ok.text)  # the age, computed by the server


def test_without_javascript_rows_can_be_added_and_skip_logic_applies_on_save(srv: Server) -> None:
    c = signed_in(srv, "amina")
    rid = new_case(c)
    r = c.post(f"/records/case/{rid}/forms/action_plan", data={"version": "1", "action": "add:services"})
    assert r.status_code == 200 and 'data-row="0"' in r.text and 'data-row="1"' not in r.text
    saved = save(
        c,
        rid,
        "survivor_information",
        1,
        survivor_code="GBV-0042",
        sex="female",
        date_of_birth="1990-01-01",
        lives_alone="no",
    )
    assert "Saved." in saved.text
    box = saved.text.split('data-field="lives_alone"')[1][:200]
    assert "hidden" in box  # only asked of children: hidden on the page, and cleared on the server


def test_stale_save_shows_who_changed_what_and_keeps_the_users_answers(srv: Server) -> None:
    a, sam = signed_in(srv, "amina"), signed_in(srv, "sam")
    rid = new_case(a)
    assert "Saved." in save(sam, rid, "survivor_information", 1, survivor_code="GBV-0001", sex="female").text
    r = save(a, rid, "survivor_information", 1, survivor_code="GBV-0042", sex="male")
    assert r.status_code == 409 and "Someone else saved this record" in r.text
    assert "sam" in r.text and "Survivor code" in r.text
    assert 'value="GBV-0042"' in r.text and 'name="version" value="2"' in r.text
    again = a.post(
        f"/records/case/{rid}/forms/survivor_information",
        data={"version": "2", "action": "save", "f:survivor_code": "GBV-0042", "f:sex": "male"},
    )
    assert "Saved." in again.text


def test_workflow_panel_shows_only_the_users_steps_with_reasons(srv: Server) -> None:
    c = signed_in(srv, "amina")
    rid = new_case(c)
    page = c.get(f"/records/case/{rid}").text
    assert "Start the assessment" in page and "disabled" in page
    assert "Complete the form" in page  # the reason, in words
    assert "Approve" not in page  # not a caseworker's step
    r = c.post(f"/records/case/{rid}/transitions/start_assessment", data={})
    assert str(r.url).endswith(rid) and "cannot be taken yet" in r.text


def test_a_manager_never_receives_a_direct_identifier(srv: Server) -> None:
    a = signed_in(srv, "amina")
    rid = new_case(a)
    assert (
        "Saved."
        in save(
            a,
            rid,
            "survivor_information",
            1,
            survivor_code="GBV-0042",
            sex="female",
            name="Zaynab Haddad",
            phone="0791234567",
        ).text
    )
    maya = signed_in(srv, "maya")
    for url in (f"/records/case/{rid}", f"/records/case/{rid}/forms/survivor_information", "/records/case"):
        r = maya.get(url)
        assert r.status_code == 200 and "Zaynab" not in r.text and "0791234567" not in r.text, url
    assert signed_in(srv, "bilal").get(f"/records/case/{rid}").status_code == 404


def test_names_are_masked_in_lists_until_revealed_and_the_reveal_is_audited(srv: Server) -> None:
    a = signed_in(srv, "amina")
    rid = new_case(a)
    save(a, rid, "survivor_information", 1, survivor_code="GBV-0042", sex="female", name="Zaynab Haddad")
    listing = a.get("/records/case")
    assert "Zaynab" not in listing.text and "••••••" in listing.text and "GBV-0042" in listing.text
    # the masked cell's words, in the reader's language
    french = a.get("/records/case", params={"locale": "fr"}).text
    assert '<span class="visually-hidden">masqué</span>' in french and ">Afficher<span" in french
    shown = a.post(f"/records/case/{rid}/reveal", data={"back": "/records/case"})
    assert "Zaynab Haddad" in shown.text
    assert "Zaynab" not in a.get("/records/case").text  # shown once, not remembered
    audit = signed_in(srv, "dora").get("/audit", params={"action": "record.reveal"}).text
    assert "record.reveal" in audit and "amina" in audit


def test_list_filters_search_by_survivor_code_and_accept_a_referral(srv: Server) -> None:
    a = signed_in(srv, "amina")
    first, second = new_case(a), new_case(a)
    save(a, first, "survivor_information", 1, survivor_code="GBV-0042", sex="female")
    save(a, second, "survivor_information", 1, survivor_code="GBV-0077", sex="male")

    def assert_rows(r: Any, n: int) -> bool:
        return len(re.findall(r'<tr>\s*<td class="id"><a href="/records/case/', r.text)) == n

    assert assert_rows(a.get("/records/case", params={"q": "GBV-0077"}), 1)
    assert assert_rows(a.get("/records/case", params={"f_sex": "female"}), 1)
    assert assert_rows(a.get("/records/case", params={"owner": "amina"}), 2)
    assert assert_rows(a.get("/records/case", params={"owner": "sam"}), 0)
    assert assert_rows(a.get("/records/case", params={"from": "2000-01-01", "to": "2999-01-01"}), 2)
    assert assert_rows(a.get("/records/case", params={"from": "2999-01-01"}), 0)
    # put the case where referrals happen (the workflow itself is tested elsewhere)
    from sqlalchemy import text

    from engine.storage import db

    engine = db.make_engine(srv.url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE records SET stage = 'implementation' WHERE id = :id"), {"id": first})
    engine.dispose()
    sam = signed_in(srv, "sam")
    r = sam.post(
        f"/records/case/{first}/transitions/refer_health_medical",
        data={"to": "bilal", "forms": ["survivor_information"], "override_reason": "Urgent care"},
    )
    assert str(r.url).endswith(first)
    bilal = signed_in(srv, "bilal")
    home = bilal.get("/").text
    assert "Referred to you" in home and "Accept" in home
    referral_id = re.search(r"/referrals/(\d+)/accept", home)
    assert referral_id is not None
    done = bilal.post(f"/referrals/{referral_id.group(1)}/accept")
    assert "Referral accepted." in done.text
    assert bilal.get(f"/records/case/{first}").status_code == 200


def test_calculated_codes_are_shown_with_their_labels_in_the_readers_language(srv: Server) -> None:
    a = signed_in(srv, "amina")
    rid = new_case(a)
    save(a, rid, "survivor_information", 1, survivor_code="GBV-0042", sex="female", date_of_birth="2014-01-01")
    for locale, word in (("en", "Yes"), ("fr", "Oui"), ("es", "Sí")):
        page = a.get(f"/records/case/{rid}/forms/survivor_information", params={"locale": locale}).text
        box = page.split('data-field="is_child"')[1].split("</output>")[0]
        assert box.endswith(word), (locale, box[-40:])


def test_an_answer_cleared_before_adding_a_row_stays_cleared(srv: Server) -> None:
    c = signed_in(srv, "amina")
    rid = new_case(c)
    assert "Saved." in save(c, rid, "action_plan", 1, plan_summary="Safety first").text
    r = c.post(
        f"/records/case/{rid}/forms/action_plan", data={"version": "2", "action": "add:services", "f:plan_summary": ""}
    )
    assert r.status_code == 200 and 'data-row="0"' in r.text and "Safety first" not in r.text


def test_calculated_codes_of_an_incident_show_labels_joined_in_the_readers_language(srv: Server) -> None:
    """The perpetrators' sex summary and the case context (several codes in one answer) read as labels,
    a list joined as the page's language joins one, never as `female_and_male` or raw codes."""
    api = srv.client("amina")
    rec = api.post(
        "/api/v1/records/incident",
        json={
            "data": {
                "survivor_age_entered": 16,
                "gbv_type": "rape",
                "perpetrators": [
                    {"perpetrator_sex": "male", "perpetrator_relationship": "intimate_partner_former_partner"},
                    {"perpetrator_sex": "female", "perpetrator_relationship": "no_relation"},
                ],
            }
        },
    )
    assert rec.status_code == 201, rec.text
    data = rec.json()["data"]
    assert data["perpetrators_sex_summary"] == "female_and_male"
    assert data["gbv_case_context"] == "child_sexual_abuse intimate_partner_violence"
    a = signed_in(srv, "amina")
    base = f"/records/incident/{rec.json()['id']}/forms"

    def output(form: str, field: str, locale: str) -> str:
        page = a.get(f"{base}/{form}", params={"locale": locale}).text
        return page.split(f'data-field="{field}"')[1].split("<output")[1].split(">", 1)[1].split("</output>")[0]

    expected = {
        "en": ("Female and male", "Child sexual abuse and Intimate partner violence"),
        "fr": ("Féminin et masculin", "Abus sexuel sur enfant et Violence au sein du couple"),
        "es": ("Mujer y hombre", "Abuso sexual infantil y Violencia de pareja íntima"),
        "ar": ("أنثى وذكر", "الإساءة الجنسية للأطفال وعنف الشريك الحميم"),
    }
    for locale, (sexes, contexts) in expected.items():
        assert output("alleged_perpetrators", "perpetrators_sex_summary", locale) == sexes, locale
        assert output("gbv_incident", "gbv_case_context", locale) == contexts, locale
