"""The access policy: one object answers every "may this user see or do this" question.

Deny by default. The pages, the JSON API and the exports all ask it; nothing else decides. It is
pure (no database): callers describe the user (`Actor`) and the record's ownership (`Holding`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from engine.language.answers import ROW_ID
from engine.language.model import Field, FieldScope, Module, Role


@dataclass(frozen=True)
class Actor:
    """The signed-in user, as the policy sees them."""

    user_id: int
    username: str
    role: Role
    agency_id: int | None = None
    group_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Grant:
    """What a referral shares with its recipient: the forms they may read, and of those the ones the
    referral lets them write (none by default)."""

    forms: frozenset[str]
    write_forms: frozenset[str] = frozenset()

    def __or__(self, other: Grant) -> Grant:
        return Grant(self.forms | other.forms, self.write_forms | other.write_forms)


@dataclass(frozen=True)
class Holding:
    """Who holds a record: its owner, agency, group, assignees and open referrals."""

    owner_id: int
    agency_id: int | None = None
    group_id: int | None = None
    #: users with an active assignment (it counts only for users of the record's agency)
    assignee_ids: frozenset[int] = frozenset()
    #: user id -> what is shared with them, for referrals to them that are pending or accepted
    referrals: Mapping[int, Grant] = field(default_factory=dict)
    #: agency id -> what is shared, for referrals to an agency that nobody there has accepted yet
    agency_referrals: Mapping[int, Grant] = field(default_factory=dict)
    #: users with a live emergency grant (break the glass: not expired, not ended)
    emergency: frozenset[int] = frozenset()


#: every relation a user may have to a record, strongest first; each fixes a set of capabilities
RELATIONS = ("owner", "assignee", "group", "agency", "all", "referral", "emergency")
#: relations of the agency that holds the record (not a referral recipient, not an emergency reader)
HOLDING_RELATIONS = frozenset(RELATIONS[:5])


@dataclass(frozen=True)
class Reach:
    """Which records a user reaches, as plain data: the one scope rule.

    The policy derives it from the user's role, agency and groups; `storage.scope` turns it into the
    SQL condition of every list, count and search; `relation` answers the same question for one
    record. Nothing else decides which records a user may reach."""

    user_id: int
    #: the user's agency: assignments and group and agency scope count only inside it
    agency_id: int | None = None
    #: records of these groups of the user's agency (roles scoped to a group or wider)
    group_ids: frozenset[int] = frozenset()
    #: every record of the user's agency (roles scoped to the agency or wider)
    agency_wide: bool = False
    #: every record of the module (roles scoped to all)
    everything: bool = False
    #: pending referrals to this agency (its agency-wide users who may read the record decide)
    agency_inbox: int | None = None
    #: break the glass: records of the user's agency they hold a live emergency grant on (roles
    #: with `emergency_access`), read-only
    emergency: bool = False

    def relation(self, holding: Holding) -> str | None:
        """How the user reaches one record (one of RELATIONS), or None: out of reach, reported as
        not found. The same clauses, in the same order, as `storage.scope.records_in_reach`."""
        mine = self.agency_id is not None and holding.agency_id == self.agency_id
        if holding.owner_id == self.user_id:
            return "owner"
        if self.user_id in holding.assignee_ids and mine:
            return "assignee"
        if holding.group_id is not None and holding.group_id in self.group_ids and mine:
            return "group"
        if self.agency_wide and mine:
            return "agency"
        if self.everything:
            return "all"
        if self.user_id in holding.referrals:
            return "referral"
        if self.agency_inbox is not None and self.agency_inbox in holding.agency_referrals:
            return "referral"
        if self.emergency and mine and self.user_id in holding.emergency:
            return "emergency"
        return None

    def holds(self, owner_id: int, agency_id: int | None, group_id: int | None) -> bool:
        """Whether the user reaches a record through its holding agency from its owner, agency and
        group alone: as owner, by group, by agency or by module. Its relation is then one of
        HOLDING_RELATIONS whatever its assignments, referrals and emergency grants are (each comes
        after these in `relation`), and every one of those gives the role's own capabilities
        (`Policy.access`), so deciding access needs nothing more (`service.context.access_holdings`).
        Asked of `relation` itself, with a holding of those columns only: the clauses stay written once."""
        return self.held(owner_id, agency_id, group_id) is not None

    def held(self, owner_id: int, agency_id: int | None, group_id: int | None) -> Holding | None:
        """The holding of those columns alone when the user `holds` the record by them, else None."""
        found = Holding(owner_id, agency_id, group_id)
        return found if self.relation(found) is not None else None

    def grant(self, holding: Holding) -> Grant:
        """What the referrals that reach the user share with them."""
        out = Grant(frozenset())
        if self.user_id in holding.referrals:
            out = out | holding.referrals[self.user_id]
        if self.agency_inbox is not None and self.agency_inbox in holding.agency_referrals:
            out = out | holding.agency_referrals[self.agency_inbox]
        return out


@dataclass(frozen=True)
class Access:
    """What one user may do with one record: the capabilities of their relation to it.

    | relation                         | forms                          | workflow | assign, refer, link |
    | owner, assignee, group, agency, all | the role's (read, write)     | the role's | the role's        |
    | referral                         | the shared ones, read-only unless granted write | none | none |
    | emergency                        | the role's, read-only          | none     | none                |
    """

    relation: str
    read_forms: frozenset[str]
    write_forms: frozenset[str]
    #: workflow transitions, approvals and consent overrides (the holding agency's alone)
    workflow: bool
    assign: bool
    refer: bool
    #: recording a linked record from this one
    link: bool


#: how many (record type, sensitivity, forms) field sets a policy keeps before starting again
FIELD_SETS_KEPT = 4096


class Policy:
    def __init__(self, module: Module) -> None:
        self.module = module
        # the fields a role sees or writes depend only on the record type, the role's sensitivity
        # levels and the forms it may read or write there: worked out once per combination
        self._field_sets: dict[tuple[str, str, frozenset[str], frozenset[str]], frozenset[str]] = {}
        # the capabilities a relation other than a referral gives a role on a record type (the forms
        # it reads and writes, whether it may assign or refer): the same for every record, so worked
        # out once per (role, record type, relation), not for each row of a list (see `_own`)
        self._capabilities: dict[tuple[int, str, str], tuple[Role, Access]] = {}
        # the last actor's reach: a list's or an export's rows each ask what their user may do, and
        # their user's reach was built anew for every row. An actor is immutable, and kept here, so
        # the same object is the same reach (two threads at once at worst build it again in turns)
        self._last_reach: tuple[Actor, Reach] | None = None

    # -- record types and scope --------------------------------------------------------------
    def may(self, actor: Actor, permission: str) -> bool:
        return actor.role.can(permission)

    def may_on_type(self, actor: Actor, record_type: str, action: str) -> bool:
        return (
            record_type in self.module.record_types
            and not actor.role.aggregate_only
            and actor.role.can(f"{record_type}.{action}")
        )

    def readable_types(self, actor: Actor) -> frozenset[str]:
        return frozenset(rt for rt in self.module.record_types if self.may_on_type(actor, rt, "read"))

    def reach(self, actor: Actor) -> Reach:
        """Which records the actor reaches, as data (the one scope rule: see `Reach`)."""
        last = self._last_reach
        if last is not None and last[0] is actor:
            return last[1]
        found = self._reach(actor)
        self._last_reach = (actor, found)
        return found

    def _reach(self, actor: Actor) -> Reach:
        scope = actor.role.scope
        wide = scope in ("agency", "all")
        return Reach(
            user_id=actor.user_id,
            agency_id=actor.agency_id,
            group_ids=actor.group_ids if scope in ("group", "agency", "all") else frozenset(),
            agency_wide=wide,
            everything=scope == "all",
            agency_inbox=actor.agency_id if wide and actor.agency_id is not None else None,
            emergency=self.may_break_glass(actor),
        )

    def may_break_glass(self, actor: Actor) -> bool:
        """May the actor open records of their agency outside their scope in an emergency (a role
        with `emergency_access` that opens records, in an agency)?"""
        role = actor.role
        return role.emergency_access and not role.aggregate_only and actor.agency_id is not None

    def emergency_target(self, actor: Actor, record_type: str, holding: Holding) -> bool:
        """Could an emergency grant open this record for the actor: their role breaks the glass and
        reads this type, the record is held by their agency, and nothing else reaches it (inside
        their reach they just open it)."""
        if not self.may_break_glass(actor) or not self.may_on_type(actor, record_type, "read"):
            return False
        if holding.agency_id is None or holding.agency_id != actor.agency_id:
            return False
        return self.reach(actor).relation(replace(holding, emergency=frozenset())) is None

    def relation(self, actor: Actor, holding: Holding) -> str | None:
        """How the actor reaches the record (one of RELATIONS), or None."""
        return self.reach(actor).relation(holding)

    def access(self, actor: Actor, record_type: str, holding: Holding) -> Access | None:
        """The actor's capabilities on the record, or None when they may not open it at all."""
        if not self.may_on_type(actor, record_type, "read"):
            return None
        reach = self.reach(actor)
        relation = reach.relation(holding)
        if relation is None:
            return None
        if relation == "referral":
            own, grant = self._own(actor, record_type, "owner"), reach.grant(holding)
            return Access(
                relation,
                own.read_forms & grant.forms,
                own.write_forms & grant.write_forms & grant.forms,
                False,
                False,
                False,
                False,
            )
        return self._own(actor, record_type, relation)

    def _own(self, actor: Actor, record_type: str, relation: str) -> Access:
        """The capabilities of a relation that is not a referral, for the actor's role on the record
        type: a holding relation (HOLDING_RELATIONS) gives the role's own; "emergency" its forms,
        read-only, nothing else. Kept per (role, record type, relation): a role is part of the
        definitions, and a new definitions version is a new Policy."""
        role = actor.role
        key = (id(role), record_type, relation)
        kept = self._capabilities.get(key)
        if kept is not None and kept[0] is role:
            return kept[1]
        rt = self.module.record_types[record_type]
        read = frozenset(f for f in rt.form_ids if role.may_read_form(f))
        if relation == "emergency":  # what the role reads on a record in its scope; nothing more, no change
            found = Access(relation, read, frozenset(), False, False, False, False)
        else:
            write = (
                frozenset(f for f in rt.form_ids if role.may_write_form(f))
                if self.may_on_type(actor, record_type, "write")
                else frozenset()
            )
            found = Access(
                relation,
                read,
                write,
                workflow=True,
                assign=self.may_on_type(actor, record_type, "assign"),
                refer=self.may_on_type(actor, record_type, "refer"),
                link=True,
            )
        if len(self._capabilities) >= FIELD_SETS_KEPT:
            self._capabilities.clear()
        self._capabilities[key] = (role, found)
        return found

    def can_read(self, actor: Actor, record_type: str, holding: Holding) -> bool:
        return self.access(actor, record_type, holding) is not None

    def can_write(self, actor: Actor, record_type: str, holding: Holding) -> bool:
        access = self.access(actor, record_type, holding)
        return access is not None and bool(access.write_forms)

    def can_create(self, actor: Actor, record_type: str) -> bool:
        return self.may_on_type(actor, record_type, "create")

    # -- forms and fields --------------------------------------------------------------------
    def readable_forms(self, actor: Actor, record_type: str, holding: Holding) -> frozenset[str]:
        access = self.access(actor, record_type, holding)
        return access.read_forms if access else frozenset()

    def writable_forms(self, actor: Actor, record_type: str, holding: Holding) -> frozenset[str]:
        access = self.access(actor, record_type, holding)
        return access.write_forms if access else frozenset()

    def sees(self, actor: Actor, f: Field) -> bool:
        return f.sensitivity in actor.role.sensitivity

    def visible_fields(self, actor: Actor, record_type: str, holding: Holding) -> frozenset[str]:
        """Ids of every field (at any depth) the actor may see on this record."""
        return self._fields("read", actor, record_type, self.readable_forms(actor, record_type, holding))

    def writable_fields(self, actor: Actor, record_type: str, holding: Holding) -> frozenset[str]:
        return self._fields("write", actor, record_type, self.writable_forms(actor, record_type, holding))

    def _fields(self, mode: str, actor: Actor, record_type: str, forms: frozenset[str]) -> frozenset[str]:
        key = (mode, record_type, frozenset(actor.role.sensitivity), forms)
        found = self._field_sets.get(key)
        if found is not None:
            return found
        rt = self.module.record_types[record_type]
        found = frozenset(
            fid
            for fid, f in rt.all_fields.items()
            if f.form_id in forms
            and self.sees(actor, f)
            and _chain_visible(self, actor, f)
            and (mode == "read" or (not f.read_only and f.type not in ("calculate", "note")))
        )
        if len(self._field_sets) >= FIELD_SETS_KEPT:
            self._field_sets.clear()
        self._field_sets[key] = found
        return found

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
        """Assign to a colleague of the agency that holds the record, within the assigner's own
        scope, whose role may work on this record type. A referral recipient never assigns."""
        access = self.access(actor, record_type, holding)
        if access is None or not access.assign:
            return False
        if not self.may_on_type(target, record_type, "read") or target.user_id == actor.user_id:
            return False
        if holding.agency_id is None or target.agency_id != holding.agency_id:
            return False
        scope = actor.role.scope
        if scope in ("all", "agency"):
            return True
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
        if key == ROW_ID and scope.owner is not None:
            out[key] = value  # a row's id, so that an edit keeps the columns this user cannot see
            continue
        f = scope.fields.get(key)
        if f is None or key not in visible:
            continue
        out[key] = _filter_rows(f.subform, value, visible) if f.subform is not None else value
    return out


def _filter_rows(scope: FieldScope | None, rows: Any, visible: frozenset[str]) -> Any:
    if scope is None or not isinstance(rows, list):
        return rows
    return [_filter(scope, r, visible) if isinstance(r, dict) else r for r in rows]
