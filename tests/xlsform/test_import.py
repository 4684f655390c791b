"""`sanad import-xlsform`: a small XLSForm built here with openpyxl, imported into a new module."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from babel.messages.pofile import read_po

from engine.cli import main
from engine.diagnostics import Report
from engine.diagnostics.codes import IMPORT_CODES
from engine.language.loader import load_module
from engine.language.yamlfile import read_file
from engine.xlsform import import_xlsform

REPO = Path(__file__).resolve().parent.parent.parent

SURVEY: list[list[Any]] = [
    [
        "type",
        "name",
        "label::English (en)",
        "label::Français (fr)",
        "label::العربية (ar)",
        "hint::English (en)",
        "hint::Français (fr)",
        "relevant",
        "required",
        "required_message::English (en)",
        "required_message::Français (fr)",
        "constraint",
        "constraint_message::English (en)",
        "constraint_message::Français (fr)",
        "calculation",
        "choice_filter",
        "default",
        "read_only",
        "appearance",
        "trigger",
    ],
    [
        "text",
        "Code",
        "Case code",
        "Code du dossier",
        "رمز الحالة",
        "Three letters",
        "Trois lettres",
        None,
        "yes",
        "Enter the code",
        "Saisir le code",
        "regex(., '^[A-Z]{3}$')",
        "Three capitals",
        "Trois majuscules",
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "integer",
        "age",
        "Age",
        "Âge",
        "العمر",
        None,
        None,
        None,
        "true()",
        None,
        None,
        ". >= 0 and . < 120",
        "Between 0 and 120",
        "Entre 0 et 120",
        None,
        None,
        "30",
        None,
        None,
        None,
    ],
    [
        "decimal",
        "weight",
        "Weight",
        "Poids",
        None,
        None,
        None,
        "${age} > 0",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "date",
        "visit_date",
        "Visit date",
        "Date de visite",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        ". <= today()",
        None,
        None,
        None,
        None,
        None,
        None,
        "no-calendar",
        None,
    ],
    [
        "datetime",
        "seen_at",
        "Seen at",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "begin group",
        "household",
        "Household",
        "Ménage",
        None,
        None,
        None,
        "${age} >= 18",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "field-list",
        None,
    ],
    [
        "select_one region",
        "region",
        "Region",
        "Région",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "select_one district",
        "district",
        "District",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "region = ${region}",
        None,
        None,
        None,
        None,
    ],
    [
        "select_multiple needs or_other",
        "needs",
        "Needs",
        "Besoins",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "end group",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "begin repeat",
        "members",
        "Members",
        "Membres",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "text",
        "member_name",
        "Name",
        "Nom",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "integer",
        "member_age",
        "Member age",
        None,
        None,
        None,
        None,
        "${age} > 0",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "end repeat",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "calculate",
        "total_age",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "sum(${member_age})",
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "calculate",
        "n_members",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "count(${members})",
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "note",
        "thanks",
        "Thank you",
        "Merci",
        None,
        None,
        None,
        "selected(${needs}, 'food') or ${age} < 5",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "acknowledge",
        "consent",
        "I agree",
        "J'accepte",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "hidden",
        "source",
        "Source",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "kobo",
        None,
        None,
        None,
    ],
    [
        "text",
        "remark",
        "Remark",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "yes",
        "multiline",
        "${age}",
    ],
    [
        "geopoint",
        "location",
        "Location",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "image",
        "photo",
        "Photo",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "calculate",
        "ts",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "pulldata('households', 'size', 'id', ${hh})",
        None,
        None,
        None,
        None,
        None,
    ],
]
CHOICES: list[list[Any]] = [
    ["list_name", "name", "label::English (en)", "label::Français (fr)", "region"],
    ["region", "north", "North", "Nord", None],
    ["region", "south", "South", "Sud", None],
    ["district", "n1", "North one", "Nord un", "north"],
    ["district", "s1", "South one", "Sud un", "south"],
    ["needs", "food", "Food", "Nourriture", None],
    ["needs", "shelter", "Shelter", "Abri", None],
]
SETTINGS: list[list[Any]] = [
    ["form_title", "form_id", "default_language"],
    ["Household visit", "visit", "English (en)"],
]


def workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


@pytest.fixture()
def imported(tmp_path: Path) -> tuple[Any, Path, Path]:
    xlsx = workbook(tmp_path / "visit.xlsx", {"survey": SURVEY, "choices": CHOICES, "settings": SETTINGS})
    module = tmp_path / "visits"
    return import_xlsform(str(xlsx), str(module)), module, xlsx


def fields_by_id(fields: list[dict[str, Any]], out: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    out = {} if out is None else out
    for f in fields:
        out[f["id"]] = f
        fields_by_id(f.get("fields") or [], out)
    return out


def test_the_imported_module_validates(imported: tuple[Any, Path, Path]) -> None:
    result, module, _ = imported
    assert result.validates, [f.format() for f in result.findings.items] + [d.format() for d in result.module_findings]
    loaded = load_module(str(module))
    assert loaded.module is not None and loaded.report.errors == []
    assert loaded.module.locales == ("en", "fr", "ar")
    assert set(loaded.module.record_types) == {"case"}
    assert (module / "roles.yaml").exists()


def test_every_question_type_maps(imported: tuple[Any, Path, Path]) -> None:
    _, module, _ = imported
    doc = read_file(str(module / "forms" / "visit.yaml"), Report())
    assert doc is not None
    assert doc.data["title"] == "Household visit"
    f = fields_by_id(doc.data["fields"])
    types = {k: v["type"] for k, v in f.items()}
    assert types["code"] == "text"
    assert types["age"] == "integer"
    assert types["weight"] == "decimal"
    assert types["visit_date"] == "date"
    assert types["seen_at"] == "datetime"
    assert types["household"] == "section"
    assert types["region"] == types["district"] == "select_one"
    assert types["needs"] == "select_multiple"
    assert types["needs_other"] == "text"  # or_other
    assert types["members"] == "subform"
    assert types["total_age"] == types["n_members"] == "calculate"
    assert types["thanks"] == "note"
    assert types["consent"] == "yes_no"
    assert types["source"] == "text" and f["source"]["read_only"] is True and f["source"]["default"] == "kobo"
    assert types["remark"] == "textarea" and f["remark"]["read_only"] is True
    assert types["location"] == "text"  # geopoint: the nearest construct, with a warning
    assert "photo" not in f  # image: left out, with a warning
    assert types["ts"] == "text"  # its calculation uses pulldata(), which Sanad lacks: kept as a read-only question
    assert f["code"]["required"] is True and f["code"]["required_message"] == "Enter the code"
    assert f["code"]["constraint"] == "regex(., '^[A-Z]{3}$')"
    assert f["age"]["default"] == 30 and f["age"]["constraint"] == ". >= 0 and . < 120"
    assert f["household"]["relevant"] == "${age} >= 18"
    assert f["district"]["choice_filter"] == "region = ${region}"
    assert f["needs_other"]["relevant"] == "selected(${needs}, 'other')"
    assert f["member_age"]["relevant"] == "${../age} > 0"  # a field outside the repeat
    assert f["total_age"]["calculate"] == "sum(${members}, ${member_age})"
    assert f["n_members"]["calculate"] == "count(${members})"
    assert f["thanks"]["relevant"] == "selected(${needs}, 'food') or ${age} < 5"


def test_translations_go_to_the_catalogs(imported: tuple[Any, Path, Path]) -> None:
    _, module, _ = imported
    with open(module / "locales" / "fr" / "LC_MESSAGES" / "visits.po", "rb") as fh:
        fr = {m.context: m.string for m in read_po(fh) if m.id}
    assert fr["visits:forms/visit/fields/code/label"] == "Code du dossier"
    assert fr["visits:forms/visit/fields/code/hint"] == "Trois lettres"
    assert fr["visits:forms/visit/fields/code/required_message"] == "Saisir le code"
    assert fr["visits:forms/visit/fields/age/constraint_message"] == "Entre 0 et 120"
    assert fr["visits:forms/visit/sections/household/label"] == "Ménage"
    assert fr["visits:forms/visit/fields/members/fields/member_name/label"] == "Nom"
    assert fr["visits:lookups/region/choices/north/label"] == "Nord"
    with open(module / "locales" / "ar" / "LC_MESSAGES" / "visits.po", "rb") as fh:
        ar = {m.context: m.string for m in read_po(fh) if m.id}
    assert ar["visits:forms/visit/fields/code/label"] == "رمز الحالة"
    assert (module / "locales" / "visits.pot").exists()


def test_what_sanad_lacks_is_reported_per_row(imported: tuple[Any, Path, Path]) -> None:
    result, _, _ = imported
    lines = [f.format() for f in result.findings.items]
    assert "visit.xlsx:survey:22: warning xlsform.unsupported-type: 'geopoint': " in "\n".join(lines)
    assert any(x.startswith("visit.xlsx:survey:23: warning xlsform.unsupported-type: 'image'") for x in lines)
    assert any(x.startswith("visit.xlsx:survey:24: warning xlsform.unsupported-expression:") for x in lines)
    assert any(x.startswith("visit.xlsx:survey:21: warning xlsform.unsupported-column: the trigger") for x in lines)
    assert any(x.startswith("visit.xlsx:survey:2: warning xlsform.renamed: 'Code'") for x in lines)
    conv = result.conversion
    assert conv.expressions_total == conv.expressions_kept + 1


def test_the_command_prints_findings_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xlsx = workbook(tmp_path / "visit.xlsx", {"survey": SURVEY, "choices": CHOICES, "settings": SETTINGS})
    code = main(["import-xlsform", str(xlsx), "--module", str(tmp_path / "m"), "--form-id", "home_visit"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "visit.xlsx:survey:22: warning xlsform.unsupported-type" in out
    assert re.search(r"form 'home_visit' \(\d+ questions\), \d+ of \d+ expressions kept", out)
    assert "validates" in out


def test_a_second_form_joins_an_existing_module(imported: tuple[Any, Path, Path], tmp_path: Path) -> None:
    _, module, _ = imported
    other = workbook(
        tmp_path / "follow.xlsx",
        {"survey": [["type", "name", "label"], ["integer", "age", "Age now"], ["text", "note_text", "Notes"]]},
    )
    result = import_xlsform(str(other), str(module))
    assert result.validates, [d.format() for d in result.module_findings]
    loaded = load_module(str(module))
    assert loaded.module is not None
    assert loaded.module.record_types["case"].form_ids == ("visit", "follow")
    assert any(f.code == "xlsform.renamed" and "age" in f.message for f in result.findings.items)
    again = import_xlsform(str(other), str(module))
    assert [f.code for f in again.findings.errors] == ["xlsform.module"]


def test_an_expression_the_checker_refuses_is_left_out(tmp_path: Path) -> None:
    xlsx = workbook(
        tmp_path / "f.xlsx",
        {
            "survey": [
                ["type", "name", "label", "relevant"],
                ["select_one yn", "q1", "Question", None],
                ["text", "q2", "Why", "${q1} = 'maybe'"],
            ],
            "choices": [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]],
        },
    )
    result = import_xlsform(str(xlsx), str(tmp_path / "m"))
    assert result.validates
    found = [f.format() for f in result.findings.items if f.code == "xlsform.invalid-expression"]
    assert found and found[0].startswith("f.xlsx:survey:3: warning xlsform.invalid-expression:")


@pytest.mark.parametrize(
    ("sheets", "name", "code"),
    [
        ({"questions": [["type", "name"], ["text", "a"]]}, "f.xlsx", "xlsform.no-survey"),
        ({"survey": [["kind", "name"], ["text", "a"]]}, "f.xlsx", "xlsform.missing-column"),
        ({"survey": [["type", "name", "label"]]}, "f.xlsx", "xlsform.no-survey"),
        (None, "f.csv", "xlsform.format"),
        (None, "f.xls", "xlsform.unreadable"),
        (None, "f.xlsx", "xlsform.unreadable"),
    ],
)
def test_bad_workbooks_give_readable_errors(
    sheets: dict[str, list[list[Any]]] | None, name: str, code: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    if sheets is None:
        path.write_bytes(b"not a workbook")
    else:
        workbook(path, sheets)
    result = import_xlsform(str(path), str(tmp_path / "m"))
    assert [f.code for f in result.findings.errors] == [code]
    assert main(["import-xlsform", str(path), "--module", str(tmp_path / "m")]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert f"error {code}: " in out.out
    assert not (tmp_path / "m" / "module.yaml").exists()


def test_every_import_code_is_documented() -> None:
    text = (REPO / "docs" / "codes.md").read_text(encoding="utf-8")
    section = text.split("## Importing XLSForms", 1)[1]
    for code, (severity, _) in IMPORT_CODES.items():
        assert f"`{code}`" in section, code
        assert f"| {severity} |" in section.split(f"`{code}`", 1)[1].split("\n", 1)[0], code
    assert (REPO / "docs" / "xlsform.md").exists()
