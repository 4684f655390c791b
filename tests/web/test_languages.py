"""Every word in the reader's language (issue 11, items 6-11), without a browser: the form JSON of
the API, the lists (headers, filters, options, stages, dates), the language chosen at sign-in,
calculated codes shown as labels, and counts with their plural forms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.server import PASSWORD, Server, database, server

GBV = f"{ROOT}/definitions/gbv"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with database("sqlite", tmp_path_factory.mktemp("languages")) as url, server(url, [GBV]) as s:
        s.add_user("amina", "caseworker")
        s.add_user("sam", "supervisor")
        s.add_user("maya", "cm_manager", groups=())
        a = s.client("amina")
        for code, sex, dob in (("GBV-0101", "female", "2010-03-01"), ("GBV-0102", "male", "1985-06-30")):
            rec = a.post("/api/v1/records/case", json={"data": {"survivor_code": code, "sex": sex}}).json()
            a.patch(
                f"/api/v1/records/case/{rec['id']}", json={"version": rec["version"], "data": {"date_of_birth": dob}}
            )
        inc = a.post(
            "/api/v1/records/incident", json={"data": {"incident_code": "INC-1", "incident_date": "2026-11-28"}}
        )
        assert inc.status_code == 201, inc.text
        yield s


def pages(srv: Server, name: str, locale: str) -> Any:
    c = srv.client()
    r = c.post(f"/login?locale={locale}", data={"username": name, "password": PASSWORD, "next": "/", "locale": locale})
    assert r.status_code == 200, r.text[:300]
    return c


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- 9. the form JSON of the API ---------------------------------------------------------------------
def test_the_form_json_follows_locale_and_accept_language(srv: Server) -> None:
    c = srv.client("amina")
    en = c.get("/api/v1/modules/gbv/forms/survivor_information").json()
    fr = c.get("/api/v1/modules/gbv/forms/survivor_information?locale=fr").json()
    ar = c.get("/api/v1/modules/gbv/forms/survivor_information", headers={"accept-language": "ar;q=0.9"}).json()
    assert (en["locale"], fr["locale"], ar["locale"]) == ("en", "fr", "ar")
    assert fr["title"] != en["title"] and not ar["title"].isascii()
    en_f, fr_f = ({f["id"]: f for f in x["fields"]} for x in (en, fr))
    assert fr_f["survivor_code"]["label"] != en_f["survivor_code"]["label"]
    assert fr_f["survivor_code"]["hint"] != en_f["survivor_code"]["hint"]
    assert fr_f["survivor_code"]["constraint_message"] != en_f["survivor_code"]["constraint_message"]
    sexes = {ch["value"]: ch["label"] for ch in fr_f["sex"]["choices"]}
    assert sexes["female"] == "Féminin"
    assert fr["messages"]["required"] != en["messages"]["required"] == "This field is required."
    assert fr["layout"][1]["label"] != en["layout"][1]["label"]  # a section heading
    # the same fields as before for a role that may not see direct identifiers
    maya = srv.client("maya").get("/api/v1/modules/gbv/forms/survivor_information?locale=fr").json()
    assert "name" in {f["id"] for f in en["fields"]} and "name" not in {f["id"] for f in maya["fields"]}


# -- 7. lists ---------------------------------------------------------------------------------------
def test_lists_speak_the_readers_language_with_unambiguous_dates(srv: Server) -> None:
    c = pages(srv, "amina", "fr")
    page = text_of(c.get("/records/case").text)
    for english in ("Survivor code", "Sex", "Female", "Male", "All stages", "Introduction and engagement"):
        assert not re.search(rf"\b{english}\b", page), english
    assert "Féminin" in page and "Masculin" in page
    assert not re.search(r"\b\d{1,2}/\d{1,2}/\d{2}\b", page)  # never 12/5/26
    incidents = text_of(c.get("/records/incident").text)
    assert "2026-11-28" not in incidents and "28 nov. 2026" in incidents


def test_the_language_chosen_at_sign_in_is_kept_and_saved(srv: Server) -> None:
    c = srv.client()
    page = c.get("/login?locale=ar&next=/")
    assert '<html lang="ar" dir="rtl"' in page.text and 'name="locale" value="ar"' in page.text
    r = c.post("/login?locale=ar", data={"username": "sam", "password": PASSWORD, "next": "/", "locale": "ar"})
    assert r.status_code == 200 and '<html lang="ar"' in r.text
    again = srv.client()
    again.post("/login", data={"username": "sam", "password": PASSWORD, "next": "/"})
    assert '<html lang="ar"' in again.get("/").text  # saved to the profile
    # a failed sign-in stays in the chosen language
    bad = srv.client().post("/login?locale=fr", data={"username": "sam", "password": "nope", "locale": "fr"})
    assert bad.status_code == 401 and '<html lang="fr"' in bad.text and 'value="fr"' in bad.text
    # the browser's language alone never overwrites a saved choice
    srv.client().post(
        "/login", data={"username": "sam", "password": PASSWORD, "next": "/"}, headers={"accept-language": "es"}
    )
    assert '<html lang="ar"' in again.get("/").text


# -- 10. calculated codes ---------------------------------------------------------------------------
def test_calculated_codes_show_as_translated_labels(srv: Server) -> None:
    c = pages(srv, "amina", "ar")
    items = srv.client("amina").get("/api/v1/records/case").json()["items"]
    child = next(
        i
        for i in items
        if srv.client("amina").get(f"/api/v1/records/case/{i['id']}").json()["data"].get("age_group") == "12_17"
    )
    html = c.get(f"/records/case/{child['id']}/forms/survivor_information").text
    output = re.search(r'<output id="fld-age_group"[^>]*>([^<]*)</output>', html)
    assert output and output.group(1).strip() not in ("12_17", "17_12") and not output.group(1).isascii()
    assert re.search(r'<output id="fld-age"[^>]*dir="ltr"', html)  # a number: isolated, never reordered


# -- 11. counts -------------------------------------------------------------------------------------
def test_counts_use_the_plural_forms_of_the_language(srv: Server) -> None:
    from engine import i18n

    module = srv.registry.modules["gbv"]
    ar = i18n.translator_for(module, "ar")
    one = ar.ngettext("Add at least %(num)s row.", "Add at least %(num)s rows.", 1)
    few = ar.ngettext("Add at least %(num)s row.", "Add at least %(num)s rows.", 3)
    many = ar.ngettext("Add at least %(num)s row.", "Add at least %(num)s rows.", 11)
    assert len({one, few, many}) == 3 and not few.isascii()
    login = srv.client().get("/login?locale=ar").text
    assert "Sessions end after" not in login
