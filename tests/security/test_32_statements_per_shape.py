"""Statements built once per shape of reach (storage.scope `Shape`), kept and run for every user of
that shape with their own values: a list, the home page's "returned to you", the decisions queue and
the referrals inbox.

A kept statement must never run with the values of the user it was first built for: its reach's
values are required parameters, so a statement run without them fails instead; and users of one
shape, in one process, each see their own records and only those. On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from engine.service import decisions, listing, referrals
from engine.storage import scope
from engine.storage.models import Record
from tests.conftest import MakeModule
from tests.security.conftest import World
from tests.server import PASSWORD, Server, server
from tests.web.test_conversation import MODULE, READY


@pytest.fixture
def srv(db_url: str, make_module: MakeModule) -> Iterator[Server]:
    with server(db_url, [make_module(MODULE)]) as s:
        # two caseworkers of one team, one of another agency: the same shape of reach
        s.add_user("amina", "caseworker")
        s.add_user("bilal", "caseworker")
        s.add_user("far", "caseworker", agency="agency_b", groups=("team_9",))
        # two supervisors of two agencies' teams: the same shape of reach
        s.add_user("sam", "supervisor")
        s.add_user("sue", "supervisor", agency="agency_b", groups=("team_9",))
        yield s


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _home(srv: Server, name: str) -> str:
    c = srv.client()
    r = c.post("/login", data={"username": name, "password": PASSWORD, "next": "/"})
    assert r.status_code == 200, r.text[:300]
    return _text(c.get("/").text)


def _requested(srv: Server, who: str, comment: str) -> tuple[str, str]:
    """A case of `who` whose plan waits for approval: its id and case number."""
    c = srv.client(who)
    rec = c.post("/api/v1/records/case", json={"data": READY}).json()
    r = c.post(f"/api/v1/records/case/{rec['id']}/transitions/request_plan", json={"comment": comment})
    assert r.status_code == 200, r.text
    return str(rec["id"]), str(rec["short_id"])


def test_a_statement_built_for_a_shape_does_not_run_without_its_reachs_values(srv: Server) -> None:
    database = srv.app.state.sanad.database
    for flags in itertools.product([False, True], repeat=6):
        shape = scope.Shape(*flags)
        built = select(Record.id).where(scope.records_in_reach(shape))
        with database.transaction() as session:
            if shape.everything:  # every record: there is no value to give
                session.execute(built).all()
                continue
            with pytest.raises(StatementError, match="A value is required for bind parameter 'scope_"):
                session.execute(built).all()


def test_returned_to_you_is_each_caseworkers_own(srv: Server) -> None:
    mine, mine_no = _requested(srv, "amina", "Amina's plan")
    theirs, theirs_no = _requested(srv, "bilal", "Bilal's plan")
    other, other_no = _requested(srv, "far", "Far's plan")
    sam, sue = srv.client("sam"), srv.client("sue")
    for rid, who, why in (
        (mine, sam, "Amina, add a goal."),
        (theirs, sam, "Bilal, add a goal."),
        (other, sue, "Far, add a goal."),
    ):
        r = who.post(f"/api/v1/records/case/{rid}/transitions/reject_plan", json={"comment": why})
        assert r.status_code == 200, r.text
    amina = _home(srv, "amina")
    kept = decisions._returned_query.cache_info()
    bilal, far = _home(srv, "bilal"), _home(srv, "far")
    # the statement first built for amina ran for bilal and far, not built again
    assert decisions._returned_query.cache_info().currsize == kept.currsize
    assert decisions._returned_query.cache_info().hits >= kept.hits + 2
    for page, own, why, others in (
        (amina, mine_no, "Amina, add a goal.", (theirs_no, other_no, "Bilal", "Far")),
        (bilal, theirs_no, "Bilal, add a goal.", (mine_no, other_no, "Amina", "Far")),
        (far, other_no, "Far, add a goal.", (mine_no, theirs_no, "Amina", "Bilal")),
    ):
        assert "Returned to you" in page and own in page and why in page
        for word in others:
            assert word not in page


def test_the_queue_is_each_supervisors_own(srv: Server) -> None:
    _rid, ours = _requested(srv, "amina", "Amina's plan")
    _rid, theirs = _requested(srv, "far", "Far's plan")
    sam = _home(srv, "sam")
    kept = decisions._waiting.cache_info()
    sue = _home(srv, "sue")
    assert decisions._waiting.cache_info().currsize == kept.currsize
    assert "Waiting for your decision 1" in sam and ours in sam and theirs not in sam
    assert "Waiting for your decision 1" in sue and theirs in sue and ours not in sue


def test_a_list_is_each_users_own_page_after_page(srv: Server) -> None:
    made = {name: {_requested(srv, name, "a plan")[0] for _ in range(3)} for name in ("amina", "bilal", "far")}
    listing._unsearched.cache_clear()
    for name, own in made.items():
        c = srv.client(name)
        seen: set[str] = set()
        page = c.get("/api/v1/records/case?page_size=2").json()
        seen |= {item["id"] for item in page["items"]}
        second = c.get("/api/v1/records/case?page_size=2&page=2").json()  # by page number
        by_cursor = c.get(f"/api/v1/records/case?page_size=2&after={page['next']}").json()
        assert [i["id"] for i in second["items"]] == [i["id"] for i in by_cursor["items"]]
        seen |= {item["id"] for item in by_cursor["items"]}
        assert seen == own and page["total"] == 3, name
        staged = c.get("/api/v1/records/case?stage=plan_requested").json()
        assert {item["id"] for item in staged["items"]} == own
    # one statement for each form of list (first page, by number, by cursor, by stage), not per user
    assert listing._unsearched.cache_info().currsize == 4


def test_a_referral_inbox_is_each_users_own(world: World) -> None:
    to_bea, to_agency = world.case(), world.case()
    assert world.refer(to_bea, to="bea").status_code == 201
    assert world.refer(to_agency, to_agency="agency_b").status_code == 201
    bea = {r["record_id"] for r in world.inbox("bea")}
    kept = referrals._addressed.cache_info()
    amina = {r["record_id"] for r in world.inbox("amina")}  # a caseworker too, of the other agency
    assert referrals._addressed.cache_info().currsize == kept.currsize
    assert bea == {to_bea["id"]} and amina == set()
    max_ = {r["record_id"] for r in world.inbox("max")}  # agency B's manager decides for the agency
    mona = {r["record_id"] for r in world.inbox("mona")}  # agency A's
    assert max_ == {to_agency["id"]} and mona == set()


def test_a_kept_search_does_not_run_without_its_own_values(world: World) -> None:
    """A search's and a filter's values are required parameters too: a kept statement run without
    the case number, the answers, the ids looked up or the filter's value fails, never matching what
    the user it was built for searched."""
    database = world.srv.app.state.sanad.database
    postgres = database.engine.dialect.name == "postgresql"
    shape = scope.Shape(True, True, False, False, False, False)  # a caseworker's: agency and team
    form = listing._Form("protection", "case", "updated", postgres, shape, frozenset(), ())
    searches = [
        listing._Search(True, (("code", "data"), ("name", "blind")), False, (("sex", False),)),
        *([listing._Search(True, (("code", "data"),), True, (("sex", True),))] if postgres else []),
    ]
    look_up = listing._looking_up("protection", "case", (("code", "data"), ("name", "blind")))
    with database.transaction() as session:
        with pytest.raises(StatementError, match="A value is required for bind parameter 'answer_0'"):
            session.execute(look_up, {"answer_1": "x"}).all()
    for search in searches:
        statements = [x for x in listing._statements(form, search) if x is not None]
        given = {
            "scope_user": 1,
            "scope_agency": 1,
            "scope_groups": [1],
            "take": 2,
            "part_take": 2,
            "count_take": 2,
            "needle_upper": "X%",
            "needle_lower": "x%",
            "answer_0": "x",
            "answer_1": "x",
            "answered": [],
            "filter_0": {"sex": "x"} if postgres else "x",
            "filter_0_n": {"sex": 1},
        }
        needed = [k for k in given if k.startswith(("needle", "answer", "filter")) or k == "scope_groups"]
        needed = [k for k in needed if k != "answered" or search.looked_up]
        # ids looked up stand for the answers (compared by the look-up, `_looking_up`)
        needed = [k for k in needed if not k.startswith("answer_") or not search.looked_up]
        needed = [k for k in needed if k != "filter_0_n" or search.filters[0][1]]
        with database.transaction() as session:
            for statement in statements:
                session.execute(statement, given).all()  # with every value it runs
            for name in needed:
                for statement in statements:
                    required = f"A value is required for bind parameter '{name}'"
                    with pytest.raises(StatementError, match=required):
                        with session.begin_nested():
                            session.execute(statement, {k: v for k, v in given.items() if k != name}).all()


def test_a_search_is_each_users_own(world: World) -> None:
    """Users of one shape search with one kept statement (`listing._searched`), each finding their own
    records and only those: by case number, by an answer in clear (the code), by a sealed answer (the
    name, by its blind index), and by a filter on an answer."""
    mine = world.case(code="GBV-1111", name="Amal Haddad")
    theirs = world.case(owner="adil", code="GBV-2222", name="Nour Saleh", sex="male")
    listing._searched.cache_clear()

    def found(who: str, q: str) -> set[str]:
        r = world.client(who).get("/api/v1/records/case", params={"q": q})
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["items"]}

    for who, own, other in (("amina", mine, theirs), ("adil", theirs, mine)):
        own_name, other_name = ("Amal Haddad", "Nour Saleh") if own is mine else ("Nour Saleh", "Amal Haddad")
        own_code, other_code = ("GBV-1111", "GBV-2222") if own is mine else ("GBV-2222", "GBV-1111")
        for q in (own["short_id"], own_code, own_name):
            assert found(who, q) == {own["id"]}, (who, q)
        for q in (other["short_id"], other_code, other_name):
            assert found(who, q) == set(), (who, q)
    # bea, a caseworker of another agency (the same shape), finds neither
    for q in (mine["short_id"], "GBV-1111", "Amal Haddad", theirs["short_id"], "GBV-2222", "Nour Saleh"):
        assert found("bea", q) == set(), q
    # one statement for every search of these caseworkers, built for the first and kept
    assert listing._searched.cache_info().currsize == 1
    # a filter on an answer, on the list page: each caseworker's own cases with that answer
    kept = listing._searched.cache_info()
    for who, sex, shown, hidden in (
        ("amina", "female", mine, theirs),
        ("adil", "male", theirs, mine),
        ("adil", "female", None, mine),
        ("bea", "female", None, mine),
    ):
        page = world.client(who).get("/records/case", params={"f_sex": sex}).text
        assert hidden["short_id"] not in page, (who, sex)
        if shown is not None:
            assert shown["short_id"] in page, (who, sex)
    assert listing._searched.cache_info().currsize == kept.currsize + 1
