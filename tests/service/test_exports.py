"""Exports on the statistics fixture, SQLite and PostgreSQL: records line by line with the reader's
access rules, de-identified (no direct identifier, dates to the month, numbers to bands, pseudonyms
made anew per export), a declared layout with its codes and consent read now, encrypted ZIPs, the
command line with its progress, and the audit of each export."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
import pyzipper
from openpyxl import load_workbook

from engine.cli import main
from tests.conftest import MakeModule
from tests.server import Server, server
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
    assert values[0] == ("Date of Interview", "Sex", "Relationship", "Consent", "Agency")
    assert values[1] == ("2026-11-01", "F", "partner", "Yes", "agency_a")
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
