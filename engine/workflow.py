"""Which workflow transitions a role may take now, and if not, why (in a caseworker's words)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.evaluation import Evaluation
from engine.expression import Env
from engine.model import Role, Transition, Workflow


@dataclass(frozen=True)
class TransitionCheck:
    transition: Transition
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        return not self.reasons


def check_transition(
    wf: Workflow,
    t: Transition,
    ev: Evaluation,
    role: Role | None,
    stage: str,
    *,
    requested_by_user: bool = False,
    today: str | None = None,
) -> TransitionCheck:
    reasons: list[str] = []
    if stage not in t.from_states:
        label = wf.states[stage].label if stage in wf.states else stage
        reasons.append(f"This step is not available at the stage '{label}'.")
    if role is None or role.id not in t.roles:
        reasons.append(f"Your role ({role.label if role else 'none'}) cannot take this step.")
    elif t.approval and requested_by_user and not role.can("self_approve"):
        reasons.append("You made this request; another approver must decide on it.")
    for form_id in t.requires_forms:
        if not ev.forms_relevant.get(form_id, True):
            continue
        form = ev.record_type.forms.get(form_id)
        title = form.title if form else form_id
        errors = ev.errors_for(form_id)
        missing = sum(1 for e in errors if e.code == "required")
        if missing:
            reasons.append(
                f"Complete the form '{title}' first: {missing} required "
                f"answer{'s are' if missing != 1 else ' is'} missing."
            )
        elif errors:
            reasons.append(f"Correct the answers marked as errors in the form '{title}' first.")
    if t.when is not None and not t.when.holds(Env(ev.values, (), today or ev.today)):
        reasons.append(t.when_message or "The conditions for this step are not met yet.")
    return TransitionCheck(t, tuple(reasons))


def check_transitions(
    wf: Workflow,
    ev: Evaluation,
    role: Role | None,
    stage: str,
    *,
    requested_by_user: bool = False,
    today: str | None = None,
) -> list[TransitionCheck]:
    """Every transition of `wf`, each with the reasons it is unavailable (none if allowed)."""
    return [
        check_transition(wf, t, ev, role, stage, requested_by_user=requested_by_user, today=today)
        for t in wf.transitions.values()
    ]
