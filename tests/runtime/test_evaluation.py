"""Evaluating records: relevance, clearing, required-when-relevant, calculations, errors."""

from __future__ import annotations

from engine.language.loader import LoadResult, load_module
from engine.runtime.evaluation import evaluate
from tests.conftest import MakeModule


def rt(result: LoadResult):  # type: ignore[no-untyped-def]
    assert result.module is not None
    return result.module.record_types["case"]


def test_skip_logic_hides_and_clears_a_child_only_question(mini: LoadResult) -> None:
    child = evaluate(rt(mini), {"dob": "2015-05-01", "caregiver": "Aunt"}, "2026-01-01")
    assert "caregiver" in child.relevant and child.values["caregiver"] == "Aunt"
    adult = evaluate(rt(mini), {"dob": "1990-05-01", "caregiver": "Aunt"}, "2026-01-01")
    assert "caregiver" not in adult.relevant
    assert adult.values["caregiver"] == ""
    assert "caregiver" not in adult.answers()


def test_required_only_when_relevant(mini: LoadResult) -> None:
    child = evaluate(rt(mini), {"dob": "2015-05-01"}, "2026-01-01")
    assert "caregiver" in child.required
    assert any(e.path == "caregiver" and e.code == "required" for e in child.errors)
    adult = evaluate(rt(mini), {"dob": "1990-05-01"}, "2026-01-01")
    assert "caregiver" not in adult.required
    assert not any(e.path == "caregiver" for e in adult.errors)


def test_birthday_boundary_of_the_age_calculation(mini: LoadResult) -> None:
    assert evaluate(rt(mini), {"dob": "2008-11-24"}, "2026-11-23").values["age"] == 17
    assert evaluate(rt(mini), {"dob": "2008-11-24"}, "2026-11-24").values["age"] == 18
    assert evaluate(rt(mini), {}, "2026-11-24").values["age"] == ""


def test_a_form_that_is_not_relevant_clears_all_its_fields(mini: LoadResult) -> None:
    answers = {"consent": "no", "goal": "Safety", "services": [{"service": "Health", "cost": 3}]}
    ev = evaluate(rt(mini), answers, "2026-01-01")
    assert ev.forms_relevant["plan"] is False
    assert ev.values["goal"] == "" and ev.values["services"] == []
    assert ev.errors_for("plan") == []


def test_subform_rows_are_evaluated_and_summed(mini: LoadResult) -> None:
    answers = {
        "consent": "yes",
        "goal": "x",
        "services": [{"service": "A", "cost": 2.5}, {"service": "B", "cost": "4"}],
    }
    ev = evaluate(rt(mini), answers, "2026-01-01")
    assert ev.values["total"] == 6.5
    assert ev.value_at("services[1].cost") == 4
    assert "services[0].service" in ev.required


def test_errors_name_the_row_and_the_rule(mini: LoadResult) -> None:
    answers = {
        "consent": "yes",
        "goal": "x",
        "services": [{"cost": -1}, {"service": "B"}, {"service": "C"}, {"service": "D"}],
    }
    ev = evaluate(rt(mini), answers, "2026-01-01")
    got = {(e.path, e.code) for e in ev.errors}
    assert ("services[0].service", "required") in got
    assert ("services[0].cost", "min") in got
    assert ("services", "max") in got


def test_wrong_kinds_of_answers_are_errors_not_crashes(mini: LoadResult) -> None:
    ev = evaluate(rt(mini), {"dob": "31/12/2020", "sex": "alien", "consent": True, "services": "x"}, "2026-01-01")
    got = {(e.path, e.code) for e in ev.errors}
    assert ("dob", "type") in got
    assert ("sex", "choice") in got
    assert ("consent", "type") in got
    assert ev.values["dob"] == "" and ev.values["age"] == ""


def test_calculations_run_in_dependency_order_whatever_the_document_order(make_module: MakeModule) -> None:
    form = """
        id: intake
        title: Intake
        record_type: case
        fields:
          - {id: doubled, type: calculate, label: D, calculate: "${base} * 2"}
          - {id: base, type: calculate, label: B, calculate: "${n} + 1"}
          - {id: n, type: integer, label: N}
          - {id: sex, type: text, label: S}
          - {id: consent, type: yes_no, label: C}
    """
    result = load_module(
        make_module(
            {
                "forms/intake.yaml": form,
                "forms/plan.yaml": None,
                "module.yaml": """
        id: mini
        title: Mini
        version: '1'
        default_locale: en
        locales: [en]
        record_types:
          case: {title: Case, forms: [intake]}
    """,
                "workflows/case_flow.yaml": None,
            }
        )
    )
    assert result.module is not None, [d.format() for d in result.report.items]
    ev = evaluate(result.module.record_types["case"], {"n": 4}, "2026-01-01")
    assert ev.values["doubled"] == 10


