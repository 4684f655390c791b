"""Sections of forms and the workflow keys of issue 11 (locked_forms, decision, comment, confirm):
how they are read, checked and evaluated, translated and overlaid."""

from __future__ import annotations

import os
import textwrap

from engine.i18n.catalogs import module_target
from engine.language.loader import load_module
from engine.language.model import Section
from engine.runtime.evaluation import evaluate
from renderers.json.form import form_to_json
from tests.conftest import ROOT, MakeModule, codes

INTAKE = """
    id: intake
    title: Intake
    record_type: case
    fields:
      - {id: sex, type: select_one, label: Sex, choices: sex, required: true}
      - {id: consent, type: yes_no, label: Consent, required: true}
      - id: household
        type: section
        label: The household
        hint: Asked once the person agrees.
        relevant: ${consent} = 'yes'
        fields:
          - {id: household_size, type: integer, label: People in the household, required: true}
          - id: children
            type: section
            label: Children
            relevant: ${household_size} > 1
            fields:
              - {id: children_count, type: integer, label: Children in the household, relevant: "${sex} = 'female'"}
      - {id: notes, type: textarea, label: Notes}
"""


def test_a_section_is_a_heading_its_questions_stay_fields_of_the_record(make_module: MakeModule) -> None:
    m = load_module(make_module({"forms/intake.yaml": INTAKE})).module
    assert m is not None
    form = m.forms["intake"]
    assert [f.id for f in form.fields] == ["sex", "consent", "household_size", "children_count", "notes"]
    household = form.layout[2]
    assert isinstance(household, Section) and household.id == "household"
    inner = household.items[1]
    assert isinstance(inner, Section) and inner.parent is household
    assert [s.id for s in form.sections()] == ["household", "children"]
    assert m.record_types["case"].all_fields["children_count"].section is inner


def test_a_sections_condition_applies_to_every_question_in_it(make_module: MakeModule) -> None:
    m = load_module(make_module({"forms/intake.yaml": INTAKE})).module
    assert m is not None
    rt = m.record_types["case"]
    ev = evaluate(rt, {"sex": "female", "consent": "no", "household_size": 4, "children_count": 2})
    assert "household_size" not in ev.relevant and "children_count" not in ev.relevant
    assert ev.values["household_size"] == "" and "household_size" not in ev.answers()  # cleared, not kept
    assert "household_size" not in ev.required
    ev = evaluate(rt, {"sex": "female", "consent": "yes", "household_size": 1, "children_count": 2})
    assert "household_size" in ev.required and "children_count" not in ev.relevant  # the inner section's rule
    ev = evaluate(rt, {"sex": "male", "consent": "yes", "household_size": 3})
    assert "children_count" not in ev.relevant  # the field's own rule still applies
    ev = evaluate(rt, {"sex": "female", "consent": "yes", "household_size": 3, "children_count": 2})
    assert {"household_size", "children_count"} <= ev.relevant and not ev.errors_for("intake")


def test_sections_reach_the_browser_and_the_api_as_a_layout(make_module: MakeModule) -> None:
    m = load_module(make_module({"forms/intake.yaml": INTAKE})).module
    assert m is not None
    out = form_to_json(m, m.forms["intake"])
    household = out["layout"][2]
    assert household["section"] == "household" and household["label"] == "The household"
    assert household["relevant"]["op"] == "cmp" and household["hint"] == "Asked once the person agrees."
    assert household["items"][0] == {"field": "household_size"}
    assert household["items"][1]["section"] == "children"
    fields = {f["id"]: f for f in out["fields"]}
    assert fields["children_count"]["section"] == "children"
    # a field inside gets the sections' conditions in its own relevant, for the browser's evaluator
    assert "household_size" in str(fields["children_count"]["relevant"]) and "consent" in str(
        fields["children_count"]["relevant"]
    )
    hidden = form_to_json(m, m.forms["intake"], visible=lambda f: f.id not in ("household_size", "children_count"))
    assert [i.get("field") or i.get("section") for i in hidden["layout"]] == ["sex", "consent", "notes"]


def test_section_mistakes_are_reported(make_module: MakeModule) -> None:
    dup = INTAKE.replace("id: notes, type: textarea", "id: household, type: textarea")
    assert "ref.duplicate-id" in codes(load_module(make_module({"forms/intake.yaml": dup})))
    extra = INTAKE.replace("        label: The household\n", "        label: The household\n        required: true\n")
    assert "field.key-not-allowed" in codes(load_module(make_module({"forms/intake.yaml": extra})))
    bad = INTAKE.replace("relevant: ${household_size} > 1", "relevant: ${houshold_size} > 1")
    result = load_module(make_module({"forms/intake.yaml": bad}))
    assert "expr.unknown-field" in codes(result)


