"""Exporting Sanad forms as XLSForms (engine/xlsform/export.py, `sanad export-xlsform`): every form of
the reference module and of the child-protection example converts with pyxform, labels travel in
every language, expressions are written in XLSForm's syntax or left out with a warning, and a
round trip through the importer keeps the module's own scenarios passing."""

from __future__ import annotations

import os
import shutil
from typing import Any

import openpyxl
import pytest
import yaml

from engine.cli import main
from engine.language.loader import load_module
from engine.language.model import Module
from engine.runtime.scenarios import collect
from engine.xlsform import ImportResult, import_xlsform
from engine.xlsform.export import export_forms, keep, restore, write_xlsform
from tests.conftest import BASE_FILES, ROOT, MakeModule

pyxform = pytest.importorskip("pyxform", reason="pyxform is a test dependency (pip install 'sanad[test]')")
from pyxform.xls2xform import convert  # noqa: E402

MODULES = {"gbv": os.path.join(ROOT, "definitions", "gbv"), "cp": os.path.join(ROOT, "examples", "child-protection")}
_loaded: dict[str, Module] = {}


def module(key: str) -> Module:
    if key not in _loaded:
        result = load_module(MODULES[key])
        assert result.module is not None, [d.format() for d in result.report.items]
        _loaded[key] = result.module
    return _loaded[key]


def all_forms() -> list[tuple[str, str]]:
    out = []
    for key, path in MODULES.items():
        for name in sorted(os.listdir(os.path.join(path, "forms"))):
            out.append((key, name.removesuffix(".yaml")))
    return out


def sheet(path: str, name: str) -> list[dict[str, Any]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb[name].iter_rows(values_only=True))
    wb.close()
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, r, strict=True)) for r in rows[1:]]


@pytest.mark.parametrize(("key", "form_id"), all_forms())
def test_every_form_converts_with_pyxform(key: str, form_id: str, tmp_path: Any) -> None:
    dest = os.path.join(str(tmp_path), f"{form_id}.xlsx")
    warnings = write_xlsform(module(key), [form_id], dest)
    assert all(isinstance(w, str) and w for w in warnings)
    result = convert(xlsform=dest)  # raises PyXFormError on any error
    assert "<h:html" in result.xform
    assert result.warnings == []
    for lang in ("Français (fr)", "العربية (ar)", "English (en)"):
        assert f'lang="{lang}"' in result.xform


def test_all_incident_forms_together_as_groups(tmp_path: Any) -> None:
    m = module("gbv")
    ids = list(m.record_types["incident"].form_ids)
    dest = os.path.join(str(tmp_path), "incident.xlsx")
    warnings = write_xlsform(m, ids, dest)
    convert(xlsform=dest)
    rows = sheet(dest, "survey")
    groups = [r["name"] for r in rows if r["type"] == "begin group"]
    assert all(fid in groups for fid in ids)
    # fields of other incident forms are now in the same XLSForm: no "another form" warnings left
    assert not [w for w in warnings if "another form" in w]


def test_labels_in_every_language_are_columns(tmp_path: Any) -> None:
    m = module("gbv")
    dest = os.path.join(str(tmp_path), "tov.xlsx")
    write_xlsform(m, ["type_of_violence"], dest)
    survey, choices = sheet(dest, "survey"), sheet(dest, "choices")
    for lang in ("English (en)", "Français (fr)", "العربية (ar)", "Español (es)"):
        assert f"label::{lang}" in survey[0]
        assert f"label::{lang}" in choices[0]
    gbv_type = next(r for r in survey if r["name"] == "gbv_type")
    assert gbv_type["type"] == "select_one gbv_type"
    assert gbv_type["label::Français (fr)"] != gbv_type["label::English (en)"]  # really translated
    assert any("\u0600" <= ch <= "\u06ff" for ch in gbv_type["label::العربية (ar)"])
    rape = next(r for r in choices if r["list_name"] == "gbv_type" and r["name"] == "rape")
    assert rape["label::Français (fr)"] and rape["label::Français (fr)"] != rape["label::English (en)"]
    settings = sheet(dest, "settings")[0]
    assert settings["form_id"] == "type_of_violence" and settings["default_language"] == "English (en)"


