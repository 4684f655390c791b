"""ODK functions real XLSForms depend on, imported and then evaluated as Sanad evaluates them:
indexed-repeat(), a repeat's column read from outside it, pulldata() and instance() lookups,
'NaN' comparisons, jr:choice-name(), selected-at() on a single choice, trigonometry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest

from engine.expressions.compiler import Env
from engine.language.loader import load_module
from engine.language.model import Module
from engine.runtime.evaluation import evaluate
from engine.xlsform import import_xlsform

HEAD = ["type", "name", "label", "calculation", "relevant", "constraint"]


def workbook(path: Path, survey: list[list[Any]], choices: list[list[Any]] | None = None) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in (("survey", [HEAD, *survey]), ("choices", choices or [])):
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    ws = wb.create_sheet("settings")
    ws.append(["form_title", "form_id"])
    ws.append(["Household", "household"])
    wb.save(path)
    return path


def imported(tmp_path: Path, survey: list[list[Any]], choices: list[list[Any]] | None = None) -> tuple[Any, Module]:
    result = import_xlsform(str(workbook(tmp_path / "form.xlsx", survey, choices)), str(tmp_path / "m"))
    assert result.validates, [f.format() for f in result.findings.items] + [d.format() for d in result.module_findings]
    loaded = load_module(str(tmp_path / "m"))
    assert loaded.module is not None, [d.format() for d in loaded.report.errors]
    return result, loaded.module


def left_out(result: Any) -> list[str]:
    return [f.format() for f in result.findings.items if "left out" in f.message]


def values(module: Module, answers: dict[str, Any]) -> dict[str, Any]:
    return evaluate(module.record_types["case"], answers, "2026-12-05").values


ROSTER = [
    ["begin_repeat", "roster", "Person"],
    ["text", "person_name", "Name"],
    ["integer", "person_age", "Age"],
    ["end_repeat", "", ""],
]


def test_indexed_repeat_from_another_repeat_and_from_the_top(tmp_path: Path) -> None:
    result, module = imported(
        tmp_path,
        [
            *ROSTER,
            ["calculate", "first_name", "", "indexed-repeat(${person_name}, ${roster}, 1)"],
            ["calculate", "pick", "", "'2'"],
            ["calculate", "picked_age", "", "indexed-repeat(${person_age}, ${roster}, ${pick})"],
            ["begin_repeat", "school", "Schooling"],
            ["integer", "school_pos", "Which person"],
            ["calculate", "school_name", "", "indexed-repeat(${person_name}, ${roster}, ${school_pos})"],
            ["end_repeat", "", ""],
        ],
    )
    assert left_out(result) == []
    v = values(
        module,
        {
            "roster": [{"person_name": "Amal", "person_age": 31}, {"person_name": "Sami", "person_age": 9}],
            "school": [{"school_pos": 2}, {"school_pos": 5}],
        },
    )
    assert v["first_name"] == "Amal"
    assert v["picked_age"] == 9  # the row number came from a calculation's text, as in ODK
    assert [r["school_name"] for r in v["school"]] == ["Sami", ""]


def test_a_repeat_column_read_from_outside_the_repeat(tmp_path: Path) -> None:
    result, module = imported(
        tmp_path,
        [
            *ROSTER,
            ["calculate", "names", "", "join(', ', ${person_name})"],
            ["calculate", "oldest", "", "max(${person_age})"],
            ["calculate", "second", "", "selected-at(${names_spaced}, 1)"],
            ["calculate", "names_spaced", "", "join(' ', ${person_name})"],
        ],
    )
    assert left_out(result) == []
    v = values(module, {"roster": [{"person_name": "Amal", "person_age": 31}, {"person_name": "Sami"}]})
    assert v["names"] == "Amal, Sami"
    assert v["oldest"] == 31
    assert v["second"] == "Sami"  # selected-at() on a computed list of values separated by spaces


def test_nan_regex_choice_name_selected_at_and_trigonometry(tmp_path: Path) -> None:
    result, module = imported(
        tmp_path,
        [
            ["integer", "days", "Days"],
            ["calculate", "no_days", "", "if(${days} = 'NaN' or string-length(${days}) = 0, 'none', 'some')"],
            ["text", "email", "Email", "", "", "regex(., '^[\\w-\\.]+@([\\w-]+\\.)+[\\w-]{2,}$')"],
            ["select_one country", "country", "Country"],
            ["calculate", "country_name", "", "jr:choice-name(selected-at(${country}, 0), '${country}')"],
            ["decimal", "slope", "Slope"],
            ["calculate", "factor", "", "round(15 div (sqrt(cos(atan(${slope} div 100)))), 2)"],
            ["calculate", "nothing", "", "if(${days} > 3, null, 'x')"],
        ],
        [["list_name", "name", "label"], ["country", "jo", "Jordan"], ["country", "lb", "Lebanon"]],
    )
    assert left_out(result) == []
    v = values(module, {"country": "lb", "slope": 20})
    assert v["no_days"] == "none"
    assert v["country_name"] == "Lebanon"
    assert v["factor"] == 15.15
    assert v["nothing"] == "x"
    assert values(module, {"days": 4})["nothing"] == ""
    email = next(f for f in module.forms["household"].fields if f.id == "email")
    assert email.constraint is not None
    assert email.constraint(Env({}, (), "2026-12-05", "a-b.c@example.org")) is True  # '-' in [\w-.]
    assert email.constraint(Env({}, (), "2026-12-05", "not an address")) is False


@pytest.mark.parametrize(
    "expression",
    [
        "indexed-repeat(${person_name}, ${roster}, 1, ${roster}, 2)",  # ODK's nested form
        "${person_name} = 'x'",  # a row's value from outside its repeat
    ],
)
def test_what_still_has_no_sanad_meaning_is_left_out_with_a_reason(tmp_path: Path, expression: str) -> None:
    result, _ = imported(tmp_path, [*ROSTER, ["calculate", "c", "", expression]])
    (line,) = left_out(result)
    assert "form.xlsx:survey:6" in line and "warning xlsform." in line


CHOICES = [
    ["list_name", "name", "label", "region"],
    ["district", "north", "North", "highlands"],
    ["district", "south", "South", "coast"],
]


def test_instance_lookup_on_a_choice_list(tmp_path: Path) -> None:
    result, module = imported(
        tmp_path,
        [
            ["select_one district", "district", "District"],
            ["calculate", "region", "", "instance('district')/root/item[name = ${district}]/region"],
            ["calculate", "label", "", "instance('district')/root/item[name=current()/../district]/label"],
        ],
        CHOICES,
    )
    assert left_out(result) == []
    v = values(module, {"district": "south"})
    assert (v["region"], v["label"]) == ("coast", "South")


def test_pulldata_reads_the_csv_beside_the_form(tmp_path: Path) -> None:
    (tmp_path / "clinics.csv").write_text("name,label,phone\nc1,Clinic one,0791\nc2,Clinic two,0792\n", "utf-8")
    result, module = imported(
        tmp_path,
        [
            ["text", "clinic", "Clinic code"],
            ["calculate", "phone", "", "pulldata('clinics', 'phone', 'name', ${clinic})"],
        ],
    )
    assert left_out(result) == [] and not any(f.code == "xlsform.external-data" for f in result.findings.items)
    assert values(module, {"clinic": "c2"})["phone"] == "0792"
    assert [c.value for c in module.lookups["clinics"].choices] == ["c1", "c2"]


def test_an_external_file_that_is_missing_is_declared_and_reported(tmp_path: Path) -> None:
    result, module = imported(
        tmp_path,
        [
            ["select_one_from_file buildings.csv", "building", "Building"],
            ["calculate", "geometry", "", "instance('buildings')/root/item[id=${building}]/geometry"],
            ["calculate", "levels", "", "pulldata('buildings', 'building:levels', 'id', ${building})"],
        ],
    )
    assert left_out(result) == []
    (finding,) = [f for f in result.findings.items if f.code == "xlsform.external-data"]
    assert "buildings.csv" in finding.message and finding.row == 3
    table = module.lookups["buildings"]
    assert table.choices == () and set(table.columns) == {"id", "geometry", "building_levels"}
    assert values(module, {"building": "w1"})["geometry"] == ""
    loaded = load_module(str(tmp_path / "m"))
    assert [d.code for d in loaded.report.items] == []  # used by lookup(): not an unused list


def test_start_end_and_int_of_a_text(tmp_path: Path) -> None:
    result, module = imported(
        tmp_path,
        [
            ["start", "start", ""],
            ["end", "end", ""],
            ["calculate", "start_hour", "", "int(format-date-time(${start}, '%H'))"],
            ["calculate", "minutes", "", "(decimal-date-time(${end}) - decimal-date-time(${start})) * 1440"],
        ],
    )
    assert left_out(result) == []
    fields = {f.id: f for f in module.forms["household"].fields}
    assert fields["start"].raw["calculate"] == "once(now())" and fields["end"].raw["calculate"] == "now()"
    v = values(module, {})
    assert isinstance(v["start_hour"], int) and 0 <= v["start_hour"] < 24
