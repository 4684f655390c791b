"""`sanad report` on the seeded GBV demo (issue 12): the list of reports, a run as JSON, CSV or XLSX,
to standard output or a file (-o), titles and labels in French and Arabic, one clear line for every
mistake (a date, a period, a report, a language, an agency, a file), and an audit entry for every run
with the format it was written in — none for a refused one."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from openpyxl import load_workbook

from engine import i18n
from engine.cli import main
from engine.runtime.registry import Registry
from engine.service import seeding
from engine.service.database import Database
from tests.conftest import ROOT
from tests.server import database

GBV = os.path.join(ROOT, "definitions", "gbv")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database holding the GBV demo (its incidents are what the ISP statistics count)."""
    with database("sqlite", tmp_path_factory.mktemp("report-cli")) as url:
        target = Database.open(url)
        seeding.seed(target, Registry.load([GBV]), "gbv", cheap_hashing=True)
        target.dispose()
        yield url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def report(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    return run(capsys, "report", "run", *argv, "--definitions", GBV, "--db", url)


def as_json(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> dict[str, Any]:
    code, out, err = report(capsys, url, *argv)
    assert code == 0, err
    body: dict[str, Any] = json.loads(out)
    return body


def audited(capsys: pytest.CaptureFixture[str], url: str) -> list[dict[str, Any]]:
    """The report.run entries of the audit log, newest first."""
    code, out, err = run(capsys, "audit", "list", "--action", "report.run", "--format", "json", "--db", url)
    assert code == 0, err
    entries: list[dict[str, Any]] = json.loads(out)
    return entries


def translated(locale: str) -> dict[str, str]:
    """The report's title, the title of its table by type and the label of rape, in `locale`."""
    module = Registry.load([GBV]).modules["gbv"]
    tr = i18n.translator_for(module, locale)
    report = module.reports["isp_monthly"]
    by_type = next(t for t in report.tables if t.id == "by_type")
    f = module.record_types["incident"].all_fields["gbv_type"]
    rape = next(c for c in f.choices or () if c.value == "rape")
    return {
        "title": tr.text("reports/isp_monthly/title", report.title)[0],
        "by_type": tr.text("reports/isp_monthly/tables/by_type/title", by_type.title)[0],
        "rape": tr.text(i18n.choice_path(f, rape), rape.label)[0],
    }


def test_the_list_of_reports(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "report", "list", "--definitions", GBV)
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert set(lines) == {"gbv/case_management", "gbv/isp_monthly"}
    assert lines["gbv/isp_monthly"].split()[1:4] == ["shared", "13", "tables"]
    assert lines["gbv/isp_monthly"].endswith("GBVIMS monthly statistics")
    assert lines["gbv/case_management"].split()[1:4] == ["internal", "5", "tables"]
    for locale in ("fr", "ar"):
        code, out, _err = run(capsys, "report", "list", "--definitions", GBV, "--locale", locale)
        title = translated(locale)["title"]
        assert code == 0 and title != "GBVIMS monthly statistics"
        assert any(line.startswith("gbv/isp_monthly") and line.endswith(title) for line in out.splitlines())


def test_json_to_standard_output_is_the_documented_contract(capsys: pytest.CaptureFixture[str], url: str) -> None:
    result = as_json(capsys, url, "isp_monthly")
    assert (result["report"], result["module"], result["record_type"]) == ("isp_monthly", "gbv", "incident")
    assert (result["from"], result["to"], result["suppress_below"], result["audience"]) == (None, None, 5, "shared")
    assert isinstance(result["records"], int) and result["records"] > 0
    by_type = next(t for t in result["tables"] if t["id"] == "by_type")
    assert set(by_type) == {"id", "title", "dimensions", "rows", "total"}  # no labels unless asked for
    assert all(isinstance(r["count"], int) or r["count"] in ("<5", "x") for r in by_type["rows"])
    labelled = as_json(capsys, url, "isp_monthly", "--labels")
    assert next(t for t in labelled["tables"] if t["id"] == "by_type")["labels"]["values"]["gbv_type"]["rape"]


def test_csv_holds_the_same_counts_as_json(capsys: pytest.CaptureFixture[str], url: str) -> None:
    period = ("--from", "2000-01-01", "--to", "2100-12-31")
    result = as_json(capsys, url, "isp_monthly", *period, "--labels")
    code, out, err = report(capsys, url, "isp_monthly", *period, "--format", "csv")
    assert code == 0 and "records counted in 13 tables" in err
    lines = list(csv.reader(io.StringIO(out.lstrip("\ufeff"))))
    assert lines[0][:5] == ["table", "title", "dimension_1", "code_1", "label_1"]
    assert lines[0][-2:] == ["count", "average_days"]
    expected = []
    for t in result["tables"]:
        for row in t["rows"]:
            keys = [
                (k, str(row[k]), t["labels"]["values"].get(k, {}).get(str(row[k]), str(row[k])))
                for k in t["dimensions"]
            ]
            expected.append((t["id"], t["title"], tuple(keys), str(row["count"])))
    found = []
    for line in lines[1:]:
        keys = tuple((line[i], line[i + 1], line[i + 2]) for i in range(2, 14, 3) if line[i])
        found.append((line[0], line[1], keys, line[14]))
    assert found == expected
    rape = next(f for f in found if f[0] == "by_type" and f[2][0][1] == "rape")
    assert rape[2][0] == ("gbv_type", "rape", "1. Rape (non-consensual penetration, however slight)")


def test_xlsx_to_a_file_read_back(capsys: pytest.CaptureFixture[str], url: str, tmp_path: Any) -> None:
    result = as_json(capsys, url, "isp_monthly", "--labels")
    path = tmp_path / "isp.xlsx"
    code, out, err = report(capsys, url, "isp_monthly", "--format", "xlsx", "-o", str(path))
    assert code == 0 and out == "" and f"written to {path}" in err
    book = load_workbook(path)
    assert book.sheetnames == ["About", *(t["id"] for t in result["tables"])]
    about = book["About"]
    assert about["A1"].value == "GBVIMS monthly statistics" and about["B3"].value == result["records"]
    by_type = next(t for t in result["tables"] if t["id"] == "by_type")
    sheet = list(book["by_type"].values)
    labels = by_type["labels"]["values"]["gbv_type"]
    head = next(i for i, row in enumerate(sheet) if labels["rape"] in row)  # one dimension: laid out across
    shown = dict(zip(sheet[head], sheet[head + 1], strict=True))
    assert {labels[r["gbv_type"]]: r["count"] for r in by_type["rows"]}.items() <= shown.items()
    assert shown["Total"] == by_type["total"]  # the total beside the cells, as suppressed as the JSON's
    assert sheet[-1][-1] == by_type["total"] and "Total" not in {labels[r["gbv_type"]] for r in by_type["rows"]}
    assert not book["by_type"].sheet_view.rightToLeft
    # a spreadsheet is not written to a terminal
    code, _out, err = report(capsys, url, "isp_monthly", "--format", "xlsx")
    assert code == 1 and "an XLSX file needs a name: add -o FILE.xlsx" in err


@pytest.mark.parametrize("locale", ["fr", "ar"])
def test_titles_and_labels_in_french_and_arabic(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Any, locale: str
) -> None:
    names = translated(locale)
    title = names["title"]
    result = as_json(capsys, url, "isp_monthly", "--locale", locale)  # labels come with a language
    assert result["title"] == title != "GBVIMS monthly statistics"
    by_type = next(t for t in result["tables"] if t["id"] == "by_type")
    rape = by_type["labels"]["values"]["gbv_type"]["rape"]
    assert rape == names["rape"] and "Rape" not in rape and by_type["title"] == names["by_type"]
    code, out, _err = report(capsys, url, "isp_monthly", "--locale", locale, "--format", "csv")
    lines = list(csv.reader(io.StringIO(out.lstrip("\ufeff"))))
    assert code == 0 and [by_type["title"], "gbv_type", "rape", rape] == next(
        line[1:5] for line in lines if line[0] == "by_type" and line[3] == "rape"
    )
    path = tmp_path / f"isp-{locale}.xlsx"
    assert report(capsys, url, "isp_monthly", "--locale", locale, "--format", "xlsx", "-o", str(path))[0] == 0
    book = load_workbook(path)
    assert book.worksheets[0]["A1"].value == title
    assert book["by_type"].sheet_view.rightToLeft is (locale == "ar")
    assert rape in {row[0] for row in book["by_type"].values}


def test_json_and_csv_to_a_file(capsys: pytest.CaptureFixture[str], url: str, tmp_path: Any) -> None:
    path = tmp_path / "cases.json"
    code, out, err = report(capsys, url, "case_management", "-o", str(path))
    assert code == 0 and out == "" and err.rstrip().endswith(f"written to {path}")
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["report"] == "case_management" and written["suppress_below"] == 0
    assert {t["id"] for t in written["tables"]} >= {"by_stage", "open_by_caseworker"}
    csv_path = tmp_path / "cases.csv"
    assert report(capsys, url, "case_management", "--format", "csv", "-o", str(csv_path))[0] == 0
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbftable,title,")  # with a BOM, for spreadsheets
    code, _out, err = report(capsys, url, "case_management", "-o", str(tmp_path / "no" / "such" / "x.json"))
    assert code == 1 and "cannot write" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("isp_monthly", "--from", "2026-13-01"), "Dates are written YYYY-MM-DD. (from)"),
        (("isp_monthly", "--to", "1-2-3"), "Dates are written YYYY-MM-DD. (to)"),
        (("isp_monthly", "--from", "0900-01-01"), "Dates are written YYYY-MM-DD, between 1900 and 9000."),
        (("isp_monthly", "--from", "2026-12-01", "--to", "2026-11-01"), "The period ends before it starts."),
        (("nope",), "there is no report 'nope'; the reports are: case_management, isp_monthly ('sanad report list')"),
        (("isp_monthly", "--module", "nope"), "there is no module 'nope'; the modules are: gbv"),
        (("isp_monthly", "--locale", "de"), "the module offers en, fr, ar, es, not 'de'"),
        (("isp_monthly", "--agency", "nowhere"), "there is no agency 'nowhere'"),
    ],
    ids=["bad-from", "bad-to", "year", "backwards", "no-report", "no-module", "no-language", "no-agency"],
)
def test_refusals_are_one_line_and_not_audited(
    capsys: pytest.CaptureFixture[str], url: str, argv: tuple[str, ...], message: str
) -> None:
    before = len(audited(capsys, url))
    code, out, err = report(capsys, url, *argv)
    assert code == 1 and out == ""
    assert err.splitlines()[-1] == f"sanad: {message}" and "Traceback" not in err
    assert len(audited(capsys, url)) == before


