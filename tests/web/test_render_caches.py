"""Issue 16: a form's questions are rendered once and a record's evaluation is worked out once per
version, and both are kept. What is kept must be exactly what would be worked out afresh, follow
every save, every language and every day, and never hold a person's own words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from engine.service import evaluations
from renderers.html import fieldcache
from tests.conftest import ROOT
from tests.server import PASSWORD, Server, database, server

GBV = f"{ROOT}/definitions/gbv"
FORM = "survivor_information"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Any, dict[str, Any]]]:
    with database("sqlite", tmp_path_factory.mktemp("caches")) as url, server(url, [GBV]) as s:
        s.add_user("amina", "caseworker")
        c = s.client("amina")
        rec = c.post("/api/v1/records/case", json={"data": {}}).json()
        yield s, c, rec


def _form(html: str) -> str:
    """The questions of a form page (the part the cache writes), without per-request tokens."""
    part = html.split('id="record-form"', 1)[1].split("</form>", 1)[0]
    return re.sub(r'name="csrf[^"]*" value="[^"]*"', "", part)


def _save(c: Any, rec: dict[str, Any], data: dict[str, Any]) -> None:
    r = c.patch(f"/api/v1/records/case/{rec['id']}", json={"version": rec["version"], "data": data, "form": FORM})
    assert r.status_code == 200, r.text
    rec["version"] = r.json()["version"]


def test_a_form_page_is_the_same_whether_its_questions_are_kept_or_not(
    world: tuple[Server, Any, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, c, rec = world
    url = f"/records/case/{rec['id']}/forms/{FORM}"
    monkeypatch.setattr(fieldcache, "SIZE", 0)  # nothing kept: every question rendered by its macro
    fieldcache.forget()
    fresh = c.get(url).text
    assert fieldcache.stats()["kept"] == 0
    monkeypatch.undo()
    c.get(url)
    before = fieldcache.stats()
    warm = c.get(url).text
    after = fieldcache.stats()
    assert after["hits"] - before["hits"] >= 10, "an unanswered form's questions are served from what is kept"
    assert _form(warm) == _form(fresh)


def test_a_persons_own_words_are_never_kept(world: tuple[Server, Any, dict[str, Any]]) -> None:
    _, c, rec = world
    _save(c, rec, {"nickname": "Zainab-Q7-words"})
    fieldcache.forget()
    page = c.get(f"/records/case/{rec['id']}/forms/{FORM}").text
    assert "Zainab-Q7-words" in page
    assert fieldcache.stats()["kept"] > 0
    assert not any("Zainab-Q7-words" in html for html in fieldcache._kept.values())


def test_a_chosen_option_shows_at_once_after_a_save(world: tuple[Server, Any, dict[str, Any]]) -> None:
    _, c, rec = world
    url = f"/records/case/{rec['id']}/forms/{FORM}"
    for value in ("female", "male", "female"):
        _save(c, rec, {"sex": value})
        html = _form(c.get(url).text)
        chosen = re.findall(r'name="f:sex" value="([^"]+)" checked', html)
        assert chosen == [value]


def test_each_language_gets_its_own_questions(world: tuple[Server, Any, dict[str, Any]]) -> None:
    s, _, rec = world
    url = f"/records/case/{rec['id']}/forms/{FORM}"
    english = s.client("amina").get(url).text
    c = s.client(second_factor=False)
    r = c.post("/login?locale=ar", data={"username": "amina", "password": PASSWORD, "next": "/", "locale": "ar"})
    assert r.status_code == 200, r.text[:300]
    arabic = c.get(url).text  # the same questions, asked right after the English page
    assert '<html lang="ar" dir="rtl"' in arabic
    assert "(required)" in _form(english) and "Nickname or other name" in _form(english)
    assert "(required)" not in _form(arabic) and "Nickname or other name" not in _form(arabic)


def test_a_calculation_follows_each_save(world: tuple[Server, Any, dict[str, Any]]) -> None:
    _, c, rec = world
    url = f"/records/case/{rec['id']}/forms/{FORM}"
    this_year = date.today().year
    for age in (20, 30):
        _save(c, rec, {"date_of_birth": f"{this_year - age}-01-01"})  # 1 January: the birthday has passed
        for _ in range(2):  # the second look is served from the kept evaluation
            html = _form(c.get(url).text)
            shown = re.search(r'<output id="[^"]*-age"[^>]*>([^<]*)</output>', html)
            assert shown is not None and shown.group(1) == str(age), html[:2000]


def test_an_evaluation_is_kept_per_version_day_and_language(
    world: tuple[Server, Any, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    s, _, _ = world
    from engine import i18n
    from engine.i18n.translator import translator_for
    from engine.service.records import Opened

    rt = s.registry.modules["gbv"].record_types["case"]
    evaluations.forget()
    one = Opened("r1", "R1", "case", 1, {"date_of_birth": "2000-01-01"}, None)  # type: ignore[arg-type]
    first = evaluations.evaluated(rt, one)
    assert evaluations.evaluated(rt, one) is first
    two = Opened("r1", "R1", "case", 2, {"date_of_birth": "1990-01-01"}, None)  # type: ignore[arg-type]
    assert evaluations.evaluated(rt, two).values["age"] != first.values["age"]

    class Tomorrow(date):
        @classmethod
        def today(cls) -> date:
            return date.fromordinal(date.today().toordinal() + 1)

    monkeypatch.setattr(evaluations, "date", Tomorrow)
    later = evaluations.evaluated(rt, one)
    assert later is not first and later.today == Tomorrow.today().isoformat()
    monkeypatch.undo()
    bad = Opened("r2", "R2", "case", 1, {"date_of_birth": "not a date"}, None)  # type: ignore[arg-type]
    english = evaluations.evaluated(rt, bad)
    token = i18n.use(translator_for(s.registry.modules["gbv"], "fr"))
    try:
        french = evaluations.evaluated(rt, bad)
    finally:
        i18n.translator._current.reset(token)
    assert french is not english
    assert [e.message for e in french.errors] != [e.message for e in english.errors]
