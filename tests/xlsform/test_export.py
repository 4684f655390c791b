"""Exporting Sanad forms as XLSForms (engine/xlsform/export.py, `sanad export-xlsform`): every form of
the reference module and of the child-protection example converts with pyxform, labels travel in
every language, expressions are written in XLSForm's syntax or left out with a warning, and a
round trip through the importer keeps the module's own scenarios passing."""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Callable
from typing import Any

import openpyxl
import pytest

from engine.cli import main
from engine.language.loader import load_module
from engine.language.model import Module
from engine.runtime.scenarios import collect
from engine.xlsform.export import export_forms, keep, restore, write_xlsform
from tests.conftest import ROOT, MakeModule

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


def _importer() -> Callable[..., Any] | None:
    """The importer's entry point (engine/xlsform/writer.py `import_xlsform`), once it exists."""
    try:
        writer = importlib.import_module("engine.xlsform.writer")
    except ImportError:
        return None
    fn = getattr(writer, "import_xlsform", None)
    return fn if callable(fn) else None


@pytest.mark.xfail(
    reason="issue 15, open: the importer does not yet read the sanad:: columns the exporter keeps (rules "
    "XLSForm cannot say: age(), references to other forms, subform min/max), so scenarios that rely on "
    "them fail after a round trip; strict, so this fails loudly once the round trip is exact",
    strict=True,
)
@pytest.mark.parametrize("key", ["gbv", "cp"])
def test_round_trip_keeps_the_scenarios_passing(key: str, tmp_path: Any) -> None:
    """Each form exported, imported into a fresh module, and put back in place of the original in a
    copy of the module; the module's own scenarios must all still pass."""
    importer = _importer()
    if importer is None:
        pytest.skip(
            "the XLSForm importer (engine/xlsform/writer.py import_xlsform, issue 15) is not there yet; "
            "this round trip runs once it exists"
        )
    copy = os.path.join(str(tmp_path), key)
    shutil.copytree(MODULES[key], copy)
    m = module(key)
    for form_id, form in m.forms.items():
        xlsx = os.path.join(str(tmp_path), f"{form_id}.xlsx")
        write_xlsform(m, [form_id], xlsx)
        fresh = os.path.join(str(tmp_path), f"import-{form_id}")
        result = importer(xlsx, fresh, record_type=form.record_type, form_id=form_id)
        form_file = os.path.join(fresh, "forms", f"{form_id}.yaml")
        assert os.path.isfile(form_file), [str(x) for x in getattr(result.findings, "items", [])]
        shutil.copyfile(form_file, os.path.join(copy, "forms", f"{form_id}.yaml"))
        lookups = os.path.join(fresh, "lookups")
        for name in os.listdir(lookups) if os.path.isdir(lookups) else []:
            if not os.path.exists(os.path.join(copy, "lookups", name)):
                shutil.copyfile(os.path.join(lookups, name), os.path.join(copy, "lookups", name))
    suite = collect(copy)
    assert suite.module is not None, [d.format() for d in suite.report.sorted()][:20]
    failures = [f.format() for sc in suite.scenarios for f in sc.run()]
    assert failures == []