def test_every_run_is_audited_with_its_period_agency_records_and_format(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Any
) -> None:
    period = ("--from", "2020-01-01", "--to", "2099-12-31")
    before = len(audited(capsys, url))
    counted = as_json(capsys, url, "isp_monthly", *period)["records"]
    assert report(capsys, url, "isp_monthly", *period, "--format", "csv")[0] == 0
    xlsx_file = str(tmp_path / "f.xlsx")
    assert report(capsys, url, "isp_monthly", "--agency", "demo_agency", "--format", "xlsx", "-o", xlsx_file)[0] == 0
    entries = audited(capsys, url)
    assert len(entries) == before + 3
    xlsx, csv_run, json_run = entries[:3]
    for e in entries[:3]:
        assert e["user"] == "(command line)" and e["action"] == "report.run"
        assert e["details"]["report"] == "isp_monthly"
    assert [e["details"]["format"] for e in (json_run, csv_run, xlsx)] == ["json", "csv", "xlsx"]
    assert (json_run["details"]["period_from"], json_run["details"]["period_to"]) == ("2020-01-01", "2099-12-31")
    assert json_run["details"]["records"] == csv_run["details"]["records"] == counted
    assert json_run["details"].get("agency") is None and xlsx["details"]["agency"] == "demo_agency"
    assert xlsx["details"].get("period_from") is None and xlsx["details"]["records"] == counted
