"""Access decided from a record's own columns (`context.access_holdings`): a list page, an export
chunk or a record's links no longer read the assignments, referrals and emergency grants of the
records the user holds as owner, by group, by agency or by module (`Reach.holds`). The attack this
guards against is a decision that comes out differently without them: a referral's recipient shown
unshared forms, a break-the-glass read not audited as one, a record out of reach let through.

Property, over the GBV module's real roles and every kind of holding: whenever `Reach.holds` says
the columns are enough, the access decided from them is the one decided from everything that holds
the record (the same forms, workflow and capabilities; never `referral` or `emergency`); and a
record reached by a referral or an emergency grant, or out of reach, is never decided from its
columns. End to end: `tests/service/test_query_counts.py` (a caseworker's, a supervisor's and a
manager's list read no holders), `test_23_emergency.py` (a case opened by breaking the glass is still
listed, and the list audited as an emergency read) and `tests/service/test_access_property.py` (list
columns of referred records show only the shared forms)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.runtime.policy import HOLDING_RELATIONS, Actor, Grant, Holding
from engine.runtime.registry import Registry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REG = Registry.load([os.path.join(ROOT, "definitions", "gbv")])
MOD = REG.modules["gbv"]
POLICY = REG.policies["gbv"]
ROLES = sorted(MOD.roles)
USERS = st.integers(1, 4)
AGENCIES = st.one_of(st.none(), st.integers(1, 2))
GROUPS = st.one_of(st.none(), st.integers(1, 3))
FORMS = st.frozensets(st.sampled_from(sorted(MOD.record_types["case"].form_ids)), max_size=3)
GRANTS = st.builds(Grant, FORMS, FORMS)


@st.composite
def holdings(draw: Any) -> Holding:
    return Holding(
        owner_id=draw(USERS),
        agency_id=draw(AGENCIES),
        group_id=draw(GROUPS),
        assignee_ids=draw(st.frozensets(USERS, max_size=2)),
        referrals=draw(st.dictionaries(USERS, GRANTS, max_size=2)),
        agency_referrals=draw(st.dictionaries(st.integers(1, 2), GRANTS, max_size=2)),
        emergency=draw(st.frozensets(USERS, max_size=2)),
    )


@st.composite
def actors(draw: Any) -> Actor:
    return Actor(
        user_id=draw(USERS),
        username="someone",
        role=MOD.roles[draw(st.sampled_from(ROLES))],
        agency_id=draw(AGENCIES),
        group_ids=draw(st.frozensets(st.integers(1, 3), max_size=2)),
    )


def _decided(actor: Actor, record_type: str, holding: Holding) -> Any:
    found = POLICY.access(actor, record_type, holding)
    return None if found is None else dataclasses.replace(found, relation="-")


@settings(max_examples=1500, deadline=None)
@given(actor=actors(), full=holdings(), record_type=st.sampled_from(sorted(MOD.record_types)))
def test_when_the_columns_are_enough_they_decide_as_everything_does(
    actor: Actor, full: Holding, record_type: str
) -> None:
    reach = POLICY.reach(actor)
    columns = Holding(full.owner_id, full.agency_id, full.group_id)
    if not reach.holds(full.owner_id, full.agency_id, full.group_id):
        return
    assert reach.relation(full) in HOLDING_RELATIONS and reach.relation(columns) in HOLDING_RELATIONS
    assert _decided(actor, record_type, columns) == _decided(actor, record_type, full)
    assert POLICY.visible_fields(actor, record_type, columns) == POLICY.visible_fields(actor, record_type, full)


@settings(max_examples=1000, deadline=None)
@given(actor=actors(), full=holdings())
def test_a_record_reached_any_other_way_is_not_held_by_its_columns(actor: Actor, full: Holding) -> None:
    reach = POLICY.reach(actor)
    relation = reach.relation(full)
    if relation in (None, "referral", "emergency"):
        assert not reach.holds(full.owner_id, full.agency_id, full.group_id), relation


@settings(max_examples=500, deadline=None)
@given(people=st.lists(actors(), min_size=2, max_size=6), order=st.lists(st.integers(0, 5), max_size=20))
def test_a_kept_reach_is_only_ever_its_own_actors(people: list[Actor], order: list[int]) -> None:
    """`Policy.reach` keeps the last actor's reach, for the rows of one list. Users asked in any
    order, each one an object of its own (two sign-ins of one user included), each get the reach
    built from them alone: never the one kept for someone else."""
    for i in order:
        actor = people[i % len(people)]
        assert POLICY.reach(actor) == POLICY._reach(actor)
        other = dataclasses.replace(actor, user_id=actor.user_id + 100, group_ids=frozenset({9}))
        assert POLICY.reach(other) == POLICY._reach(other) != POLICY.reach(actor)
