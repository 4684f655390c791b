"""Which workflow transitions a role may take now, and if not, why (in a caseworker's words)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.expressions.compiler import Env
from engine.i18n import _, current
from engine.language.model import Role, Transition, Workflow
from engine.runtime.evaluation import Evaluation

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
        label = state_label(wf, stage)
        reasons.append(_("This step is not available at the stage '%(stage)s'.", stage=label))
    if role is None or role.id not in t.roles:
        reasons.append(_("Your role (%(role)s) cannot take this step.", role=role.label if role else "—"))
    elif t.approval and requested_by_user and not role.can("self_approve"):
        reasons.append(_("You made this request; another approver must decide on it."))
    for form_id in t.requires_forms:
        if not ev.forms_relevant.get(form_id, True):
            continue
        form = ev.record_type.forms.get(form_id)
        title = current().text(f"forms/{form_id}/title", form.title)[0] if form else form_id
        errors = ev.errors_for(form_id)
        missing = sum(1 for e in errors if e.code == "required")
        if missing:
            reasons.append(
                current().ngettext(
                    "Complete the form '%(form)s' first: %(num)s required answer is missing.",
                    "Complete the form '%(form)s' first: %(num)s required answers are missing.",
                    missing,
                    form=title,
                )
            )
        elif errors:
            reasons.append(_("Correct the answers marked as errors in the form '%(form)s' first.", form=title))
    env = Env(ev.values, (), today or ev.today)
    for guard in t.guards:
        if guard.when.holds(env):
            continue
        message = current().text(guard.path, guard.message)[0] if guard.message else _(DEFAULT_GUARD_MESSAGE)
        if guard.override is not None and role is not None and role.can(guard.override):
            if override_reason and override_reason.strip():
                overridden.append(message)
            else:
                needs_reason.append(message)
        else:
            reasons.append(message)
    return TransitionCheck(t, tuple(reasons), tuple(needs_reason), tuple(overridden))


def offered(wf: Workflow, stage: str, role: Role) -> list[Transition]:
    """The transitions open from `stage` to `role`: those a record's page offers (each then checked,
    `check_transition`, for what else may block it)."""
    return [t for t in wf.transitions.values() if stage in t.from_states and role.id in t.roles]


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


def state_label(wf: Workflow, stage: str) -> str:
    """A stage's label in the current language."""
    state = wf.states.get(stage)
    return current().text(f"workflows/{wf.id}/states/{stage}/label", state.label)[0] if state else stage


def transition_label(wf: Workflow, t: Transition) -> str:
    return current().text(f"workflows/{wf.id}/transitions/{t.id}/label", t.label)[0]


def locked_forms(wf: Workflow | None, stage: str | None, form_ids: tuple[str, ...] | list[str]) -> frozenset[str]:
    """The forms among `form_ids` nobody may change while a record is at `stage` (`locked_forms`)."""
    state = wf.states.get(stage) if wf is not None and stage is not None else None
    if state is None or not state.locked_forms:
        return frozenset()
    return frozenset(fid for fid in form_ids if state.locks(fid))


def lock_message(wf: Workflow, stage: str) -> str:
    """Why a form is read-only at this stage, in the reader's language."""
    return _(
        "This form cannot be changed while the record is at the stage '%(stage)s'. It opens again "
        "when the record moves on.",
        stage=state_label(wf, stage),
    )


def works_offline(t: Transition) -> bool:
    """Can a device queue this step offline and send it later? Not a decision on a request (another
    person's judgement on the record as it is when they decide), not a referral (it shares the
    record with someone): those are taken online."""
    return not t.referral and not t.approval
