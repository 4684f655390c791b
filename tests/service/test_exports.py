"""Exports on the statistics fixture, SQLite and PostgreSQL: records line by line with the reader's
access rules, de-identified (no direct identifier, dates to the month, numbers to bands, pseudonyms
made anew per export), a declared layout with its codes and consent read now, encrypted ZIPs, the
command line with its progress, and the audit of each export; and the reference module's GBVIMS
Incident Recorder as XLSX: the IR's values for Sanad's codes, two questions in one column, the
agency's reporting code."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pyzipper
from openpyxl import load_workbook

from engine.cli import main
from engine.language.loader import load_module
from engine.service import accounts
from engine.storage import db
from tests.conftest import ROOT, MakeModule, stored_record
from tests.server import PASSWORD, Server, server
from tests.service.test_reports import MODULE as STATS

MODULE = dict(STATS)
MODULE["forms/incident.yaml"] = (
    str(STATS["forms/incident.yaml"]).replace(
        "{id: date_of_interview, type: date, label: Date of the interview}",
        "{id: date_of_interview, type: date, label: Date of the interview, sensitivity: quasi}",
    )
    + """
          - {id: survivor_age, type: integer, label: Age, sensitivity: quasi}
          - {id: place, type: text, label: Village, sensitivity: quasi}
"""
)
MODULE["exports/recorder.yaml"] = """
    id: recorder
    title: Incident recorder
    record_type: incident
    sheet: Recorder
    consent:
      field: consent_reporting
      linked: {record_type: case, field: consent_reporting, withdrawn: consent_withdrawn}
    columns:
      - {header: Date of Interview, field: date_of_interview}
      - {header: Sex, field: survivor_sex, codes: {female: F, male: M}}
      - {header: Relationship, field: perpetrators.relationship, row_where: {relationship: partner}}
      - {header: Consent, value: consent, codes: {'yes': 'Yes', 'no': 'No'}}
      - {header: Agency, value: agency}
      - {header: Referral, fields: [svc_legal, svc_health], unmapped: label}
