"""A record's history a page at a time: the case page shows the latest entries with a link to older
ones (in every language), and the API pages with ?limit and ?before."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from engine.web.pages.records import HISTORY_PAGE
from tests.conftest import ROOT
from tests.server import Server, database, server

GBV = f"{ROOT}/definitions/gbv"
ENTRIES = HISTORY_PAGE * 2 + 5  # three pages: 20, 20, 5


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Any, str]]:
    with database("sqlite", tmp_path_factory.mktemp("paging")) as url, server(url, [GBV]) as s:
        s.add_user("amina", "caseworker")
        c = s.client("amina")
        rec = c.post("/api/v1/records/case", json={"data": {}}).json()
        version = rec["version"]
        for i in range(ENTRIES - 1):
            r = c.patch(
                f"/api/v1/records/case/{rec['id']}", json={"version": version, "data": {"plan_summary": f"n{i}"}}
            )
            assert r.status_code == 200, r.text
            version = r.json()["version"]
        yield s, c, rec["id"]


def _entries(html: str) -> int:
    section = html.split('id="hist-h"', 1)[1].split("</section>", 1)[0]
    return section.count("<li>")


def _link(html: str, rel: str) -> str | None:
    found = re.search(rf'<nav class="pager" aria-label="[^"]+">.*?<a href="([^"]+)" rel="{rel}"', html, re.S)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_case_page_shows_the_latest_entries_and_pages_back(world: tuple[Server, Any, str]) -> None:
    _, c, rid = world
    first = c.get(f"/records/case/{rid}")
    assert first.status_code == 200
    assert _entries(first.text) == HISTORY_PAGE
    assert f"The latest {HISTORY_PAGE} of {ENTRIES} entries" in first.text
    assert _link(first.text, "prev") is None
    older = _link(first.text, "next")
    assert older is not None and "older_than=" in older
    seen = _entries(first.text)
    pages = 1
    while older:
        page = c.get(older)
        assert page.status_code == 200
        assert "Older entries of the history" in page.text
        assert _link(page.text, "prev") == f"/records/case/{rid}#hist-h"
        seen += _entries(page.text)
        pages += 1
        older = _link(page.text, "next")
    assert seen == ENTRIES and pages == 3


def test_a_short_history_has_no_pager(world: tuple[Server, Any, str]) -> None:
    _, c, _ = world
    rec = c.post("/api/v1/records/case", json={"data": {}}).json()
    page = c.get(f"/records/case/{rec['id']}").text
    assert _entries(page) == 1 and 'aria-label="History pages"' not in page


def test_a_bad_cursor_shows_the_latest_entries(world: tuple[Server, Any, str]) -> None:
    _, c, rid = world
    for bad in ("x", "-1", "99999999999", "１２"):
        r = c.get(f"/records/case/{rid}", params={"older_than": bad})
        assert r.status_code == 200 and _entries(r.text) == HISTORY_PAGE


@pytest.mark.parametrize("locale", ["fr", "ar", "es"])
def test_the_pager_is_translated(world: tuple[Server, Any, str], locale: str) -> None:
    _, c, rid = world
    html = c.get(f"/records/case/{rid}", params={"locale": locale}).text
    assert 'class="pager"' in html and _link(html, "next")
    with open(f"{ROOT}/locales/{locale}/LC_MESSAGES/sanad.po", encoding="utf-8") as fh:
        if 'msgid "Older entries"' not in fh.read():
            pytest.skip(f"the history pager's messages are not in the {locale} catalog yet")
    assert "Older entries" not in html and "History pages" not in html
    assert f"The latest {HISTORY_PAGE} of" not in html


def test_the_api_pages_the_history(world: tuple[Server, Any, str]) -> None:
    _, c, rid = world
    everything = c.get(f"/api/v1/records/case/{rid}/history").json()["history"]
    assert len(everything) == ENTRIES
    got: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 20, **({"before": before} if before else {})}
        page = c.get(f"/api/v1/records/case/{rid}/history", params=params).json()["history"]
        if not page:
            break
        assert [e["version"] for e in page] == sorted(e["version"] for e in page)  # oldest first, as without
        got = page + got
        before = page[0]["version"]
    assert got == everything
    for bad in ({"limit": 0}, {"limit": 1001}, {"before": "x"}):
        assert c.get(f"/api/v1/records/case/{rid}/history", params=bad).status_code == 400
