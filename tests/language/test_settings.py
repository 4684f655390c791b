"""Module settings: values a module's rules read with setting('name'), changed in one place (or by
an overlay), sent to the browser as literals."""

from __future__ import annotations

import os

from engine.language.loader import load_module
from engine.runtime.evaluation import evaluate
from renderers.json.form import form_to_json
from tests.conftest import BASE_FILES, MakeModule, codes

MODULE = (
    BASE_FILES["module.yaml"]
    + """
        settings:
          adult_age: 18
          region_name: Northern region
"""
)
INTAKE = BASE_FILES["forms/intake.yaml"].replace("relevant: ${age} < 18", "relevant: ${age} < setting('adult_age')")


def test_a_setting_is_read_where_the_rule_is_written(make_module: MakeModule) -> None:
    m = load_module(make_module({"module.yaml": MODULE, "forms/intake.yaml": INTAKE})).module
    assert m is not None and m.settings == {"adult_age": 18, "region_name": "Northern region"}
    rt = m.record_types["case"]
    assert "caregiver" in evaluate(rt, {"dob": "2015-01-01"}, today="2026-01-01").relevant
    assert "caregiver" not in evaluate(rt, {"dob": "2000-01-01"}, today="2026-01-01").relevant
    caregiver = next(f for f in form_to_json(m, m.forms["intake"])["fields"] if f["id"] == "caregiver")
    assert caregiver["relevant"]["args"][1] == {"op": "lit", "value": 18}  # the browser needs no settings


def test_an_overlay_changes_a_setting_and_modules_do_not_share_it(make_module: MakeModule) -> None:
    base = make_module({"module.yaml": MODULE, "forms/intake.yaml": INTAKE})
    root = os.path.join(os.path.dirname(base), "arcadia")
    os.makedirs(root)
    with open(os.path.join(root, "module.yaml"), "w", encoding="utf-8") as fh:
        fh.write(
            f"id: arcadia\ntitle: A\nversion: '1-a'\nextends: ../{os.path.basename(base)}\nsettings:\n  adult_age: 21\n"
        )
    over = load_module(root).module
    again = load_module(base).module
    assert over is not None and again is not None
    assert over.settings == {"adult_age": 21, "region_name": "Northern region"}
    dob = {"dob": "2006-01-01"}  # 20 years old
    assert "caregiver" in evaluate(over.record_types["case"], dob, today="2026-01-01").relevant
    assert "caregiver" not in evaluate(again.record_types["case"], dob, today="2026-01-01").relevant


def test_a_setting_that_does_not_exist_is_reported(make_module: MakeModule) -> None:
    bad = INTAKE.replace("setting('adult_age')", "setting('adult_years')")
    result = load_module(make_module({"module.yaml": MODULE, "forms/intake.yaml": bad}))
    found = [d for d in result.report.items if d.code == "expr.unknown-setting"]
    assert found and "adult_age" in (found[0].hint or "")
    assert "schema.type" in codes(
        load_module(make_module({"module.yaml": MODULE.replace("18", "[18]"), "forms/intake.yaml": INTAKE}))
    )