"""


@pytest.fixture
def srv(db_url: str, make_module: MakeModule) -> Iterator[Server]:
    roles = str(STATS["roles.yaml"]).replace(
        "permissions: [case.read, incident.read, reports.read]",
        "permissions: [case.read, incident.read, reports.read, export]",
    )
    with server(db_url, [make_module({**MODULE, "roles.yaml": roles})]) as s:
        s.add_user("amina", "caseworker")
        s.add_user("sam", "supervisor")
        s.add_user("coord", "coordinator", groups=())
        a = s.client("amina")
        case = a.post("/api/v1/records/case", json={"data": {"consent_reporting": "yes", "consent_withdrawn": "yes"}})
        s.case = case.json()["id"]  # type: ignore[attr-defined]
        for i, (sex, age) in enumerate((("female", 23), ("male", 41), ("female", 17))):
            body: dict[str, Any] = {
                "data": {
                    "date_of_interview": f"2026-11-0{i + 1}",
                    "gbv_type": "rape",
                    "survivor_sex": sex,
                    "survivor_age": age,
                    "survivor_name": f"Name {i}",
                    "place": "Riverside",
                    "consent_reporting": "yes",
                    "perpetrators": [{"relationship": "stranger"}, {"relationship": "partner"}],
                    "svc_health": "declined",
                    **({"svc_legal": "referred"} if i == 1 else {}),
                }
            }
            if i == 2:
                body["link_to"] = s.case  # type: ignore[attr-defined]
            assert a.post("/api/v1/records/incident", json=body).status_code == 201
        yield s


def export(c: Any, **spec: Any) -> Any:
    r = c.post("/api/v1/exports", json=spec)
    return r


def rows_of(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_records_with_the_readers_access_rules(srv: Server) -> None:
    r = export(srv.client("sam"), record_type="incident")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = rows_of(r.content)
    assert len(rows) == 3 and rows[0]["survivor_name"] == "Name 0" and rows[0]["survivor_age"] == "23"
    assert rows[0]["perpetrators"] == "2"  # a subform: its number of rows
    assert export(srv.client("amina"), record_type="incident").status_code == 403  # no export permission
    assert export(srv.client("coord"), record_type="incident").status_code == 403  # aggregates only
    only = rows_of(export(srv.client("sam"), record_type="incident", fields=["gbv_type", "survivor_sex"]).content)
    assert set(only[0]) == {"record_id", "short_id", "stage", "opened", "gbv_type", "survivor_sex"}
    assert export(srv.client("sam"), record_type="incident", forms=["nope"]).status_code == 400


def test_de_identified_exports_hold_no_identifier(srv: Server) -> None:
    first = rows_of(export(srv.client("sam"), record_type="incident", deidentified=True).content)
    second = rows_of(export(srv.client("sam"), record_type="incident", deidentified=True).content)
    assert "survivor_name" not in first[0] and "place" not in first[0] and "record_id" not in first[0]
    assert first[0]["date_of_interview"] == "2026-11" and first[0]["survivor_age"] == "20-24"
    assert first[1]["survivor_age"] == "40-44" and first[0]["opened_month"]
    assert {r["record"] for r in first}.isdisjoint({r["record"] for r in second})  # new pseudonyms each time
    text = export(srv.client("sam"), record_type="incident", deidentified=True, format="xlsx").content
    sheet = load_workbook(io.BytesIO(text)).active
    assert sheet is not None and "Name 0" not in str(list(sheet.values))


def test_the_declared_layout_codes_and_consent_now(srv: Server) -> None:
    r = export(srv.client("sam"), export="recorder", format="xlsx")
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content))["Recorder"]
    values = list(sheet.values)
    assert values[0] == ("Date of Interview", "Sex", "Relationship", "Consent", "Agency", "Referral")
    assert values[1] == ("2026-11-01", "F", "partner", "Yes", "agency_a", "Declined by the survivor")
    assert values[2][5] == "Referred"  # fields: the first answered (svc_legal), its label (unmapped: label)
    assert values[3][3] == "No"  # linked to a case whose consent was withdrawn


def test_a_passphrase_gives_an_encrypted_zip(srv: Server) -> None:
    assert export(srv.client("sam"), record_type="incident", password="short").status_code == 400
    r = export(srv.client("sam"), record_type="incident", password="correct horse battery")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with pyzipper.AESZipFile(io.BytesIO(r.content)) as zf:
        assert zf.namelist() == ["incident.csv"]
        with pytest.raises(RuntimeError):
            zf.read("incident.csv")  # no passphrase
        zf.setpassword(b"correct horse battery")
        assert b"Name 0" in zf.read("incident.csv")


def test_every_export_is_audited(srv: Server, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    export(srv.client("sam"), record_type="incident", deidentified=True, format="xlsx")
    export(srv.client("sam"), export="recorder", password="correct horse battery")
    capsys.readouterr()
    assert main(["audit", "list", "--action", "export.run", "--format", "json", "--db", srv.url]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert len(entries) == 2 and {e["user"] for e in entries} == {"sam"}
    details = sorted((e["details"] for e in entries), key=lambda d: "export" in d)
    assert details[0]["record_type"] == "incident" and details[0]["deidentified"] is True
    assert details[0]["records"] == 3 and details[0]["format"] == "xlsx"
    assert details[1]["export"] == "recorder" and details[1]["password_protected"] is True


def test_the_command_line_writes_streams_and_encrypts(
    srv: Server, tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = srv.registry.modules["stats"].path
    out = tmp_path / "incidents.csv"
    code = main(
        ["export", "records", "incident", "-o", str(out), "--deidentified", "--definitions", root, "--db", srv.url]
    )
    assert code == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "exporting 3 of 3 records (100%)" in err and "3 records written" in err
    assert len(rows_of(out.read_bytes())) == 3
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough passphrase\n"))
    code = main(
        [
            "export",
            "run",
            "recorder",
            "-o",
            str(tmp_path / "ir.xlsx"),
            "--password-stdin",
            "--definitions",
            root,
            "--db",
            srv.url,
        ]
    )
    assert code == 0 and os.path.exists(tmp_path / "ir.xlsx.zip") and not os.path.exists(tmp_path / "ir.xlsx")
    assert main(["export", "records", "nothing", "-o", str(out), "--definitions", root, "--db", srv.url]) == 1
    assert "there is no record type 'nothing'" in capsys.readouterr().err
    report = tmp_path / "monthly.json"
    assert (
        main(
            [
                "report",
                "run",
                "monthly",
                "--from",
                "2026-11-01",
                "-o",
                str(report),
                "--definitions",
                root,
                "--db",
                srv.url,
            ]
        )
        == 0
    )
    assert '"report": "monthly"' in report.read_text()


# -- the reference module's Incident Recorder ------------------------------------------------------
GBV = os.path.join(ROOT, "definitions", "gbv")
OVERLAY = os.path.join(ROOT, "examples", "country-overlay")

#: two incidents in Sanad's codes, and what the IR's columns hold for them (gbvims.md §1 and §7;
#: the values Primero writes in its Incident Recorder export)
INCIDENTS: list[dict[str, Any]] = [
    {
        "incident_code": "INC-1",
        "survivor_sex": "female",
        "survivor_marital_status": "married_cohabitating",
        "survivor_displacement_status": "idp",
        "survivor_unaccompanied_separated": "other_vulnerable_child",
        "displacement_incident": "not_displaced",
        "incident_timeofday": "evening_night",
        "incident_location_type": "clients_home",
        "incident_admin1": "region_north",
        "incident_admin2": "north_lake",
        "gbv_type": "non_gbv",
        "goods_money_exchanged": "unknown",
        "gbv_reported_elsewhere": "gbvims_org",
        "number_of_perpetrators": "more_than_three",
        "perpetrators_sex_summary": "female_and_male",
        "perpetrators": [
            {"main_perpetrator": "no", "perpetrator_age_group": "18_25"},
            {
                "main_perpetrator": "yes",
                "perpetrator_age_group": "61_plus",
                "perpetrator_relationship": "family_friend_neighbour",
            },
        ],
        "service_referred_from": "self_referral",
        "service_medical_referral": "provided_by_own_agency",
        "pursue_legal_action": "undecided",
        "service_education_referral": "referred",  # an adult: no child protection question
        "consent_reporting": "yes",
    },
    {
        "incident_code": "INC-2",
        "survivor_sex": "male",
        "gbv_type": "denial_of_resources_opportunities_or_services",
        "gbv_reported_elsewhere": "non_gbvims_org",
        "perpetrators": [{"perpetrator_age_group": "0_11"}],
        "service_protection_referral": "referred",
        "service_education_referral": "declined_by_survivor",
        "consent_reporting": "no",
    },
]

EXPECTED: list[dict[str, Any]] = [
    {
        "Incident ID": "INC-1",
        "Sex": "F",
        "Civil / Marital Status": "Married/Cohabitating",
        "Displacement Status at Time of Report": "IDP",
        "Unaccompanied or Separated Child": "Other Vulnerable Child",
        "Stage of Displacement at Time of Incident": "Not Displaced / Home Community",
        "Time of Day": "Evening/Night",
        "Incident Location": "Client's Home",
        "County": "Northern Region",  # unmapped: label
        "District": "Lake District",
        "GBV Type": "Non-GBV",
        "Money, Goods, Benefits and / or Services Exchanged?": "Unknown",
        "Reported GBV Incident Previously?": "Yes-GBVIMS Org / Agency",
        "No. of Alleged Perpetrator(s)": ">3",
        "Alleged Perpetrator Sex": "M and F",
        "Alleged Perpetrator Age Group": "Age 61 & Older",  # the main perpetrator's
        "Alleged Perpetrator - Survivor Relationship": "Family Friend/Neighbor",
        "Referred to You From?": "Self Referral / First Point of Contact",
        "Health / Medical Services": "Service provided by your agency",
        "Pursue Legal Action?": "Undecided",
        "Child Protection / Education Services": "Referred",  # the education referral alone
        "Consent Given to Share Non-Identifiable Information": "Yes",
        "Reporting Agency Code": "HR-01",  # ngo1's reporting code
    },
    {
        "Incident ID": "INC-2",
        "Sex": "M",
        "GBV Type": "Denial of Resources, Opportunities or Services",
        "Reported GBV Incident Previously?": "Yes-Non GBVIMS Org / Agency",
        "Alleged Perpetrator Age Group": "Age 0 - 11",  # no main perpetrator marked: the first row
        "Civil / Marital Status": None,  # not answered: an empty cell
        "Child Protection / Education Services": "Referred & Referral declined by survivor",
        "Consent Given to Share Non-Identifiable Information": "No",
        "Reporting Agency Code": "ngo2",  # no reporting code: the agency's code
    },
]


def _ir_rows(url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = tmp_path / "ir.xlsx"
    code = main(["export", "run", "incident_recorder", "-o", str(out), "--definitions", GBV, "--db", url])
    assert code == 0, capsys.readouterr().err
    values = list(load_workbook(out)["Incident Recorder"].values)
    assert len(values[0]) == 42 and values[0][0] == "Incident ID" and values[0][-1] == "Reporting Agency Code"
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def test_the_incident_recorder_writes_the_irs_values(
    db_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    def cli(*argv: str) -> str:
        assert main([*argv, "--db", db_url]) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    assert "reporting code HR-01" in cli("agencies", "add", "ngo1", "Hope Relief", "--reporting-code", "HR-01")
    assert "no reporting code" in cli("agencies", "add", "ngo2")
    module = load_module(GBV).module
    assert module is not None
    engine = db.make_engine(db_url)
    with db.transaction(db.session_factory(engine)) as session:
        for n, (agency, data) in enumerate(zip(("ngo1", "ngo2"), INCIDENTS, strict=True)):
            owner = accounts.add_user(
                session, accounts.hasher(cheap=True), module, f"worker{n}", PASSWORD, "caseworker", agency
            )
            at = datetime(2026, 11, 1 + n, tzinfo=UTC)
            session.add(
                stored_record(owner, record_type="incident", short_id=f"I-{n}", stage="draft", data=data, at=at)
            )
    engine.dispose()

    rows = _ir_rows(db_url, tmp_path, capsys)
    assert len(rows) == 2
    for row, expected in zip(rows, EXPECTED, strict=True):
        assert {k: row[k] for k in expected} == expected

    cli("agencies", "set", "ngo1", "--no-reporting-code")
    cli("agencies", "set", "ngo2", "--reporting-code", "NG-2")
    assert [r["Reporting Agency Code"] for r in _ir_rows(db_url, tmp_path, capsys)] == ["ngo1", "NG-2"]
    listed = cli("agencies", "list")
    assert "ngo2             NG-2" in listed and "2 agencies" in listed


@pytest.mark.parametrize("folder", [GBV, OVERLAY])
def test_every_coded_ir_column_maps_every_option(folder: str) -> None:
    """The IR never writes Sanad's own codes: every option of a coded column has its IR value (or,
    for a list a country replaces, its label), in the reference module and in a country overlay."""
    result = load_module(folder)
    assert result.module is not None
    assert [d.format() for d in result.report.items if d.code == "export.unmapped-code"] == []
    for column in result.module.exports["incident_recorder"].columns:
        if column.sources and column.unmapped == "code" and column.codes:
            assert not [k for k, v in column.codes.items() if v == k], column  # never Sanad's code itself
