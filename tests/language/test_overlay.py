"""Country overlays: extends, patches, positions, base scenarios, sanad show."""

from __future__ import annotations

import os
import textwrap

import pytest

from engine.cli import main
from engine.language.loader import load_module
from engine.runtime.evaluation import evaluate
from engine.runtime.scenarios import collect
from tests.conftest import MakeModule

BASE_TESTS = """
    form: intake
    scenarios:
      - name: a child needs a caregiver
        given: {dob: '2015-01-01'}
        today: '2026-01-01'
        expect: {required: [caregiver]}
      - name: sex is required
        given: {}
        expect: {required: [sex]}
"""


def write(root: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(textwrap.dedent(text).lstrip("\n"))
    return root


@pytest.fixture
def base(make_module: MakeModule) -> str:
    return make_module({"tests/intake.yaml": BASE_TESTS})


def overlay(base: str, files: dict[str, str]) -> str:
    root = os.path.join(os.path.dirname(base), "arcadia")
    module = f"""
        id: arcadia
        title: Arcadia adaptation
        version: '1-ar'
        extends: ../{os.path.basename(base)}
    """
    return write(root, {"module.yaml": module, **files})


def findings(root: str) -> list[tuple[str, int, int, str]]:
    suite = collect(root)
    return [(os.path.relpath(d.file, os.path.dirname(root)), d.line, d.column, d.code) for d in suite.report.items]


def test_an_empty_overlay_is_the_base_module(base: str) -> None:
    root = overlay(base, {})
    result = load_module(root)
    assert result.module is not None, [d.format() for d in result.report.items]
    assert result.module.id == "arcadia" and result.module.version == "1-ar"
    assert result.module.extends == (os.path.normpath(base),)
    assert set(result.module.forms) == {"intake", "plan"}
    suite = collect(root)
    assert len(suite.scenarios) == 2 and all(not sc.run() for sc in suite.scenarios)


def test_add_hide_and_change_fields(base: str) -> None:
    root = overlay(
        base,
        {
            "forms/intake.yaml": """
        id: intake
        add_fields:
          - after: sex
            fields:
              - id: pregnant
                type: yes_no
                label: Is the person pregnant?
                relevant: ${sex} = 'female'
        hide_fields: [caregiver]
        change_fields:
          sex: {required: false, label: Sex (optional)}
    """
        },
    )
    result = load_module(root)
    assert result.module is not None, [d.format() for d in result.report.items]
    form = result.module.forms["intake"]
    assert [f.id for f in form.fields] == ["dob", "age", "sex", "pregnant", "caregiver", "consent"]
    case = result.module.record_types["case"]
    ev = evaluate(case, {"sex": "female", "dob": "2015-01-01", "caregiver": "Aunt"}, "2026-01-01")
    assert "pregnant" in ev.relevant
    assert "caregiver" not in ev.relevant and ev.values["caregiver"] == ""
    assert "sex" not in ev.required
    assert form.fields[2].label == "Sex (optional)"
    assert evaluate(case, {"sex": "male"}, "2026-01-01").values["pregnant"] == ""


def test_findings_point_at_the_overlay_line_that_caused_them(base: str) -> None:
    root = overlay(
        base,
        {
            "forms/intake.yaml": """
        id: intake
        add_fields:
          - after: sex
            fields:
              - id: pregnant
                type: yes_no
                label: Is the person pregnant?
                relevant: ${sexx} = 'female'
        change_fields:
          consent: {relevant: "${dobb} != ''"}
    """
        },
    )
    got = findings(root)
    assert ("arcadia/forms/intake.yaml", 8, 19, "expr.unknown-field") in got
    assert ("arcadia/forms/intake.yaml", 10, 24, "expr.unknown-field") in got


def test_a_problem_the_base_causes_points_at_the_base(base: str) -> None:
    # the overlay removes the role the base workflow names: reported where the base names it
    root = overlay(base, {"roles.yaml": "remove_roles: [supervisor]\n"})
    got = findings(root)
    assert ("mini/workflows/case_flow.yaml", 12, 89, "ref.unknown-role") in got
    assert ("mini/workflows/case_flow.yaml", 13, 85, "ref.unknown-role") in got


def test_lookups_replace_extend_and_remove(base: str) -> None:
    root = overlay(
        base,
        {
            "lookups/sex.yaml": """
        id: sex
        add_choices:
          - {value: other, label: Another identity}
        remove_choices: [male]
    """
        },
    )
    result = load_module(root)
    assert result.module is not None, [d.format() for d in result.report.items]
    assert [c.value for c in result.module.lookups["sex"].choices] == ["female", "other"]
    replaced = overlay(
        base,
        {
            "lookups/sex.yaml": """
        id: sex
        choices:
          - {value: f, label: F}
    """
        },
    )
    result = load_module(replaced)
    assert result.module is not None
    assert [c.value for c in result.module.lookups["sex"].choices] == ["f"]


def test_workflow_and_roles_patches(base: str) -> None:
    root = overlay(
        base,
        {
            "workflows/case_flow.yaml": """
            id: case_flow
            remove_transitions: [reject_plan]
            change_transitions:
              close: {roles: [caseworker, supervisor]}
            add_states:
              - {id: archived, label: Archived, final: true}
            add_transitions:
              - {id: archive, label: Archive, from: [closed], to: archived, roles: [supervisor]}
            change_states:
              closed: {final: null}
        """,
            "roles.yaml": """
            change_roles:
              supervisor: {add_permissions: [case.assign, consent_override], label: Team supervisor}
            roles:
              - id: auditor
                label: Auditor
                scope: all
                permissions: [audit.read]
                forms: {read: [], write: []}
                sensitivity: [none]
        """,
        },
    )
    result = load_module(root)
    m = result.module
    assert m is not None, [d.format() for d in result.report.items]
    wf = m.workflows["case_flow"]
    assert "reject_plan" not in wf.transitions and wf.transitions["archive"].to == "archived"
    assert wf.transitions["close"].roles == ("caseworker", "supervisor")
    assert not wf.states["closed"].final
    assert m.roles["supervisor"].can("consent_override") and m.roles["supervisor"].label == "Team supervisor"
    assert "auditor" in m.roles


def test_unknown_targets_are_reported_with_a_suggestion(base: str) -> None:
    root = overlay(
        base,
        {
            "forms/intake.yaml": """
        id: intake
        hide_fields: [caregivr]
        add_fields:
          - before: sexx
            fields: [{id: x, type: text, label: X}]
    """,
            "forms/intak.yaml": """
        id: intak
        hide_fields: [sex]
    """,
        },
    )
    result = load_module(root)
    got = {(os.path.basename(d.file), d.line, d.column, d.code, d.hint) for d in result.report.items}
    assert ("intake.yaml", 2, 15, "overlay.unknown-target", "did you mean 'caregiver'?") in got
    assert ("intake.yaml", 4, 13, "overlay.unknown-target", "did you mean 'sex'?") in got
    assert ("intak.yaml", 1, 5, "overlay.unknown-target", "did you mean 'intake'?") in got


def test_base_scenarios_run_against_the_overlay_unless_replaced(base: str) -> None:
    changes = {"forms/intake.yaml": "id: intake\nchange_fields:\n  sex: {required: false}\n"}
    root = overlay(base, changes)
    failures = [f.format() for sc in collect(root).scenarios for f in sc.run()]
    assert len(failures) == 1 and "expected 'sex' to be required" in failures[0]
    with open(os.path.join(root, "module.yaml"), "a", encoding="utf-8") as fh:
        fh.write("replaces_scenarios:\n  - name: sex is required\n    reason: In Arcadia sex is optional.\n")
    suite = collect(root)
    assert [sc.name for sc in suite.scenarios] == ["a child needs a caregiver"]
    assert not suite.report.items


def test_cycles_and_missing_bases(tmp_path: object, base: str) -> None:
    missing = overlay(base, {"module.yaml": "id: a\ntitle: A\nversion: '1'\nextends: ../nowhere\n"})
    [d] = load_module(missing).report.items
    assert (d.code, d.line, d.column) == ("overlay.base-not-found", 4, 10)
    loop = write(os.path.join(str(tmp_path), "loop"), {"module.yaml": "id: a\ntitle: A\nversion: '1'\nextends: .\n"})
    [d] = load_module(loop).report.items
    assert (d.code, d.line) == ("overlay.cycle", 4)


def test_show_prints_the_merged_module(base: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = overlay(base, {"forms/intake.yaml": "id: intake\nhide_fields: [caregiver]\n"})
    assert main(["show", root, "--kind", "form", "--id", "intake"]) == 0
    out = capsys.readouterr().out
    assert "# form: from " in out and "arcadia/forms/intake.yaml" in out and "mini/forms/intake.yaml" in out
    assert "relevant: 'false'" in out or 'relevant: "false"' in out
