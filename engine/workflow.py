"""Which workflow transitions a role may take now, and if not, why (in a caseworker's words)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.evaluation import Evaluation
from engine.expression import Env
from engine.model import Role, Transition, Workflow

DEFAULT_GUARD_MESSAGE = "The conditions for this step are not met yet."


@dataclass(frozen=True)
class TransitionCheck:
    """The verdict on one transition for one user at one moment."""

    transition: Transition
    reasons: tuple[str, ...] = ()  # what blocks it
    needs_reason: tuple[str, ...] = ()  # failed guards this user may override by writing a reason
    overridden: tuple[str, ...] = ()  # failed guards overridden with the reason given

    @property
    def allowed(self) -> bool:
        return not self.reasons and not self.needs_reason

    @property
    def can_override(self) -> bool:
        """Allowed once the user writes a reason for overriding (e.g. consent_override)."""
        return not self.reasons and bool(self.needs_reason)


def check_transition(
    wf: Workflow,
    t: Transition,
    ev: Evaluation,
    role: Role | None,
    stage: str,
    *,
    requested_by_user: bool = False,
    today: str | None = None,
    override_reason: str | None = None,
) -> TransitionCheck:
    reasons: list[str] = []
    needs_reason: list[str] = []
    overridden: list[str] = []
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
    env = Env(ev.values, (), today or ev.today)
    for guard in t.guards:
        if guard.when.holds(env):
            continue
        message = guard.message or DEFAULT_GUARD_MESSAGE
        if guard.override is not None and role is not None and role.can(guard.override):
            if override_reason and override_reason.strip():
                overridden.append(message)
            else:
                needs_reason.append(message)
        else:
            reasons.append(message)
    return TransitionCheck(t, tuple(reasons), tuple(needs_reason), tuple(overridden))


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
