"""The access policy: one object answers every "may this user see or do this" question.

Deny by default. The pages, the JSON API and the exports all ask it; nothing else decides. It is
pure (no database): callers describe the user (`Actor`) and the record's ownership (`Holding`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.language.model import Field, FieldScope, Module, RecordType, Role


@dataclass(frozen=True)
class Actor:
    """The signed-in user, as the policy sees them."""

    user_id: int
    username: str
    role: Role
    agency_id: int | None = None
    group_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Holding:
    """Who holds a record: its owner, agency, group, assignees and referrals."""

    owner_id: int
    agency_id: int | None = None
    group_id: int | None = None
    assignee_ids: frozenset[int] = frozenset()
    #: user id -> forms shared with them, for referrals that are pending or accepted
    referrals: dict[int, frozenset[str]] = field(default_factory=dict)
    #: agency id -> forms shared, for referrals to an agency that nobody there has accepted yet
    agency_referrals: dict[int, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Reach:
    """Which records a user reaches, as plain data: the one scope rule.

    The policy derives it from the user's role, agency and groups; `storage.scope` turns it into the
    SQL condition of every list, count and search; `relation` answers the same question for one
    record. Nothing else decides which records a user may reach."""

    user_id: int
    #: the role's scope is `all`: every record of the module
    everything: bool = False
    #: records of these groups (roles scoped to a group or wider)
    group_ids: frozenset[int] = frozenset()
    #: records of this agency (roles scoped to the agency or wider)
    agency_id: int | None = None
    #: referrals to this agency that nobody there has accepted yet (its agency-wide users decide)
    agency_inbox: int | None = None

    def relation(self, holding: Holding) -> str | None:
        """How the user reaches one record: 'own' (owner or assignee), 'group', 'agency', 'all',
        'referral', or None (out of reach: the record is reported as not found)."""
        if holding.owner_id == self.user_id or self.user_id in holding.assignee_ids:
            return "own"
        if holding.group_id is not None and holding.group_id in self.group_ids:
            return "group"
        if self.agency_id is not None and holding.agency_id == self.agency_id:
            return "agency"
        if self.everything:
            return "all"
        if self.user_id in holding.referrals:
            return "referral"
        if self.agency_inbox is not None and self.agency_inbox in holding.agency_referrals:
            return "referral"
        return None


class Policy:
    def __init__(self, module: Module) -> None:
        self.module = module

    # -- record types and scope --------------------------------------------------------------
    def may(self, actor: Actor, permission: str) -> bool:
        return actor.role.can(permission)

    def may_on_type(self, actor: Actor, record_type: str, action: str) -> bool:
        return (
            record_type in self.module.record_types
            and not actor.role.aggregate_only
            and actor.role.can(f"{record_type}.{action}")
        )

    def reach(self, actor: Actor) -> Reach:
        """Which records the actor reaches, as data (the one scope rule: see `Reach`)."""
        scope = actor.role.scope
        wide = scope in ("agency", "all")
        return Reach(
            user_id=actor.user_id,
            everything=scope == "all",
            group_ids=actor.group_ids if scope in ("group", "agency", "all") else frozenset(),
            agency_id=actor.agency_id if wide else None,
            agency_inbox=actor.agency_id if wide else None,
        )

    def relation(self, actor: Actor, holding: Holding) -> str | None:
        """How the actor reaches the record: 'own', 'group', 'agency', 'all', 'referral' or None."""
        return self.reach(actor).relation(holding)

    def can_read(self, actor: Actor, record_type: str, holding: Holding) -> bool:
        return self.may_on_type(actor, record_type, "read") and self.relation(actor, holding) is not None

    def can_write(self, actor: Actor, record_type: str, holding: Holding) -> bool:
        return self.may_on_type(actor, record_type, "write") and self.relation(actor, holding) is not None

    def can_create(self, actor: Actor, record_type: str) -> bool:
        return self.may_on_type(actor, record_type, "create")

    # -- forms and fields --------------------------------------------------------------------
    def _forms(self, actor: Actor, rt: RecordType, holding: Holding, mode: str) -> frozenset[str]:
        role = actor.role
        if role.aggregate_only:
            return frozenset()
        allowed = role.may_read_form if mode == "read" else role.may_write_form
        forms = frozenset(f for f in rt.form_ids if allowed(f))
        if self.relation(actor, holding) == "referral":
            shared = holding.referrals.get(actor.user_id) or holding.agency_referrals.get(actor.agency_id or -1)
            forms &= shared or frozenset()
        return forms

    def readable_forms(self, actor: Actor, record_type: str, holding: Holding) -> frozenset[str]:
        if not self.can_read(actor, record_type, holding):
            return frozenset()
        return self._forms(actor, self.module.record_types[record_type], holding, "read")

    def writable_forms(self, actor: Actor, record_type: str, holding: Holding) -> frozenset[str]:
        if not self.can_write(actor, record_type, holding):
            return frozenset()
        return self._forms(actor, self.module.record_types[record_type], holding, "write")

    def sees(self, actor: Actor, f: Field) -> bool:
        return f.sensitivity in actor.role.sensitivity

    def visible_fields(self, actor: Actor, record_type: str, holding: Holding) -> frozenset[str]:
        """Ids of every field (at any depth) the actor may see on this record."""
        rt = self.module.record_types[record_type]
        forms = self.readable_forms(actor, record_type, holding)
        return frozenset(
            fid
            for fid, f in rt.all_fields.items()
            if f.form_id in forms and self.sees(actor, f) and _chain_visible(self, actor, f)
        )

    def writable_fields(self, actor: Actor, record_type: str, holding: Holding) -> frozenset[str]:
        rt = self.module.record_types[record_type]
        forms = self.writable_forms(actor, record_type, holding)
        return frozenset(
            fid
            for fid, f in rt.all_fields.items()
            if f.form_id in forms
            and self.sees(actor, f)
            and not f.read_only
            and f.type not in ("calculate", "note")
            and _chain_visible(self, actor, f)
        )

    def filter_data(self, actor: Actor, record_type: str, holding: Holding, data: dict[str, Any]) -> dict[str, Any]:
        """The answers with every field the actor may not see removed (at every depth)."""
        visible = self.visible_fields(actor, record_type, holding)
        return _filter(self.module.record_types[record_type].scope, data, visible)

    def filter_changes(
        self, actor: Actor, record_type: str, holding: Holding, changes: Iterable[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """History entries ({field, old, new}) of fields the actor may see; subform values filtered."""
        rt = self.module.record_types[record_type]
        visible = self.visible_fields(actor, record_type, holding)
        out = []
        for ch in changes:
            if ch.get("field") == "(stage)":  # a workflow step: no answer is disclosed
                out.append(ch)
                continue
            f = rt.all_fields.get(ch.get("field", ""))
            if f is None or f.id not in visible:
                continue
            if f.subform is not None:
                ch = {
                    **ch,
                    "old": _filter_rows(f.subform, ch.get("old"), visible),
                    "new": _filter_rows(f.subform, ch.get("new"), visible),
                }
            out.append(ch)
        return out

    # -- people ------------------------------------------------------------------------------
    def can_assign_to(self, actor: Actor, record_type: str, holding: Holding, target: Actor) -> bool:
        """Assign to a colleague within the assigner's own scope who may work on this record type."""
        if not (self.may_on_type(actor, record_type, "assign") and self.can_read(actor, record_type, holding)):
            return False
        if not self.may_on_type(target, record_type, "read") or target.user_id == actor.user_id:
            return False
        scope = actor.role.scope
        if scope == "all":
            return True
        if scope == "agency":
            return target.agency_id is not None and target.agency_id == actor.agency_id
        if scope == "group":
            return bool(target.group_ids & actor.group_ids)
        return False


def _chain_visible(policy: Policy, actor: Actor, f: Field) -> bool:
    """A field inside a subform is visible only if the subforms around it are."""
    owner = f.scope.owner
    while owner is not None:
        if not policy.sees(actor, owner):
            return False
        owner = owner.scope.owner
    return True


def _filter(scope: FieldScope, data: dict[str, Any], visible: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        f = scope.fields.get(key)
        if f is None or key not in visible:
            continue
        out[key] = _filter_rows(f.subform, value, visible) if f.subform is not None else value
    return out


def _filter_rows(scope: FieldScope | None, rows: Any, visible: frozenset[str]) -> Any:
    if scope is None or not isinstance(rows, list):
        return rows
    return [_filter(scope, r, visible) if isinstance(r, dict) else r for r in rows]