def test_section_headings_are_translated_and_fields_keep_their_paths() -> None:
    target = module_target(os.path.join(ROOT, "definitions", "gbv"))
    contexts = {m.context for m in target.template if m.id}
    assert "gbv:forms/survivor_information/sections/section_child/label" in contexts
    assert "gbv:forms/survivor_information/sections/section_child/hint" in contexts
    # a field moved into a section keeps the path (and the translations) it had
    assert "gbv:forms/survivor_information/fields/lives_alone/label" in contexts
    assert not any("/sections/" in c and "/fields/" in c for c in contexts)


def test_an_overlay_adds_into_a_section_and_hides_one(make_module: MakeModule) -> None:
    base = make_module({"forms/intake.yaml": INTAKE})
    root = os.path.join(os.path.dirname(base), "arcadia")
    files = {
        "module.yaml": f"id: arcadia\ntitle: Arcadia\nversion: '1-a'\nextends: ../{os.path.basename(base)}\n",
        "forms/intake.yaml": """
            id: intake
            add_fields:
              - in: household
                fields:
                  - {id: shelter, type: yes_no, label: Living in a shelter}
            hide_fields: [children]
        """,
    }
    for name, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
        with open(os.path.join(root, name), "w", encoding="utf-8") as fh:
            fh.write(textwrap.dedent(text).lstrip("\n"))
    result = load_module(root)
    m = result.module
    assert m is not None, [d.format() for d in result.report.items]
    household = m.forms["intake"].layout[2]
    assert isinstance(household, Section) and [getattr(i, "id", None) for i in household.items][-1] == "shelter"
    ev = evaluate(m.record_types["case"], {"sex": "female", "consent": "yes", "household_size": 3})
    assert "children_count" not in ev.relevant and "shelter" in ev.relevant


WORKFLOW = """
    id: case_flow
    record_type: case
    initial: open
    states:
      - {id: open, label: Open}
      - {id: plan_requested, label: Plan approval requested, locked_forms: [plan, plna]}
      - {id: active, label: Active, locked_forms: ['*']}
      - {id: closed, label: Closed, final: true}
    transitions:
      - {id: request_plan, label: Request plan approval, from: [open], to: plan_requested, roles: [caseworker]}
      - {id: approve_plan, label: Approve plan, from: [plan_requested], to: active, roles: [supervisor]}
      - {id: reject_plan, label: Reject plan, from: [plan_requested], to: open, roles: [supervisor],
         comment: required}
      - {id: close, label: Close, from: [active], to: closed, roles: [caseworker]}
      - {id: close_quietly, label: Close now, from: [active], to: closed, roles: [caseworker], confirm: false}
"""


def test_workflow_keys_for_the_conversation(make_module: MakeModule) -> None:
    result = load_module(make_module({"workflows/case_flow.yaml": WORKFLOW}))
    unknown = [d for d in result.report.items if d.code == "ref.unknown-form"]
    assert len(unknown) == 1 and "plna" in unknown[0].message and unknown[0].line == 6
    ok = load_module(make_module({"workflows/case_flow.yaml": WORKFLOW.replace(", plna]", "]")}))
    m = ok.module
    assert m is not None, [d.format() for d in ok.report.items]
    wf = m.workflows["case_flow"]
    assert wf.states["plan_requested"].locks("plan") and not wf.states["plan_requested"].locks("intake")
    assert wf.states["active"].locks("intake")  # '*'
    t = wf.transitions
    assert (t["approve_plan"].decision, t["reject_plan"].decision) == ("approve", "return")  # implied
    assert t["request_plan"].decision is None and t["reject_plan"].comment == "required"
    assert t["approve_plan"].comment == "optional"
    assert t["close"].confirm and not t["close_quietly"].confirm and not t["approve_plan"].confirm


def test_every_send_back_of_the_gbv_module_needs_a_reason() -> None:
    """A supervisor who sends a case or an incident back says why; the caseworker who takes their
    own complete incident back to draft needs no comment (issue 11, item 2)."""
    m = load_module(os.path.join(ROOT, "definitions", "gbv")).module
    assert m is not None
    returns = [(wf.id, t) for wf in m.workflows.values() for t in wf.transitions.values() if t.decision == "return"]
    assert returns and all(t.comment == "required" for _, t in returns), [
        (w, t.id) for w, t in returns if t.comment != "required"
    ]
    incident = m.workflows["incident_workflow"].transitions
    send_back, reopen = incident["send_back_for_corrections"], incident["reopen_for_corrections"]
    assert send_back.roles == ("supervisor",) and send_back.from_states == reopen.from_states
    assert reopen.roles == ("caseworker",) and reopen.decision is None and reopen.comment == "optional"