def test_locale_option_limits_the_languages(tmp_path: Any) -> None:
    m = module("cp")
    result = export_forms(m, ["registration"], ["fr"])
    header = result.survey[0]
    assert "label::Français (fr)" in header and "label::English (en)" in header
    assert not [h for h in header if "(ar)" in h]
    with pytest.raises(ValueError, match="not offered in de"):
        export_forms(m, ["registration"], ["de"])
    with pytest.raises(ValueError, match="no form 'nope'"):
        export_forms(m, ["nope"])


EXPRESSIONS_FORM = """
    id: intake
    title: Intake
    record_type: case
    fields:
      - id: intro
        type: section
        label: About the person
        relevant: "${consent} != 'no'"
        fields:
          - id: dob
            type: date
            label: Date of birth
            min: '1900-01-01'
            constraint: ". <= today()"
            constraint_message: Not in the future.
          - id: age
            type: calculate
            label: Age
            calculate: age(${dob})
          - id: sex
            type: select_one
            label: Sex
            choices: sex
            required: true
          - id: caregiver
            type: textarea
            label: Caregiver
            relevant: "${age} < 18 or ${sex} = 'female'"
            required: "${dob} != ''"
            sensitivity: direct
      - id: consent
        type: yes_no
        label: Consent
        default: 'yes'
      - id: nick
        type: text
        label: Nickname
        default: Sam
        read_only: true
      - id: name
        type: calculate
        label: Name
        calculate: "coalesce(${nick}, ${caregiver}, 'unknown')"
      - id: days
        type: calculate
        label: Days
        calculate: "days-between(${dob}, today())"
      - id: children
        type: subform
        label: Children
        max: 3
        fields:
          - id: child_age
            type: integer
            label: Age
            min: 0
            constraint: ". < ${../days}"
      - id: any_young
        type: calculate
        label: Any young
        calculate: "if(any(${children}, ${child_age} < 5) and not(all(${children}, ${child_age} > 1)), 'yes', 'no')"
      - id: sum_ages
        type: calculate
        label: Sum of ages
        calculate: "sum(${children}, ${child_age}) + count(${children}) * 2 - (1 - 1)"
      - id: flag
        type: calculate
        label: Flag
        calculate: "true and ${consent} = 'yes'"
"""


