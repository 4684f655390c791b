"""Workflow transitions: from-states, roles, guards, required forms, self-approval."""

from __future__ import annotations

from engine.evaluation import evaluate
from engine.loader import LoadResult
from engine.workflow import check_transitions

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
