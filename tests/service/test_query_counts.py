"""No N+1 queries: the SQL statements a list page, a list API call and a record page send do not grow
with the page size or the record's history (issue 16). Statements are counted with SQLAlchemy's
`before_cursor_execute` event on the app's engine, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select, text

from engine.service import accounts, listing
from engine.service.context import Context
from engine.storage.models import User
from engine.web.pages import lists
from tests.conftest import MakeModule
from tests.security.conftest import ANSWERS, MODULE, USERS
from tests.server import Server, server, statements_sent

CASES = 60  # more than the largest page


@pytest.fixture
def srv(db_url: str, make_module: MakeModule) -> Iterator[Server]:
    root = make_module(MODULE)
    with server(db_url, [root]) as s:
        for name, (role, agency, groups) in USERS.items():
            s.add_user(name, role, agency=agency, groups=groups)
        amina = s.client("amina")
        for n in range(CASES):
            r = amina.post("/api/v1/records/case", json={"data": {**ANSWERS, "code": f"GBV-{n:04d}"}})
            assert r.status_code == 201, r.text
        yield s


@contextmanager
def counted(s: Server) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs."""
    with statements_sent(s.app.state.sanad.database.engine) as statements:
        yield statements


def _statements(s: Server, client: Any, url: str, items: int | None = None) -> int:
    client.get(url)  # warm: caches of the first request (definitions, keys) are not what is counted
    with counted(s) as statements:
        r = client.get(url)
    assert r.status_code == 200, r.text[:500]
    if items is not None:
        assert len(r.json()["items"]) == items
    return len(statements)


@pytest.mark.parametrize("who", ["amina", "sara", "mona"])
def test_a_list_api_call_sends_as_many_statements_for_10_records_as_for_50(srv: Server, who: str) -> None:
    c = srv.client(who)
    small = _statements(srv, c, "/api/v1/records/case?page_size=10", 10)
    large = _statements(srv, c, "/api/v1/records/case?page_size=50", 50)
    assert small == large, f"{who}: {small} statements for 10 records, {large} for 50"
    # the next page by cursor, and a search, are no dearer
    cursor = c.get("/api/v1/records/case?page_size=10").json()["next"]
    assert _statements(srv, c, f"/api/v1/records/case?page_size=10&after={cursor}", 10) <= small
    assert _statements(srv, c, "/api/v1/records/case?page_size=50&q=GBV-0001", None) <= small + 1