def test_expressions_in_xlsform_syntax(make_module: MakeModule, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_module({"forms/intake.yaml": EXPRESSIONS_FORM})
    result = load_module(path)
    assert result.module is not None, [d.format() for d in result.report.items]
    out = export_forms(result.module, ["intake"])
    header = out.survey[0]
    rows = {r[1]: dict(zip(header, r, strict=True)) for r in out.survey[1:] if not str(r[0]).startswith("end ")}
    assert rows["intro"]["type"] == "begin group" and rows["intro"]["relevant"] == "${consent} != 'no'"
    assert rows["dob"]["constraint"] == "(. <= today()) and . >= date('1900-01-01')"
    assert rows["dob"]["sanad::constraint"] == ". <= today()" and rows["dob"]["sanad::min"] == "1900-01-01"
    assert rows["caregiver"]["type"] == "text" and rows["caregiver"]["appearance"] == "multiline"
    assert rows["caregiver"]["relevant"] == "${age} < 18 or ${sex} = 'female'"
    assert rows["caregiver"]["required"] == "${dob} != ''"
    assert rows["caregiver"]["sanad::sensitivity"] == "direct"
    assert rows["sex"]["type"] == "select_one sex" and rows["sex"]["required"] == "yes"
    assert rows["consent"]["type"] == "select_one yes_no" and rows["consent"]["default"] == "yes"
    assert rows["nick"]["read_only"] == "yes"
    assert rows["name"]["calculation"] == "coalesce(${nick}, coalesce(${caregiver}, 'unknown'))"
    assert rows["days"]["calculation"] == "int(decimal-date-time(today()) - decimal-date-time(${dob}))"
    assert rows["children"]["type"] == "begin repeat"
    assert rows["child_age"]["constraint"] == "(. < ${days}) and . >= 0"
    assert rows["any_young"]["calculation"] == (
        "if(count(${children}[child_age < 5]) > 0 and not(count(${children}[not(child_age > 1)]) = 0), 'yes', 'no')"
    )
    assert rows["sum_ages"]["calculation"] == "sum(${children}/child_age) + count(${children}) * 2 - (1 - 1)"
    assert rows["flag"]["calculation"] == "true() and ${consent} = 'yes'"
    # age() has no XLSForm equivalent: the column is empty, the field named in a warning, the
    # expression kept for an importer (its references as #{…}, which pyxform does not check)
    assert rows["age"]["type"] == "hidden" and rows["age"]["calculation"] is None
    assert rows["age"]["sanad::type"] == "calculate" and rows["age"]["sanad::calculation"] == "age(#{dob})"
    assert restore(rows["age"]["sanad::calculation"]) == "age(${dob})"
    assert [w for w in out.warnings if w.startswith("age: calculation not exported (age()")]
    assert [w for w in out.warnings if w.startswith("children: min/max rows")]
    yes_no = [r for r in out.choices[1:] if r[0] == "yes_no"]
    assert [r[1] for r in yes_no] == ["yes", "no"]
    # and pyxform accepts it
    dest = os.path.join(path, "intake.xlsx")
    out.save(dest)
    convert(xlsform=dest)

    # the command: the file, the warnings on stderr naming the field, exit 0
    code = main(["export-xlsform", path, "--form", "intake", "-o", dest])
    err = capsys.readouterr().err
    assert code == 0 and "warning: age: calculation not exported" in err and "1 warning" not in err
    assert main(["export-xlsform", path, "--form", "nope", "-o", dest]) == 1
    assert "no form 'nope'" in capsys.readouterr().err
    assert main(["export-xlsform", path, "--form", "intake", "-o", os.path.join(path, "x.csv")]) == 1


def test_references_to_other_forms_are_left_out_with_a_warning(make_module: MakeModule) -> None:
    result = load_module(make_module())
    assert result.module is not None
    out = export_forms(result.module, ["intake"])
    # plan: its whole-form relevant reads ${consent} of intake; kept in the settings sheet
    plan = export_forms(result.module, ["plan"])
    assert any(w.startswith("form plan: relevant not exported") for w in plan.warnings)
    settings = dict(zip(plan.settings[0], plan.settings[1], strict=True))
    assert restore(settings["sanad::form_relevant"]) == "${consent} = 'yes'"
    assert out.survey[0][:2] == ["type", "name"]


def test_keep_and_restore_references() -> None:
    source = "${a} = 'x' and ${../b} != '${c}'"
    assert "${" not in keep(source).replace("'${c}'", "")
    assert restore(keep(source)) == source


# -- round trip: Sanad → XLSForm → Sanad, checked by the module's own scenarios ------------------------


@pytest.mark.parametrize("key", ["gbv", "cp"])
def test_round_trip_keeps_the_scenarios_passing(key: str, tmp_path: Any) -> None:
    """Each form exported, imported into a fresh module, and put back in place of the original in a
    copy of the module; the module's own scenarios must all still pass."""
    copy = os.path.join(str(tmp_path), key)
    shutil.copytree(MODULES[key], copy)
    m = module(key)
    for form_id, form in m.forms.items():
        xlsx = os.path.join(str(tmp_path), f"{form_id}.xlsx")
        write_xlsform(m, [form_id], xlsx)
        fresh = os.path.join(str(tmp_path), f"import-{form_id}")
        result = import_xlsform(xlsx, fresh, record_type=form.record_type, form_id=form_id)
        form_file = os.path.join(fresh, "forms", f"{form_id}.yaml")
        assert os.path.isfile(form_file), [x.format() for x in result.findings.items]
        # nothing is left out or renamed on the way back
        assert [x.format() for x in result.findings.items] == []
        shutil.copyfile(form_file, os.path.join(copy, "forms", f"{form_id}.yaml"))
        lookups = os.path.join(fresh, "lookups")
        for name in os.listdir(lookups) if os.path.isdir(lookups) else []:
            if not os.path.exists(os.path.join(copy, "lookups", name)):
                shutil.copyfile(os.path.join(lookups, name), os.path.join(copy, "lookups", name))
    suite = collect(copy)
    assert suite.module is not None, [d.format() for d in suite.report.sorted()][:20]
    failures = [f.format() for sc in suite.scenarios for f in sc.run()]
    assert failures == []


# -- the sanad:: columns, one kind at a time ------------------------------------------------------------

ROUND_TRIP_FORM = """
    id: roundtrip
    title: Round trip
    description: Checks every sanad column.
    record_type: case
    relevant: "${consent} = 'yes'"
    fields:
      - id: about
        type: section
        label: About
        hint: The person.
        relevant: "${consent} != 'no'"
        fields:
          - id: first_seen
            type: date
            label: First seen
            min: '2000-01-01'
            constraint: ". <= today()"
            constraint_message: Not in the future.
          - id: years
            type: calculate
            label: Years
            calculate: age(${first_seen})
          - id: visits
            type: integer
            label: Visits
            min: 1
            max: 99
            constraint_message: Between 1 and 99.
          - id: flag
            type: yes_no
            label: Flag
            required: "${sex} = 'female'"
            required_message: Say yes or no.
      - id: colour
        type: select_one
        label: Colour
        choices:
          - {value: red, label: Red}
          - {value: blue, label: Blue}
        sensitivity: quasi
      - id: band
        type: calculate
        label: Band
        choices: sex
        calculate: "if(${visits} > 5, 'female', 'male')"
      - id: level
        type: calculate
        label: Level
        choices:
          - {value: low, label: Low}
          - {value: high, label: High}
        calculate: "if(${visits} > 5, 'high', 'low')"
      - id: org
        type: select_one
        label: Organisation
        choices: orgs
        choice_filter: "health = true"
      - id: wait
        type: integer
        label: Wait
        constraint: ". <= setting('max_wait')"
      - id: rows
        type: subform
        label: Rows
        required: true
        required_message: Add a row.
        min: 1
        max: 5
        sensitivity: direct
        fields:
          - id: row_note
            type: text
            label: Note
            relevant: "${../visits} > 1"
"""

ROUND_TRIP_FILES = {
    "module.yaml": BASE_FILES["module.yaml"]
    .replace("forms: [intake, plan]", "forms: [intake, plan, roundtrip]")
    .replace("locales: [en, fr]", "locales: [en, fr]\n        settings:\n          max_wait: 10"),
    "forms/roundtrip.yaml": ROUND_TRIP_FORM,
    "lookups/orgs.yaml": """
        id: orgs
        title: Organisations
        choices:
          - {value: clinic, label: Clinic, health: true}
          - {value: court, label: Court, health: false}
    """,
    "locales/fr/LC_MESSAGES/mini.po": """
        msgid ""
        msgstr ""
        "Content-Type: text/plain; charset=UTF-8\\n"

        msgctxt "mini:forms/roundtrip/title"
        msgid "Round trip"
        msgstr "Aller-retour"

        msgctxt "mini:forms/roundtrip/description"
        msgid "Checks every sanad column."
        msgstr "Vérifie chaque colonne sanad."

        msgctxt "mini:lookups/orgs/title"
        msgid "Organisations"
        msgstr "Organismes"

        msgctxt "mini:forms/roundtrip/fields/colour/choices/red/label"
        msgid "Red"
        msgstr "Rouge"

        msgctxt "mini:forms/roundtrip/fields/level/choices/high/label"
        msgid "High"
        msgstr "Haut"

        msgctxt "mini:forms/roundtrip/fields/rows/required_message"
        msgid "Add a row."
        msgstr "Ajoutez une ligne."
    """,
}


def _export(make_module: MakeModule) -> tuple[str, str]:
    """The mini module with the round-trip form, and that form exported (the module, the .xlsx)."""
    path = make_module(ROUND_TRIP_FILES)
    result = load_module(path)
    assert result.module is not None, [d.format() for d in result.report.items]
    xlsx = os.path.join(path, "roundtrip.xlsx")
    write_xlsform(result.module, ["roundtrip"], xlsx)
    return path, xlsx


def _reimport(xlsx: str, tmp_path: Any, **kwargs: Any) -> tuple[ImportResult, dict[str, Any]]:
    result = import_xlsform(xlsx, os.path.join(str(tmp_path), "fresh"), **kwargs)
    assert result.conversion is not None, [f.format() for f in result.findings.items]
    return result, result.conversion.form


def _edit(xlsx: str, sheet_name: str, edit: Any) -> None:
    """Change cells of an exported workbook: edit(header, rows) with rows as lists."""
    wb = openpyxl.load_workbook(xlsx)
    ws = wb[sheet_name]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    header = [str(h) for h in rows[0]]
    edit(header, rows[1:])
    ws.delete_rows(1, ws.max_row)
    for r in [header, *rows[1:]]:
        ws.append(r)
    wb.save(xlsx)


def _fields(form: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}

    def visit(fields: list[dict[str, Any]]) -> None:
        for f in fields:
            out[f["id"]] = f
            visit(f.get("fields", []))

    visit(form["fields"])
    return out


def test_round_trip_gives_back_the_form_as_written(make_module: MakeModule, tmp_path: Any) -> None:
    path, xlsx = _export(make_module)
    convert(xlsform=xlsx)  # the sanad:: columns do not bother pyxform
    result, form = _reimport(xlsx, tmp_path)
    with open(os.path.join(path, "forms", "roundtrip.yaml"), encoding="utf-8") as fh:
        assert form == yaml.safe_load(fh)
    assert [f.format() for f in result.findings.items] == []


def test_expression_columns_are_restored(make_module: MakeModule, tmp_path: Any) -> None:
    _, xlsx = _export(make_module)
    _, form = _reimport(xlsx, tmp_path)
    f = _fields(form)
    assert f["about"]["relevant"] == "${consent} != 'no'"  # sanad::relevant: another form's field
    assert f["row_note"]["relevant"] == "${../visits} > 1"  # sanad::relevant: XPath said ${visits}
    assert f["flag"]["required"] == "${sex} = 'female'"  # sanad::required
    assert f["years"]["calculate"] == "age(${first_seen})"  # sanad::calculation (age())
    assert f["wait"]["constraint"] == ". <= setting('max_wait')"  # sanad::constraint (XPath: . <= 10)
    assert f["org"]["choice_filter"] == "health = true"  # sanad::choice_filter (XPath: health = 'true')
    assert form["relevant"] == "${consent} = 'yes'"  # settings: sanad::form_relevant


def test_types_and_properties_are_restored(make_module: MakeModule, tmp_path: Any) -> None:
    _, xlsx = _export(make_module)
    _, form = _reimport(xlsx, tmp_path)
    f = _fields(form)
    assert f["flag"]["type"] == "yes_no" and "choices" not in f["flag"]  # sanad::type yes_no
    assert f["years"]["type"] == "calculate" and "read_only" not in f["years"]  # sanad::type (a hidden row)
    assert f["colour"]["sensitivity"] == "quasi" and f["rows"]["sensitivity"] == "direct"  # sanad::sensitivity
    assert "sensitivity" not in f["visits"]
    # sanad::min/max: the bounds, not a constraint (the constraint column only repeated them)
    assert (f["visits"]["min"], f["visits"]["max"]) == (1, 99) and "constraint" not in f["visits"]
    assert f["visits"]["constraint_message"] == "Between 1 and 99."
    assert f["first_seen"]["min"] == "2000-01-01" and f["first_seen"]["constraint"] == ". <= today()"
    # a subform: its rows (sanad::min/max) and sanad::required with its sanad::required_message
    assert (f["rows"]["min"], f["rows"]["max"], f["rows"]["required"]) == (1, 5, True)
    assert f["rows"]["required_message"] == "Add a row."


def test_choices_are_restored(make_module: MakeModule, tmp_path: Any) -> None:
    _, xlsx = _export(make_module)
    result, form = _reimport(xlsx, tmp_path)
    f = _fields(form)
    # sanad::choices: inline, the field's own choices (no lookup made for them)
    assert f["colour"]["choices"] == [{"value": "red", "label": "Red"}, {"value": "blue", "label": "Blue"}]
    assert f["band"]["choices"] == "sex"  # sanad::choices of a calculate: a lookup
    assert f["level"]["choices"] == [{"value": "low", "label": "Low"}, {"value": "high", "label": "High"}]
    assert f["org"]["choices"] == "orgs"
    assert result.conversion is not None
    lookups = result.conversion.lookups
    assert sorted(lookups) == ["orgs", "sex"]
    # settings: sanad::list_titles and sanad::choice_keys (true/false, not the text 'true')
    assert lookups["orgs"]["title"] == "Organisations"
    assert [c["health"] for c in lookups["orgs"]["choices"]] == [True, False]


def test_texts_of_the_settings_and_translations_are_restored(make_module: MakeModule, tmp_path: Any) -> None:
    _, xlsx = _export(make_module)
    result, form = _reimport(xlsx, tmp_path)
    assert form["title"] == "Round trip" and form["description"] == "Checks every sanad column."
    assert result.conversion is not None
    fr = result.conversion.translations["fr"]
    assert fr["forms/roundtrip/title"] == "Aller-retour"  # sanad::form_title::Français (fr)
    assert fr["forms/roundtrip/description"] == "Vérifie chaque colonne sanad."  # sanad::description::…
    assert fr["lookups/orgs/title"] == "Organismes"  # sanad::list_titles::…
    assert fr["forms/roundtrip/fields/rows/required_message"] == "Ajoutez une ligne."  # sanad::required_message
    assert fr["forms/roundtrip/fields/colour/choices/red/label"] == "Rouge"  # an inline choice's own path
    assert fr["forms/roundtrip/fields/level/choices/high/label"] == "Haut"


def test_settings_and_record_type_are_restored(make_module: MakeModule, tmp_path: Any) -> None:
    _, xlsx = _export(make_module)
    _edit(xlsx, "settings", lambda header, rows: rows[0].__setitem__(header.index("sanad::record_type"), "household"))
    _, form = _reimport(xlsx, tmp_path)
    assert form["record_type"] == "household"  # no --record-type: sanad::record_type
    with open(os.path.join(str(tmp_path), "fresh", "module.yaml"), encoding="utf-8") as fh:
        module_yaml = yaml.safe_load(fh)
    assert module_yaml["settings"] == {"max_wait": 10}  # sanad::settings: what setting() reads
    assert list(module_yaml["record_types"]) == ["household"]
    _, form = _reimport(xlsx, os.path.join(str(tmp_path), "again"), record_type="case")
    assert form["record_type"] == "case"  # the option wins


def test_a_sanad_column_wins_over_the_xpath_column(make_module: MakeModule, tmp_path: Any) -> None:
    _, xlsx = _export(make_module)

    def edit(header: list[str], rows: list[list[Any]]) -> None:
        by_name = {r[1]: r for r in rows if r[0] and not str(r[0]).startswith("end ")}
        by_name["row_note"][header.index("relevant")] = "${visits} > 7"  # sanad::relevant still says > 1
        by_name["band"][header.index("calculation")] = "'male'"  # no sanad::calculation: this one counts

    _edit(xlsx, "survey", edit)
    _, form = _reimport(xlsx, tmp_path)
    f = _fields(form)
    assert f["row_note"]["relevant"] == "${../visits} > 1"
    assert f["band"]["calculate"] == "'male'"


def test_kept_expressions_follow_renamed_questions(make_module: MakeModule) -> None:
    """Imported back into the module it came from under another id, every question is renamed
    (its id is taken): the kept Sanad expressions name the new ids, and the module validates."""
    path, xlsx = _export(make_module)
    result = import_xlsform(xlsx, path, form_id="roundtrip_again")
    assert result.validates, [d.format() for d in result.module_findings] + [f.format() for f in result.findings.items]
    assert result.conversion is not None
    f = _fields(result.conversion.form)
    assert f["years_2"]["calculate"] == "age(${first_seen_2})"
    assert f["row_note_2"]["relevant"] == "${../visits_2} > 1"
    assert f["flag_2"]["required"] == "${sex} = 'female'"  # another form's field: not renamed
    # lists are new lookups beside the module's own (as for any import), typed keys and all
    assert f["band_2"]["choices"] == "sex_2" and f["org_2"]["choices"] == "orgs_2"
    assert f["org_2"]["choice_filter"] == "health = true"


def test_kept_expressions_reading_other_forms_stay(make_module: MakeModule, tmp_path: Any) -> None:
    """In a module without the forms they read, the kept rules stay as written (the module says what
    it lacks); a rule that is wrong in itself is still left out."""
    _, xlsx = _export(make_module)
    _edit(
        xlsx,
        "survey",
        lambda header, rows: next(r for r in rows if r[1] == "wait").__setitem__(
            header.index("sanad::constraint"), ". <= 'ten'"
        ),
    )
    result, form = _reimport(xlsx, tmp_path)
    f = _fields(form)
    assert f["flag"]["required"] == "${sex} = 'female'" and form["relevant"] == "${consent} = 'yes'"
    assert "constraint" not in f["wait"]
    assert [x.code for x in result.findings.items] == ["xlsform.invalid-expression"]
    assert not result.validates
    assert {d.code for d in result.module_findings if d.severity == "error"} == {"expr.unknown-field"}


def test_an_unknown_sanad_column_is_reported(make_module: MakeModule, tmp_path: Any) -> None:
    _, xlsx = _export(make_module)

    def edit(header: list[str], rows: list[list[Any]]) -> None:
        header.append("sanad::colour")
        for r in rows:
            r.append("blue" if r[1] == "visits" else None)
        next(r for r in rows if r[1] == "colour")[header.index("sanad::sensitivity")] = "secret"

    _edit(xlsx, "survey", edit)
    result, form = _reimport(xlsx, tmp_path)
    messages = [x.message for x in result.findings.items if x.code == "xlsform.unsupported-column"]
    assert any("sanad::colour" in m for m in messages) and any("sanad::sensitivity" in m for m in messages)
    assert "sensitivity" not in _fields(form)["colour"]


def test_boolean_choice_keys_are_compared_as_text_in_xlsform(make_module: MakeModule) -> None:
    """The choices sheet holds true/false keys as the text 'true'/'false'; XPath `health = true()`
    would hold for every choice."""
    _, xlsx = _export(make_module)
    convert(xlsform=xlsx)
    survey, choices = sheet(xlsx, "survey"), sheet(xlsx, "choices")
    org = next(r for r in survey if r["name"] == "org")
    assert org["choice_filter"] == "health = 'true'" and restore(org["sanad::choice_filter"]) == "health = true"
    assert [r["health"] for r in choices if r["list_name"] == "orgs"] == ["true", "false"]
