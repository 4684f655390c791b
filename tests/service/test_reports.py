"""Reports on a fixture dataset whose tables were counted by hand, on SQLite and PostgreSQL:
the inclusion rule (period, already counted elsewhere, non-GBV), consent read when the report runs
(an incident's linked case decides, and a withdrawal there removes it), small-cell suppression,
subform rows, several yes/no flags, one field per sector, the days-until measure, the reader's
scope and filters, and the audit of every run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from engine.language.loader import load_module
from tests.conftest import MakeModule, codes
from tests.server import Server, server, statements_sent

MODULE: dict[str, str | None] = {
    "forms/intake.yaml": None,
    "forms/plan.yaml": None,
    "module.yaml": """
        id: stats
        title: Statistics fixture
        version: '1'
        default_locale: en
        locales: [en, fr]
        settings:
          small_cell_threshold: 5
        record_types:
          case:
            title: Case
            forms: [consent]
            workflow: case_flow
          incident:
            title: Incident
            forms: [incident]
    """,
    "roles.yaml": """
        roles:
          - id: caseworker
            label: Caseworker
            scope: own
            permissions: [case.create, case.read, case.write, incident.create, incident.read, incident.write]
            forms: {read: ['*'], write: ['*']}
            sensitivity: [direct, quasi, none]
          - id: supervisor
            label: Supervisor
            scope: group
            permissions: [case.read, incident.read, reports.read]
            forms: {read: ['*'], write: []}
            sensitivity: [direct, quasi, none]
          - id: coordinator
            label: Coordinator
            scope: all
            permissions: [reports.read]
            forms: {read: [], write: []}
            sensitivity: [none]
            aggregate_only: true
    """,
    "lookups/sex.yaml": """
        id: sex
        choices:
          - {value: female, label: Female}
          - {value: male, label: Male}
    """,
    "lookups/status.yaml": """
        id: status
        choices:
          - {value: referred, label: Referred}
          - {value: declined, label: Declined by the survivor}
    """,
    "forms/consent.yaml": """
        id: consent
        title: Consent
        record_type: case
        fields:
          - {id: consent_reporting, type: yes_no, label: Counted in statistics}
          - {id: consent_withdrawn, type: yes_no, label: Consent withdrawn}
    """,
    "forms/incident.yaml": """
        id: incident
        title: Incident
        record_type: incident
        fields:
          - {id: date_of_interview, type: date, label: Date of the interview}
          - id: gbv_type
            type: select_one
            label: Type of violence
            choices:
              - {value: rape, label: Rape}
              - {value: sexual_assault, label: Sexual assault}
              - {value: physical_assault, label: Physical assault}
              - {value: non_gbv, label: Not GBV}
          - {id: survivor_sex, type: select_one, label: Sex, choices: sex}
          - id: region
            type: select_one
            label: Region
            choices:
              - {value: north, label: North}
              - {value: south, label: South}
          - id: reported_elsewhere
            type: select_one
            label: Reported elsewhere
            choices:
              - {value: 'no', label: 'No'}
              - {value: gbvims_org, label: To another GBVIMS organisation}
          - {id: consent_reporting, type: yes_no, label: Counted in statistics}
          - {id: ctx_child, type: yes_no, label: Child sexual abuse}
          - {id: ctx_ipv, type: yes_no, label: Intimate partner violence}
          - {id: svc_health, type: select_one, label: Health referral, choices: status}
          - {id: svc_legal, type: select_one, label: Legal referral, choices: status}
          - {id: survivor_name, type: text, label: Name, sensitivity: direct}
          - {id: narrative, type: text, label: What happened}
          - id: perpetrators
            type: subform
            label: Alleged perpetrators
            fields:
              - id: relationship
                type: select_one
                label: Relationship
                choices:
                  - {value: partner, label: Intimate partner}
                  - {value: stranger, label: No relation}
    """,
    "workflows/case_flow.yaml": """
        id: case_flow
        record_type: case
        initial: open
        states:
          - {id: open, label: Open}
          - {id: plan_requested, label: Plan requested}
          - {id: active, label: Active, final: true}
        transitions:
          - {id: request_plan, label: Request, from: [open], to: plan_requested, roles: [caseworker]}
          - {id: approve_plan, label: Approve, from: [plan_requested], to: active, roles: [supervisor]}
          - {id: reject_plan, label: Send back, from: [plan_requested], to: open, roles: [supervisor]}
    """,
    "reports/monthly.yaml": """
        id: monthly
        title: Monthly statistics
        record_type: incident
        period: date_of_interview
        where: "${gbv_type} != '' and ${gbv_type} != 'non_gbv' and ${reported_elsewhere} != 'gbvims_org'"
        consent:
          field: consent_reporting
          linked: {record_type: case, field: consent_reporting, withdrawn: consent_withdrawn}
        filters: [region]
        tables:
          - {id: by_type, title: By type, dimensions: [gbv_type]}
          - {id: by_type_sex, title: By type and sex, dimensions: [gbv_type, survivor_sex]}
          - {id: perpetrators, title: Perpetrators, dimensions: [perpetrators.relationship]}
          - id: contexts
            title: Contexts
            dimensions: [{id: context, label: Case context, flags: [ctx_child, ctx_ipv]}]
          - id: services
            title: Services
            dimensions:
              - {id: sector, label: Sector, fields: [svc_health, svc_legal], value: {id: status, label: Outcome}}
          - {id: by_month, title: By month, dimensions: [month]}
    """,
    "reports/casework.yaml": """
        id: casework
        title: Casework
        record_type: case
        audience: internal
        suppress_below: 0
        roles: [supervisor]
        tables:
          - {id: by_stage, title: By stage, dimensions: [stage]}
          - id: plan_days
            title: Days to approval
            dimensions: []
            measure: {days_from: created, until: approve_plan, label: Average days}
    """,
}

NOV = "2026-11-"


def incident(
    c: Any, day: str, gbv_type: str, sex: str, consent: str = "yes", case: str | None = None, **extra: Any
) -> str:
    data = {
        "date_of_interview": day,
        "gbv_type": gbv_type,
        "survivor_sex": sex,
        "reported_elsewhere": "no",
        "consent_reporting": consent,
        "region": "north",
        **extra,
    }
    body: dict[str, Any] = {"data": data}
    if case is not None:
        body["link_to"] = case
    r = c.post("/api/v1/records/incident", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture
def srv(db_url: str, make_module: MakeModule) -> Iterator[Server]:
    with server(db_url, [make_module(MODULE)]) as s:
        s.add_user("amina", "caseworker")
        s.add_user("sam", "supervisor")
        s.add_user("coord", "coordinator", groups=())
        s.add_user("far", "caseworker", agency="agency_b", groups=("team_9",))
        a = s.client("amina")
        case_a = a.post("/api/v1/records/case", json={"data": {"consent_reporting": "yes"}}).json()["id"]
        case_b = a.post(
            "/api/v1/records/case", json={"data": {"consent_reporting": "yes", "consent_withdrawn": "yes"}}
        ).json()["id"]
        two = [{"relationship": "partner"}, {"relationship": "stranger"}]
        for i in range(4):  # counted: their own consent
            incident(a, f"{NOV}0{i + 1}", "rape", "female", perpetrators=two, ctx_ipv="yes", svc_health="referred")
        for i in range(3):  # counted: the linked case consents (the incident's own answer left empty)
            incident(a, f"{NOV}1{i}", "rape", "female", consent="", case=case_a, ctx_child="yes")
        for i in range(3):
            incident(a, f"{NOV}2{i}", "sexual_assault", "female", svc_legal="declined")
        for i in range(6):
            incident(a, f"{NOV}1{i}", "physical_assault", "male", perpetrators=[{"relationship": "stranger"}])
        # never counted
        incident(a, f"{NOV}05", "rape", "female", consent="yes", case=case_b)  # consent withdrawn on the case
        incident(a, f"{NOV}06", "rape", "female", consent="no")
        incident(a, f"{NOV}04", "rape", "female", consent="no", case=case_a)  # the incident's own 'no' holds
        incident(a, f"{NOV}07", "rape", "female", reported_elsewhere="gbvims_org")
        incident(a, f"{NOV}08", "non_gbv", "female")
        incident(a, "2026-10-15", "rape", "female")  # before the period
        incident(srv_client := s.client("far"), f"{NOV}09", "rape", "female")  # another agency's
        assert srv_client is not None
        s.case_a = case_a  # type: ignore[attr-defined]
        yield s


def run(c: Any, report: str = "monthly", **params: str) -> dict[str, Any]:
    r = c.get(f"/api/v1/reports/{report}", params={"from": "2026-11-01", "to": "2026-11-30", **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def table(result: dict[str, Any], tid: str) -> dict[str, Any]:
    return next(t for t in result["tables"] if t["id"] == tid)


def cells(t: dict[str, Any]) -> dict[tuple[str, ...], Any]:
    return {tuple(row[d] for d in t["dimensions"]): row["count"] for row in t["rows"]}


def test_the_hand_counted_tables(srv: Server) -> None:
    result = run(srv.client("sam"))
    assert (result["report"], result["from"], result["to"]) == ("monthly", "2026-11-01", "2026-11-30")
    assert result["records"] == 16
    by_type = table(result, "by_type")
    assert by_type["dimensions"] == ["gbv_type"]
    # rape 7 (4 + 3 through the case), sexual assault 3 -> '<5', physical assault 6 hidden with it.
    # The table by type and sex shows the same counts as row totals, so they are hidden there too,
    # and with them the one cell each of those rows holds (else a row total is its only cell); then
    # rape 7 would be the only shown part of 16 = 7 + '<5' + 'x': nothing gives a hidden count away
    assert cells(by_type) == {("rape",): "x", ("sexual_assault",): "<5", ("physical_assault",): "x"}
    assert by_type["total"] == 16
    by_type_sex = table(result, "by_type_sex")
    assert cells(by_type_sex) == {
        ("rape", "female"): "x",
        ("sexual_assault", "female"): "<5",
        ("physical_assault", "male"): "x",
    }
    totals = {r["gbv_type"]: r["count"] for r in by_type_sex["row_totals"] if r["count"] != 0}
    assert totals == {"rape": "x", "sexual_assault": "<5", "physical_assault": "x"}
    columns = {r["survivor_sex"]: r["count"] for r in by_type_sex["column_totals"]}
    assert (columns["female"], columns["male"]) == ("x", "x")
    # each perpetrator row counted: 4 incidents x (partner + stranger) + 6 strangers
    assert cells(table(result, "perpetrators")) == {("partner",): "<5", ("stranger",): 10}
    assert cells(table(result, "contexts")) == {("ctx_child",): "<5", ("ctx_ipv",): "<5"}
    assert cells(table(result, "services")) == {("svc_health", "referred"): "<5", ("svc_legal", "declined"): "<5"}
    assert cells(table(result, "by_month")) == {("2026-11",): 16}
    labels = by_type["labels"]
    assert labels["dimensions"]["gbv_type"] == "Type of violence" and labels["values"]["gbv_type"]["rape"] == "Rape"


def test_a_consent_withdrawn_on_the_case_removes_its_incidents_at_once(srv: Server) -> None:
    a = srv.client("amina")
    case_a = srv.case_a  # type: ignore[attr-defined]
    version = a.get(f"/api/v1/records/case/{case_a}").json()["version"]
    r = a.patch(f"/api/v1/records/case/{case_a}", json={"version": version, "data": {"consent_withdrawn": "yes"}})
    assert r.status_code == 200
    result = run(srv.client("sam"))
    assert result["records"] == 13
    assert cells(table(result, "by_type")) == {("rape",): "<5", ("sexual_assault",): "<5", ("physical_assault",): 6}


def test_no_suppression_below_zero_and_the_measure(srv: Server) -> None:
    a, sam = srv.client("amina"), srv.client("sam")
    case = a.post("/api/v1/records/case", json={"data": {}}).json()["id"]
    assert a.post(f"/api/v1/records/case/{case}/transitions/request_plan", json={}).status_code == 200
    assert sam.post(f"/api/v1/records/case/{case}/transitions/approve_plan", json={}).status_code == 200
    result = sam.get("/api/v1/reports/casework").json()
    stages = cells(table(result, "by_stage"))
    assert stages == {("open",): 2, ("active",): 1}
    days = table(result, "plan_days")
    assert days["rows"][0]["count"] == 1 and 0 <= days["rows"][0]["average_days"] < 1


def test_scope_filters_roles_and_audit(srv: Server) -> None:
    # the other agency's caseworker... may not run reports at all; the coordinator sees every agency
    assert srv.client("far").get("/api/v1/reports/monthly").status_code == 403
    everyone = run(srv.client("coord"))
    assert everyone["records"] == 17  # with the other agency's incident
    assert srv.client("coord").get("/api/v1/reports/casework").status_code == 403  # internal
    south = run(srv.client("sam"), region="south")
    assert south["records"] == 0 and south["filters"] == {"region": "south"}
    assert srv.client("sam").get("/api/v1/reports/monthly", params={"survivor_name": "x"}).status_code == 200
    bad = srv.client("sam").get("/api/v1/reports/monthly", params={"region": "east"})
    assert bad.status_code == 400
    listed = srv.client("sam").get("/api/v1/reports").json()["reports"]
    assert {r["id"] for r in listed} == {"monthly", "casework"}
    log = srv.client("sam").get("/api/v1/reports/monthly", params={"from": "2026-13-01"})
    assert log.status_code == 400


def test_report_mistakes_are_reported(make_module: MakeModule) -> None:
    bad = dict(MODULE)
    bad["reports/monthly.yaml"] = str(MODULE["reports/monthly.yaml"]).replace(
        "dimensions: [gbv_type]}", "dimensions: [survivor_name]}"
    )
    assert "report.bad-dimension" in codes(load_module(make_module(bad)))
    bad["reports/monthly.yaml"] = str(MODULE["reports/monthly.yaml"]).replace(
        "${gbv_type} != ''", "regex(${gbv_type}, 'r')"
    )
    assert "report.not-in-database" in codes(load_module(make_module(bad)))


def test_the_dashboard_page_and_the_files(srv: Server) -> None:
    from tests.server import PASSWORD

    c = srv.client()
    c.post("/login", data={"username": "sam", "password": PASSWORD, "next": "/"})
    page = c.get("/reports/monthly", params={"from": "2026-11-01", "to": "2026-11-30"})
    assert page.status_code == 200 and page.text.count("<svg") >= 4
    assert '<span class="suppressed" dir="ltr">&lt;5</span>' in page.text and ">Rape<" in page.text
    assert 'href="/reports"' in page.text  # the menu
    csv = srv.client("sam").get(
        "/api/v1/reports/monthly", params={"from": "2026-11-01", "to": "2026-11-30", "format": "csv"}
    )
    assert csv.status_code == 200 and "by_type,By type,gbv_type,rape,Rape" in csv.text and "<5" in csv.text
    xlsx = srv.client("sam").get("/api/v1/reports/monthly", params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    fr = c.get("/reports/monthly", params={"locale": "fr"})
    assert '<html lang="fr"' in fr.text


def test_a_report_reads_its_records_in_one_statement(srv: Server) -> None:
    """The records counted and every table's counts come from one statement that selects the counted
    records once (storage.aggregate.count_tables): one statement per table selected them, joined their
    cases and tested their consent again for each table (a year of the ISP set at 100,000 cases: 14
    statements, 23 s; in one, 4 s)."""
    sam = srv.client("sam")
    run(sam)  # warm
    with statements_sent(srv.app.state.sanad.database.engine) as sent:
        result = run(sam)
    assert result["records"] == 16 and len(result["tables"]) == 6
    reading = [x for x in sent if "FROM records" in x and not x.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(reading) == 1, reading
    assert reading[0].lstrip().startswith("WITH counted AS")


def test_answers_stored_compressed_count_the_same(srv: Server, db_url: str) -> None:
    """PostgreSQL keeps a record's answers compressed past about 2 kB, and a report takes such a
    record's answers apart once rather than answer by answer (storage.aggregate._only): the same
    report over the same answers, stored small then compressed, counts the same."""
    if not db_url.startswith("postgresql"):
        pytest.skip("compression of stored answers is PostgreSQL's")
    sam = srv.client("sam")
    small = run(sam)
    engine = srv.app.state.sanad.database.engine
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE records SET data = data || jsonb_build_object('narrative', repeat('She was walking to the "
                "water point when ', 200)) WHERE record_type = 'incident'"
            )
        )
        kinds = set(
            conn.execute(
                text("SELECT DISTINCT pg_column_compression(data) FROM records WHERE record_type = 'incident'")
            ).scalars()
        )
        assert kinds and None not in kinds  # every incident's answers are compressed now
    compressed = run(sam)
    assert compressed["records"] == small["records"] == 16
    assert compressed["tables"] == small["tables"]


def test_a_tables_own_where_reads_an_answer_no_dimension_reads(db_url: str, make_module: MakeModule) -> None:
    """The counted records keep only the answers the report reads (storage.aggregate._answers_read):
    those of the dimensions, and those a table's own `where` names, here the region."""
    files: dict[str, str | None] = {
        **MODULE,
        "reports/regional.yaml": """
            id: regional
            title: By region
            record_type: incident
            period: date_of_interview
            suppress_below: 0
            tables:
              - {id: north_by_sex, title: North by sex, where: "${region} = 'north'", dimensions: [survivor_sex]}
        """,
    }
    with server(db_url, [make_module(files)]) as s:
        s.add_user("amina", "caseworker")
        s.add_user("sam", "supervisor")
        a = s.client("amina")
        incident(a, f"{NOV}01", "rape", "female")
        incident(a, f"{NOV}02", "rape", "male")
        incident(a, f"{NOV}03", "rape", "female", region="south")
        result = run(s.client("sam"), "regional")
    assert result["records"] == 3
    assert cells(table(result, "north_by_sex")) == {("female",): 1, ("male",): 1}