@pytest.mark.parametrize("who", ["amina", "sara", "mona"])
def test_a_list_page_sends_as_many_statements_for_10_records_as_for_50(
    srv: Server, who: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = srv.client(who)
    counts = {}
    for size in (10, 50):
        monkeypatch.setattr(lists, "LIST_PAGE_SIZE", size)
        counts[size] = _statements(srv, c, "/records/case?sort=updated")
        assert c.get("/records/case").text.count('href="/records/case/') >= size
    assert counts[10] == counts[50], f"{who}: {counts[10]} statements for 10 records, {counts[50]} for 50"
    monkeypatch.setattr(lists, "LIST_PAGE_SIZE", 10)
    filtered = _statements(srv, c, "/records/case?sex=female&stage=open&f_sex=female&q=GBV")
    assert filtered <= counts[10] + 1


@pytest.mark.parametrize("who", ["amina", "sara", "mona"])
def test_a_list_of_records_held_by_owner_team_or_agency_reads_no_holders(srv: Server, who: str) -> None:
    """Whether a user may see a listed record's answers is decided from its owner, team and agency
    when those reach it (`context.access_holdings`): its assignments, referrals and emergency grants
    are not read for a caseworker's own cases, a supervisor's team's or a manager's agency's."""
    c = srv.client(who)
    for url in ("/records/case", "/records/case?sort=created"):
        c.get(url)
        with counted(srv) as statements:
            assert c.get(url).status_code == 200
        holders = [x for x in statements if "UNION ALL" in x and "FROM emergency_grants" in x]
        assert holders == [], holders


@pytest.mark.parametrize("who", ["amina", "sara", "mona"])
def test_a_form_page_of_a_record_held_by_owner_team_or_agency_reads_no_holders(srv: Server, who: str) -> None:
    """A form page shows no one who holds the record: for a user who holds it as owner, by team or
    by agency, its assignments, referrals and emergency grants are not read (`context.load` without
    `who_holds`). A referral's recipient, who holds it by none of those, still has them read, and
    sees only the forms shared."""
    rid = srv.client("amina").get("/api/v1/records/case?page_size=1").json()["items"][0]["id"]
    sent = _sql(srv, srv.client(who), f"/records/case/{rid}/forms/registration")
    holders = [x for x in sent if "FROM assignments" in x and "FROM referrals" in x]
    assert holders == [], holders
    amina = srv.client("amina")
    r = amina.post(
        f"/api/v1/records/case/{rid}/referrals", json={"transition": "refer", "forms": ["consent"], "to": "bea"}
    )
    assert r.status_code == 201, r.text
    bea = srv.client("bea")
    sent = _sql(srv, bea, f"/records/case/{rid}/forms/consent")
    assert [x for x in sent if "FROM assignments" in x and "FROM referrals" in x], sent
    assert bea.get(f"/records/case/{rid}/forms/registration").status_code == 404


def _short_and_long(client: Any, changes: int, form: str, answers: Callable[[int], dict[str, Any]]) -> tuple[str, str]:
    """Two of the client's cases: the first as created, the second saved `changes` more times, the
    n-th time with `answers(n)` on `form` (a history of 1 entry, and one of 1 + `changes`)."""
    short, long = (client.get("/api/v1/records/case?page_size=2").json()["items"][i]["id"] for i in (0, 1))
    rec = client.get(f"/api/v1/records/case/{long}").json()
    for n in range(changes):
        rec = client.patch(
            f"/api/v1/records/case/{long}", json={"version": rec["version"], "data": answers(n), "form": form}
        ).json()
        assert "version" in rec, rec
    return short, long


def test_a_record_page_sends_as_many_statements_with_a_long_history(srv: Server) -> None:
    amina = srv.client("amina")
    short, long = _short_and_long(amina, 10, "plan", lambda n: {"goal": f"Goal {n}"})
    one = _statements(srv, amina, f"/records/case/{short}")
    many = _statements(srv, amina, f"/records/case/{long}")
    assert one == many, f"{one} statements for a record with one change, {many} with eleven"


def test_a_record_page_opens_no_sealed_value_of_its_history(srv: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's history names the answers changed, never their values: the sealed values its
    entries hold (a name's old and new) are not opened to show it, however many there are. The
    history's API still gives them, opened, to those who may see them."""
    from engine.storage.keys import Keyring

    amina = srv.client("amina")
    short, long = _short_and_long(amina, 6, "registration", lambda n: {"name": f"Name {n}"})
    opened: list[str] = []
    real = Keyring.open

    def counting(self: Keyring, token: Any, place: str) -> Any:
        opened.append(place)
        return real(self, token, place)

    monkeypatch.setattr(Keyring, "open", counting)
    pages = {}
    for rid in (short, long):
        amina.get(f"/records/case/{rid}")
        opened.clear()
        page = amina.get(f"/records/case/{rid}").text
        pages[rid] = (len(opened), page)
    assert pages[long][0] == pages[short][0], (
        f"{pages[short][0]} values opened, {pages[long][0]} with a name changed 6 times"
    )
    assert "Name 4" not in pages[long][1] and "changed" in pages[long][1]
    history = amina.get(f"/api/v1/records/case/{long}/history").json()["history"]
    assert {"field": "name", "old": "Name 4", "new": "Name 5"}.items() <= history[-1]["changes"][0].items()


def test_past_the_cap_a_list_says_more_and_pages_by_cursor(srv: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.service import listing

    monkeypatch.setattr(listing, "COUNT_CAP", 20)
    monkeypatch.setattr(lists, "COUNT_CAP", 20)
    c = srv.client("amina")
    first = c.get("/api/v1/records/case?page_size=25").json()
    assert (first["total"], first["total_capped"]) == (20, True)
    second = c.get(f"/api/v1/records/case?page_size=25&after={first['next']}").json()
    third = c.get(f"/api/v1/records/case?page_size=25&after={second['next']}").json()
    ids = [it["id"] for page in (first, second, third) for it in page["items"]]
    assert len(ids) == len(set(ids)) == CASES and third["next"] is None
    assert [it["id"] for it in c.get("/api/v1/records/case?page_size=25&page=2").json()["items"]] == ids[25:50]
    assert c.get("/api/v1/records/case?after=nonsense").status_code == 400
    assert c.get(f"/api/v1/records/case?sort=created&after={first['next']}").status_code == 400
    html = c.get("/records/case").text
    assert "More than 20 records" in html and 'rel="next"' in html and "after=" in html


def _sql(s: Server, client: Any, url: str) -> list[str]:
    client.get(url)
    with counted(s) as statements:
        r = client.get(url)
    assert r.status_code == 200, r.text[:500]
    return [" ".join(x.split()) for x in statements]


def test_a_record_page_reads_the_record_its_holders_and_its_steps_once(srv: Server) -> None:
    """The page of a record asks for it, who holds it and its workflow steps from several places (its
    view, history, referrals, emergency accesses, latest decision): each is read once per request,
    and its steps with its links."""
    amina = srv.client("amina")
    rid = amina.get("/api/v1/records/case?page_size=1").json()["items"][0]["id"]
    sent = _sql(srv, amina, f"/records/case/{rid}")
    by_id = [x for x in sent if x.startswith("SELECT records.id") and "WHERE records.id =" in x]
    assert len(by_id) == 1, by_id
    steps = [x for x in sent if x.startswith("SELECT transitions.id")]
    assert len(steps) == 1, steps
    # its links come in the same statement (context.parts_of): one round trip, not two
    assert "record_links" in steps[0] and len([x for x in sent if "record_links" in x]) == 1, sent
    holders = [x for x in sent if "FROM assignments" in x and "FROM referrals" in x]
    assert len(holders) == 1, sent  # assignments, referrals and emergency grants in one statement
    assert not [x for x in sent if x.startswith(("SELECT assignments.", "SELECT emergency_grants.record_id"))]
    assert not [x for x in sent if "1 != 1" in x], "a query with nothing to look for was sent"


def test_a_record_page_reads_no_answers_of_its_linked_records(srv: Server) -> None:
    """A link shows a number and a stage: the linked records' answers (a large value, stored apart,
    and opened when sealed) are not read to show it."""
    amina = srv.client("amina")
    rid = amina.get("/api/v1/records/case?page_size=1").json()["items"][0]["id"]
    r = amina.post("/api/v1/records/case", json={"data": {**ANSWERS, "code": "GBV-LINK"}, "link_to": rid})
    assert r.status_code == 201, r.text
    sent = _sql(srv, amina, f"/records/case/{rid}")
    linked = [x for x in sent if "record_links" in x and x.startswith("SELECT")]
    assert linked, sent
    assert not [x for x in linked if "records.data" in x or "records.blind" in x], linked


def test_a_create_reads_nothing_it_already_knows(srv: Server) -> None:
    """A new record is held by its owner, agency and group alone, has taken no step, and is linked to
    the record it was created from, if any: its view is built without reading who holds it, its
    steps or its links (eleven round trips are now eight), and is the view a read of it then gives."""
    c = srv.client("amina")
    parent = c.get("/api/v1/records/case?page_size=1").json()["items"][0]["id"]
    for n, link in enumerate((None, parent)):
        body: dict[str, Any] = {"data": {**ANSWERS, "code": f"GBV-NEW{n}"}}
        if link:
            body["link_to"] = link
        with counted(srv) as sent:
            r = c.post("/api/v1/records/case", json=body)
        assert r.status_code == 201, r.text
        reads = [x for x in sent if x.startswith("SELECT")]
        assert not [x for x in reads if re.search(r"FROM (transitions|record_links)\b", x)], reads
        holders = [x for x in reads if "FROM referrals" in x]
        assert len(holders) == (1 if link else 0), holders  # who holds the record it is linked to
        made = r.json()
        assert made == c.get(f"/api/v1/records/case/{made['id']}").json()
        assert [x["id"] for x in made["links"]] == ([link] if link else [])


def test_a_save_and_a_step_read_nothing_twice(srv: Server) -> None:
    """A save writes the record and its history, then builds the record's view, which asks for the
    record's steps from several places. Those asks are read once per unit of work (context.memo);
    the first one's read wrote the pending history entry first (autoflush), and that write made the
    memo forget what the read had just filled: the steps were read twice in every save."""
    amina = srv.client("amina")
    rid = amina.get("/api/v1/records/case?page_size=1").json()["items"][0]["id"]
    for write in ("save", "step"):
        version = amina.get(f"/api/v1/records/case/{rid}").json()["version"]
        with counted(srv) as statements:
            if write == "save":
                r = amina.patch(
                    f"/api/v1/records/case/{rid}", json={"version": version, "data": {"goal": "A goal"}, "form": "plan"}
                )
            else:
                r = amina.post(f"/api/v1/records/case/{rid}/transitions/request_plan", json={})
        assert r.status_code == 200, r.text
        reads = [" ".join(x.split()) for x in statements if x.lstrip().startswith("SELECT")]
        again = sorted({x for x in reads if reads.count(x) > 1})
        assert not again, f"a {write} read this more than once: {again}"


def test_every_request_resumes_its_session_user_and_groups_in_one_statement(srv: Server) -> None:
    sara = srv.client("sara")  # a supervisor: her groups decide what she sees
    sent = _sql(srv, sara, "/records/case")
    assert [x for x in sent if "FROM sessions" in x] == [x for x in sent if "FROM sessions JOIN users" in x]
    assert len([x for x in sent if "FROM sessions" in x]) == 1
    assert not [x for x in sent if x.startswith("SELECT user_groups.group_id")], sent


def test_a_list_page_reads_only_the_answers_it_lists(srv: Server) -> None:
    """A list that shows answers selects those answers, never every answer of every row (each sealed
    answer costs a decryption)."""
    amina = srv.client("amina")
    sent = _sql(srv, amina, "/records/case")
    listed = [x for x in sent if "FROM records" in x and "ORDER BY" in x]
    assert listed, sent
    for x in listed:  # every SELECT of the statement (on PostgreSQL the page is a part of it)
        for columns in re.findall(r"SELECT (.*?) FROM ", x):
            assert "records.data" not in columns.replace("records.data ->", "").replace(
                "JSON_EXTRACT(records.data", ""
            ), x
    # and shows them (on PostgreSQL the listed answers come as one object per row); the name, sealed at
    # rest, is masked until the user asks to see it, then opened
    page = amina.get("/records/case").text
    assert page.count(">Female</bdi>") == 25 and "GBV-0059" in page and "GBV-0035" in page and "GBV-0034" not in page
    assert "Amal Haddad" not in page and page.count('class="masked"') == 25
    shown = re.search(r'action="(/records/case/[0-9a-f-]{36}/reveal)"', page)
    assert shown is not None
    page = amina.post(shown.group(1), data={"back": "/records/case"}).text
    assert page.count("Amal Haddad") == 1 and page.count('class="masked"') == 24


def test_on_postgresql_a_list_is_planned_for_its_own_values(srv: Server, db_url: str) -> None:
    """A prepared statement run often gets one generic plan for every user; at 500k cases that plan
    walked a caseworker's stage in date order (17 ms) instead of finding her records by owner (2 ms),
    and a search's look-up of a code took 400 ms instead of 5. A list's statements and its search's
    look-up are never prepared, however often they run, and no statement is compiled to machine code
    (JIT took 30 ms of a 0.3 ms search), with no round trip of the list's own to set either: the page
    and its count come in one statement where the count is needed (here: after the first page)."""
    sent = _sql(srv, srv.client("amina"), "/api/v1/records/case?page_size=10&page=2")
    assert not [x for x in sent if "set_config" in x or x.startswith("SET")], sent
    listed = [x for x in sent if "FROM records" in x and "ORDER BY" in x]
    postgres = db_url.startswith("postgresql")
    assert len(listed) == 1 and ("total_counted" in listed[0]) == postgres, listed
    if not postgres:
        return
    st = srv.app.state.sanad
    module = st.registry.module("protection")
    with st.database.transaction() as session:
        user = accounts.find_user(session, "amina")
        assert user is not None and module is not None
        ctx = Context(session, user, accounts.actor_for(session, user, module), module, st.registry.policies[module.id])
        with counted(srv) as ran:
            for _ in range(8):  # psycopg prepares a statement the fifth time a connection runs it
                assert listing.list_records(ctx, "case", None, None, 2, page_size=10)["total"] == CASES
                assert listing.list_records(ctx, "case", None, "GBV-0001", 1)["total"] == 1  # looked up
                session.execute(select(User.id).where(User.username == "amina")).one()  # the control
        prepared = {
            _placeholders(x) for x in session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars()
        }
        jit = session.execute(text("SHOW jit")).scalar_one()
    sent = {_placeholders(x) for x in ran}
    control = {x for x in sent if x.startswith("SELECT users.id FROM users WHERE users.username = ?")}
    assert control and control <= prepared, "psycopg prepared nothing: this test proves nothing"
    # the list's page with its count, the search's look-up of the code and its page, as they were sent
    ours = {x for x in sent if "FROM records" in x}
    assert len(ours) >= 3 and any("total_counted" in x for x in ours), ours
    assert not ours & prepared, ours & prepared
    assert jit == "off"


def _placeholders(statement: str) -> str:
    """A statement as SQLAlchemy sends it (`%(name)s`) or as PostgreSQL keeps it prepared (`$1`),
    written the same way."""
    return re.sub(r"%\(\w+\)s|\$\d+", "?", " ".join(statement.split()))


def test_a_list_counts_only_when_its_first_page_is_not_the_whole_list(srv: Server, db_url: str) -> None:
    """A search's first page is most often the whole list and its own count: no count is sent. A
    team's unsearched list rarely fits on a page: on PostgreSQL its count comes with the page, in
    the same statement; elsewhere it is a statement of its own."""
    found = _sql(srv, srv.client("amina"), "/api/v1/records/case?q=GBV-0001")
    assert not [x for x in found if "count(" in x], found
    sent = _sql(srv, srv.client("sara"), "/api/v1/records/case?page_size=10")
    counts = [x for x in sent if "count(" in x]
    if db_url.startswith("postgresql"):
        assert len(counts) == 1 and "ORDER BY" in counts[0], counts
    else:
        assert len(counts) == 1 and "ORDER BY" not in counts[0], counts
    assert srv.client("sara").get("/api/v1/records/case?page_size=10").json()["total"] == CASES