def test_constraint_uses_dot_and_is_skipped_when_unanswered(make_module: MakeModule) -> None:
    form = """
        id: intake
        title: Intake
        record_type: case
        fields:
          - {id: code, type: text, label: Code, constraint: "regex(., '^[A-Z]{3}-[0-9]{4}$')",
             constraint_message: Use the form ABC-1234.}
          - {id: sex, type: text, label: S}
          - {id: consent, type: yes_no, label: C}
          - {id: dob, type: date, label: D}
          - {id: age, type: calculate, label: A, calculate: "age(${dob})"}
    """
    result = load_module(make_module({"forms/intake.yaml": form}))
    assert result.module is not None, [d.format() for d in result.report.items]
    case = result.module.record_types["case"]
    bad = evaluate(case, {"code": "abc"}, "2026-01-01")
    assert [(e.path, e.message) for e in bad.errors_for("intake")] == [("code", "Use the form ABC-1234.")]
    assert evaluate(case, {"code": "ABC-1234"}, "2026-01-01").errors_for("intake") == []
    assert evaluate(case, {}, "2026-01-01").errors_for("intake") == []


def test_choice_filter_limits_the_accepted_answers(make_module: MakeModule) -> None:
    form = """
        id: intake
        title: Intake
        record_type: case
        fields:
          - {id: region, type: select_one, label: Region, choices: [{value: north, label: North}, {value: south, label: South}]}
          - id: district
            type: select_one
            label: District
            choices: [{value: n1, label: N1, region: north}, {value: s1, label: S1, region: south}]
            choice_filter: region = ${region}
          - {id: sex, type: text, label: S}
          - {id: consent, type: yes_no, label: C}
          - {id: dob, type: date, label: D}
          - {id: age, type: calculate, label: A, calculate: "age(${dob})"}
    """
    result = load_module(make_module({"forms/intake.yaml": form}))
    assert result.module is not None, [d.format() for d in result.report.items]
    case = result.module.record_types["case"]
    assert evaluate(case, {"region": "north", "district": "n1"}).errors_for("intake") == []
    wrong = evaluate(case, {"region": "north", "district": "s1"}).errors_for("intake")
    assert [(e.path, e.code) for e in wrong] == [("district", "choice")]


def test_a_constraint_on_a_subform_is_checked_against_its_rows(make_module: MakeModule) -> None:
    from tests.conftest import BASE_FILES

    plan = BASE_FILES["forms/plan.yaml"].replace(
        "            max: 3\n",
        "            max: 3\n            constraint: count(.) <= 2\n            constraint_message: At most two services here.\n",
    )
    result = load_module(make_module({"forms/plan.yaml": plan}))
    assert result.module is not None, [d.format() for d in result.report.items]
    case = result.module.record_types["case"]
    rows = [{"service": "A"}, {"service": "B"}, {"service": "C"}]
    ev = evaluate(case, {"consent": "yes", "goal": "x", "services": rows}, "2026-01-01")
    assert [(e.path, e.message) for e in ev.errors_for("plan")] == [("services", "At most two services here.")]
    ev = evaluate(case, {"consent": "yes", "goal": "x", "services": rows[:2]}, "2026-01-01")
    assert ev.errors_for("plan") == []


def test_scenarios_can_check_the_no_self_approval_rule(make_module: MakeModule) -> None:
    from engine.runtime.scenarios import collect

    root = make_module(
        {
            "tests/approvals.yaml": """
        record_type: case
        scenarios:
          - name: a supervisor cannot approve a plan they requested
            role: supervisor
            stage: plan_requested
            requested_by_me: true
            given: {}
            expect: {transitions_denied: [approve_plan]}
          - name: a lead may approve their own request
            role: lead
            stage: plan_requested
            requested_by_me: true
            given: {}
            expect: {transitions_allowed: [approve_plan, reject_plan]}
    """
        }
    )
    suite = collect(root)
    assert not suite.report.items and len(suite.scenarios) == 2
    assert [f.format() for sc in suite.scenarios for f in sc.run()] == []


def test_arabic_indic_digits_are_read_as_numbers_and_dates(mini: LoadResult) -> None:
    ev = evaluate(
        rt(mini),
        {"dob": "٢٠١٥-٠٥-٠١", "consent": "yes", "goal": "x", "services": [{"service": "A", "cost": "٣"}]},
        "2026-01-01",
    )
    assert ev.values["dob"] == "2015-05-01" and ev.values["age"] == 10
    assert ev.value_at("services[0].cost") == 3
