"""Who a report counts, and the audit of every run (issue 12), on the statistics fixture module,
SQLite and PostgreSQL: a supervisor's dashboard, API answer and files count their own group's
records only (another team's supervisor theirs; a coordinator every agency's), and every run — over
the API as JSON or a file, on the dashboard, from the command line — writes one `report.run` entry
saying who ran which report, for which period and filters, over how many records (and, from the
command line, in which format)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from engine.cli import main
from tests.conftest import MakeModule
from tests.server import PASSWORD, Server, server
from tests.service.test_reports import MODULE

NOV = {"from": "2026-11-01", "to": "2026-11-30"}
TEAM_1_INCIDENTS, TEAM_2_INCIDENTS = 6, 7  # no count below five: nothing suppressed, nothing hidden with it
TEAM_1_CASES, TEAM_2_CASES = 2, 3


def incident(c: Any, day: str, gbv_type: str, sex: str, region: str) -> None:
    data = {
        "date_of_interview": day,
        "gbv_type": gbv_type,
        "survivor_sex": sex,
        "reported_elsewhere": "no",
        "consent_reporting": "yes",
        "region": region,
    }
    r = c.post("/api/v1/records/incident", json={"data": data})
    assert r.status_code == 201, r.text


@pytest.fixture
def srv(db_url: str, make_module: MakeModule) -> Iterator[Server]:
    """Two teams of one agency: amina (team 1, supervised by sam) and bo (team 2, supervised by sue),
    each with their cases and incidents; a coordinator who sees aggregates of every agency."""
    with server(db_url, [make_module(MODULE)]) as s:
        s.add_user("amina", "caseworker", groups=("team_1",))
        s.add_user("sam", "supervisor", groups=("team_1",))
        s.add_user("bo", "caseworker", groups=("team_2",))
        s.add_user("sue", "supervisor", groups=("team_2",))
        s.add_user("coord", "coordinator", groups=())
        for who, cases, incidents, kind, region in (
            ("amina", TEAM_1_CASES, TEAM_1_INCIDENTS, ("rape", "female"), "north"),
            ("bo", TEAM_2_CASES, TEAM_2_INCIDENTS, ("physical_assault", "male"), "south"),
        ):
            c = s.client(who)
            for _ in range(cases):
                assert c.post("/api/v1/records/case", json={"data": {}}).status_code == 201
            for i in range(incidents):
                incident(c, f"2026-11-{i + 10}", *kind, region)
        yield s


def run(c: Any, report: str = "monthly", **params: str) -> dict[str, Any]:
    """A report over November (the incidents' month); the cases' report over every month."""
    r = c.get(f"/api/v1/reports/{report}", params={**(NOV if report == "monthly" else {}), **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def cells(result: dict[str, Any], table: str) -> dict[tuple[str, ...], Any]:
    t = next(t for t in result["tables"] if t["id"] == table)
    return {tuple(row[d] for d in t["dimensions"]): row["count"] for row in t["rows"]}


def signed_in(srv: Server, username: str) -> Any:
    c = srv.client()
    r = c.post("/login", data={"username": username, "password": PASSWORD, "next": "/"})
    assert r.status_code == 200, r.text
    return c


def audited(srv: Server, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The report.run entries of the audit log, oldest first."""
    capsys.readouterr()
    assert main(["audit", "list", "--action", "report.run", "--format", "json", "--db", srv.url]) == 0
    entries: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return entries[::-1]


def test_a_supervisor_counts_their_own_groups_records_only(srv: Server) -> None:
    sam, sue, coord = srv.client("sam"), srv.client("sue"), srv.client("coord")
    # the internal indicators (no suppression): each supervisor their own team's cases
    assert cells(run(sam, "casework"), "by_stage") == {("open",): TEAM_1_CASES}
    assert cells(run(sue, "casework"), "by_stage") == {("open",): TEAM_2_CASES}
    # the statistics: each team's incidents, never the other's; the coordinator both
    mine, theirs, everyone = run(sam), run(sue), run(coord)
    assert (mine["records"], theirs["records"]) == (TEAM_1_INCIDENTS, TEAM_2_INCIDENTS)
    assert cells(mine, "by_type") == {("rape",): TEAM_1_INCIDENTS}
    assert cells(theirs, "by_type") == {("physical_assault",): TEAM_2_INCIDENTS}
    assert everyone["records"] == TEAM_1_INCIDENTS + TEAM_2_INCIDENTS
    # a filter narrows the reach, never widens it: the other team's region gives sam nothing
    assert run(sam, region="south")["records"] == 0 and run(coord, region="south")["records"] == TEAM_2_INCIDENTS
    # the files say the same
    csv = sam.get("/api/v1/reports/monthly", params={**NOV, "format": "csv"}).text
    assert "physical_assault" not in csv and f"by_type,By type,gbv_type,rape,Rape,,,,,,,,,,{TEAM_1_INCIDENTS}," in csv
    # and so does the dashboard
    for who, n, rape, assault in (
        ("sam", TEAM_1_INCIDENTS, TEAM_1_INCIDENTS, 0),
        ("sue", TEAM_2_INCIDENTS, 0, TEAM_2_INCIDENTS),
    ):
        page = signed_in(srv, who).get("/reports/monthly", params=NOV)
        assert page.status_code == 200 and re.search(rf"Records counted: {n}\b", page.text)
        assert f'<th scope="row">Rape</th><td class="num">{rape}</td>' in page.text
        assert f'<th scope="row">Physical assault</th><td class="num">{assault}</td>' in page.text
        stages = signed_in(srv, who).get("/reports/casework").text
        open_cases = TEAM_1_CASES if who == "sam" else TEAM_2_CASES
        assert re.search(rf"<th scope=\"row\">Open</th><td class=\"num\">{open_cases}</td>", stages), stages


def test_every_run_is_audited(srv: Server, capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    sam = srv.client("sam")
    before = len(audited(srv, capsys))
    run(sam, region="north")  # the API, JSON
    assert sam.get("/api/v1/reports/monthly", params={**NOV, "format": "xlsx"}).status_code == 200  # a file
    assert signed_in(srv, "sue").get("/reports/monthly", params=NOV).status_code == 200  # the dashboard
    root = srv.registry.modules["stats"].path
    out = str(tmp_path / "monthly.csv")
    argv = ["report", "run", "monthly", "--from", NOV["from"], "--to", NOV["to"], "--format", "csv", "-o", out]
    assert main([*argv, "--definitions", root, "--db", srv.url]) == 0  # the command line
    # a refused run is not audited
    assert sam.get("/api/v1/reports/monthly", params={"from": "2026-13-01"}).status_code == 400
    assert srv.client("amina").get("/api/v1/reports/monthly").status_code == 403
    entries = audited(srv, capsys)[before:]
    assert [(e["user"], e["action"]) for e in entries] == [
        ("sam", "report.run"),
        ("sam", "report.run"),
        ("sue", "report.run"),
        ("(command line)", "report.run"),
    ]
    api, file, page, cli = (e["details"] for e in entries)
    for d in (api, file, page, cli):
        assert d["report"] == "monthly" and (d["period_from"], d["period_to"]) == (NOV["from"], NOV["to"])
    assert api["filters"] == {"region": "north"} and api["records"] == TEAM_1_INCIDENTS
    assert file["records"] == TEAM_1_INCIDENTS and not file.get("filters")
    assert page["records"] == TEAM_2_INCIDENTS
    assert cli["records"] == TEAM_1_INCIDENTS + TEAM_2_INCIDENTS and cli["format"] == "csv"
    assert (api["format"], file["format"], page.get("format")) == ("json", "xlsx", None)
    assert cli.get("agency") is None
    # the page's default period (the last twelve months) is recorded as the period it counted
    assert signed_in(srv, "sam").get("/reports/casework").status_code == 200
    last = audited(srv, capsys)[-1]
    assert last["user"] == "sam" and last["details"]["report"] == "casework"
    assert last["details"]["period_from"] and last["details"]["period_to"]
