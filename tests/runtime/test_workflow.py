"""Workflow transitions: from-states, roles, guards, required forms, self-approval."""

from __future__ import annotations

from engine.language.loader import LoadResult
from engine.runtime.evaluation import evaluate
from engine.runtime.workflow import check_transitions

COMPLETE = {"sex": "female", "consent": "yes", "dob": "1990-01-01", "goal": "Safety"}


def allowed(
    mini: LoadResult, role: str, stage: str, answers: dict[str, object], **kw: bool
) -> dict[str, tuple[str, ...]]:
    m = mini.module
    assert m is not None
    wf = m.workflows["case_flow"]
    ev = evaluate(m.record_types["case"], answers, "2026-01-01")
    return {c.transition.id: c.reasons for c in check_transitions(wf, ev, m.roles[role], stage, **kw)}


def test_request_needs_complete_forms(mini: LoadResult) -> None:
    ok = allowed(mini, "caseworker", "open", COMPLETE)
    assert ok["request_plan"] == ()
    missing = allowed(mini, "caseworker", "open", {**COMPLETE, "goal": ""})
    assert missing["request_plan"] == ("Complete the form 'Plan' first: 1 required answer is missing.",)


def test_only_listed_roles_and_from_states(mini: LoadResult) -> None:
    reasons = allowed(mini, "supervisor", "open", COMPLETE)["request_plan"]
    assert reasons == ("Your role (Supervisor) cannot take this step.",)
    reasons = allowed(mini, "caseworker", "active", COMPLETE)["request_plan"]
    assert reasons == ("This step is not available at the stage 'Active'.",)


def test_guard_failure_gives_the_written_reason(mini: LoadResult) -> None:
    assert allowed(mini, "caseworker", "active", COMPLETE)["close"] == ()
    assert allowed(mini, "caseworker", "active", {**COMPLETE, "consent": "no"})["close"] == ("Consent is missing.",)


def test_no_self_approval_without_the_permission(mini: LoadResult) -> None:
    own = allowed(mini, "supervisor", "plan_requested", COMPLETE, requested_by_user=True)
    assert own["approve_plan"] == ("You made this request; another approver must decide on it.",)
    assert allowed(mini, "supervisor", "plan_requested", COMPLETE)["approve_plan"] == ()
    assert allowed(mini, "lead", "plan_requested", COMPLETE, requested_by_user=True)["approve_plan"] == ()


def test_a_guard_with_override_needs_a_reason_from_a_role_that_may_override(make_module) -> None:  # type: ignore[no-untyped-def]
    from engine.language.loader import load_module
    from engine.runtime.workflow import check_transition
    from tests.conftest import BASE_FILES

    workflow = (
        BASE_FILES["workflows/case_flow.yaml"]
        + """
          - id: refer
            label: Refer for health care
            from: [open, active]
            roles: [caseworker, lead]
            guards:
              - when: "${consent} = 'yes'"
                message: The survivor has not agreed to this referral.
                override: consent_override
    """
    )
    roles = BASE_FILES["roles.yaml"].replace(
        "permissions: [case.read, self_approve]", "permissions: [case.read, self_approve, consent_override]"
    )
    result = load_module(make_module({"workflows/case_flow.yaml": workflow, "roles.yaml": roles}))
    m = result.module
    assert m is not None, [d.format() for d in result.report.items]
    wf, case = m.workflows["case_flow"], m.record_types["case"]
    refer = wf.transitions["refer"]
    assert refer.to is None  # an action: the case stays at its stage
    no_consent = evaluate(case, {**COMPLETE, "consent": "no"}, "2026-01-01")
    worker = check_transition(wf, refer, no_consent, m.roles["caseworker"], "active")
    assert worker.reasons == ("The survivor has not agreed to this referral.",) and not worker.can_override
    lead = check_transition(wf, refer, no_consent, m.roles["lead"], "active")
    assert not lead.allowed and lead.can_override
    assert lead.needs_reason == ("The survivor has not agreed to this referral.",)
    with_reason = check_transition(wf, refer, no_consent, m.roles["lead"], "active", override_reason="Imminent risk")
    assert with_reason.allowed and with_reason.overridden == ("The survivor has not agreed to this referral.",)
    blank = check_transition(wf, refer, no_consent, m.roles["lead"], "active", override_reason="   ")
    assert not blank.allowed
    consent = evaluate(case, COMPLETE, "2026-01-01")
    assert check_transition(wf, refer, consent, m.roles["caseworker"], "active").allowed
