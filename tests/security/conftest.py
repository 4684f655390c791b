"""A small protection module and two agencies, for the attacks of the security review.

The module has what the attacks need and nothing else: a direct identifier (the name), a consent
form shared by referrals, a subform with a direct column, an approval (the closure) and a referral
whose consent guard a supervisor may override with a reason. Agency A holds the case; agency B
receives referrals. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import MakeModule
from tests.server import PASSWORD, Server, server

MODULE: dict[str, str | None] = {
    "forms/intake.yaml": None,  # the base files' form; this module has its own
    "module.yaml": """
        id: protection
        title: Protection case management
        version: '1'
        default_locale: en
        locales: [en, fr, ar]
        record_types:
          case:
            title: Case
            forms: [consent, registration, plan, closure]
            workflow: case_flow
            list_fields: [code, name, sex]
    """,
    "roles.yaml": """
        roles:
          - id: caseworker
            label: Caseworker
            scope: own
            permissions: [case.create, case.read, case.write, case.refer]
            forms: {read: ['*'], write: ['*']}
            sensitivity: [direct, quasi, none]
          - id: supervisor
            label: Supervisor
            scope: group
            permissions: [case.read, case.write, case.assign, case.refer, consent_override]
            forms: {read: ['*'], write: ['*']}
            sensitivity: [direct, quasi, none]
          - id: manager
            label: Manager
            scope: agency
            permissions: [case.read, case.assign]
            forms: {read: ['*'], write: []}
            sensitivity: [quasi, none]
          - id: volunteer
            label: Volunteer
            scope: group
            permissions: [case.read, case.write]
            forms: {read: [registration], write: [registration]}
            sensitivity: [quasi, none]
          - id: dpo
            label: Data protection officer
            scope: agency
            permissions: [audit.read]
            forms: {read: [], write: []}
            sensitivity: [none]
    """,
    "lookups/sex.yaml": """
        id: sex
        choices:
          - {value: female, label: Female}
          - {value: male, label: Male}
    """,
    "forms/consent.yaml": """
        id: consent
        title: Consent
        record_type: case
        fields:
          - {id: consent, type: yes_no, label: Consent to services, required: true}
          - {id: consent_referral, type: yes_no, label: Consent to referrals}
    """,
    "forms/registration.yaml": """
        id: registration
        title: Registration
        record_type: case
        fields:
          - {id: code, type: text, label: Survivor code}
          - {id: name, type: text, label: Name, sensitivity: direct}
          - {id: sex, type: select_one, label: Sex, choices: sex, sensitivity: quasi}
          - {id: age, type: integer, label: Age}
          - id: services
            type: subform
            label: Services
            fields:
              - {id: service, type: text, label: Service, required: true}
              - {id: note, type: textarea, label: Private note, sensitivity: direct}
    """,
    "forms/plan.yaml": """
        id: plan
        title: Plan
        record_type: case
        fields:
          - {id: goal, type: text, label: Goal}
          - {id: contact_code, type: text, label: Contact code, constraint: "regex(., '^(a+)+$')"}
    """,
    "forms/closure.yaml": """
        id: closure
        title: Closure
        record_type: case
        fields:
          - {id: closure_reason, type: text, label: Reason for closing}
    """,
    "workflows/case_flow.yaml": """
        id: case_flow
        record_type: case
        initial: open
        states:
          - {id: open, label: Open}
          - {id: plan_requested, label: Plan approval requested}
          - {id: active, label: Active}
          - {id: closure_requested, label: Closure requested}
          - {id: closed, label: Closed, final: true}
        transitions:
          - {id: request_plan, label: Request plan approval, from: [open], to: plan_requested, roles: [caseworker]}
          - {id: approve_plan, label: Approve plan, from: [plan_requested], to: active, roles: [supervisor]}
          - {id: reject_plan, label: Send back, from: [plan_requested], to: open, roles: [supervisor]}
          - {id: back_to_planning, label: Revise the plan, from: [active], to: open, roles: [caseworker, supervisor]}
          - {id: request_closure, label: Request closure, from: [active], to: closure_requested, roles: [caseworker]}
          - {id: approve_closure, label: Approve closure, from: [closure_requested], to: closed, roles: [supervisor]}
          - {id: keep_open, label: Keep open, from: [closure_requested], to: active, roles: [supervisor]}
          - id: refer
            label: Refer for psychosocial support
            from: [open, active]
            roles: [caseworker, supervisor]
            referral: true
            guards:
              - when: "${consent_referral} = 'yes'"
                message: The survivor has not agreed to be referred.
                override: consent_override
    """,
}

ANSWERS: dict[str, Any] = {
    "consent": "yes",
    "consent_referral": "yes",
    "code": "GBV-0042",
    "name": "Amal Haddad",
    "sex": "female",
    "age": 29,
    "goal": "Safe housing",
    "services": [{"service": "Counselling", "note": "Sees her sister on Mondays"}],
}

USERS = {
    # agency A holds the cases
    "amina": ("caseworker", "agency_a", ("team_a1",)),
    "sara": ("supervisor", "agency_a", ("team_a1",)),
    "mona": ("manager", "agency_a", ()),
    "vera": ("volunteer", "agency_a", ("team_a1",)),
    "dpo_a": ("dpo", "agency_a", ()),
    "adil": ("caseworker", "agency_a", ("team_a1",)),
    # agency B receives referrals
    "bea": ("caseworker", "agency_b", ("team_b1",)),
    "bo": ("supervisor", "agency_b", ("team_b1",)),
    "max": ("manager", "agency_b", ()),
    "dpo_b": ("dpo", "agency_b", ()),
}


@dataclass
class World:
    srv: Server

    def client(self, username: str | None = None, ip: str = "testclient") -> Any:
        return self.srv.client(username, ip=ip)

    def case(self, owner: str = "amina", **answers: Any) -> dict[str, Any]:
        """A case of agency A with every answer, owned by `owner`."""
        r = self.client(owner).post("/api/v1/records/case", json={"data": {**ANSWERS, **answers}})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def refer(self, rec: dict[str, Any], by: str = "amina", **body: Any) -> Any:
        payload = {"transition": "refer", "forms": ["consent"], **body}
        return self.client(by).post(f"/api/v1/records/case/{rec['id']}/referrals", json=payload)

    def step(self, rec: dict[str, Any], transition: str, by: str, **body: Any) -> Any:
        return self.client(by).post(f"/api/v1/records/case/{rec['id']}/transitions/{transition}", json=body)

    def inbox(self, username: str) -> list[dict[str, Any]]:
        r = self.client(username).get("/api/v1/referrals")
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["referrals"]
        return items


@pytest.fixture
def world(db_url: str, make_module: MakeModule) -> Iterator[World]:
    root = make_module(MODULE)
    with server(db_url, [root]) as srv:
        for name, (role, agency, groups) in USERS.items():
            srv.add_user(name, role, agency=agency, groups=groups)
        yield World(srv)


__all__ = ["ANSWERS", "MODULE", "PASSWORD", "USERS", "World"]
