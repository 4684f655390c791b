from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.language.loader import LoadResult, load_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True, scope="session")
def _key_file(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The tests' own key file (servers they start inherit it), never the user's: a test that rotates
    keys must not touch a real key file."""
    before = os.environ.get("SANAD_KEY_FILE")
    os.environ["SANAD_KEY_FILE"] = str(tmp_path_factory.mktemp("keys") / "sanad.key")
    yield
    if before is None:
        os.environ.pop("SANAD_KEY_FILE", None)
    else:
        os.environ["SANAD_KEY_FILE"] = before


BASE_FILES: dict[str, str] = {
    "module.yaml": """
        id: mini
        title: Mini module
        version: '1'
        default_locale: en
        locales: [en, fr]
        record_types:
          case:
            title: Case
            forms: [intake, plan]
            workflow: case_flow
    """,
    "roles.yaml": """
        roles:
          - id: caseworker
            label: Caseworker
            scope: own
            permissions: [case.create, case.read, case.write]
            forms: {read: ['*'], write: ['*']}
            sensitivity: [direct, quasi, none]
          - id: supervisor
            label: Supervisor
            scope: group
            permissions: [case.read]
            forms: {read: ['*'], write: []}
            sensitivity: [quasi, none]
          - id: lead
            label: Team lead
            scope: group
            permissions: [case.read, self_approve]
            forms: {read: ['*'], write: []}
            sensitivity: [quasi, none]
    """,
    "lookups/sex.yaml": """
        id: sex
        choices:
          - {value: female, label: Female}
          - {value: male, label: Male}
    """,
    "forms/intake.yaml": """
        id: intake
        title: Intake
        record_type: case
        fields:
          - id: dob
            type: date
            label: Date of birth
          - id: age
            type: calculate
            label: Age
            calculate: age(${dob})
          - id: sex
            type: select_one
            label: Sex
            choices: sex
            required: true
          - id: caregiver
            type: text
            label: Caregiver
            relevant: ${age} < 18
            required: true
          - id: consent
            type: yes_no
            label: Consent
            required: true
    """,
    "forms/plan.yaml": """
        id: plan
        title: Plan
        record_type: case
        relevant: ${consent} = 'yes'
        fields:
          - id: goal
            type: text
            label: Goal
            required: true
          - id: services
            type: subform
            label: Services
            max: 3
            fields:
              - id: service
                type: text
                label: Service
                required: true
              - id: cost
                type: decimal
                label: Cost
                min: 0
          - id: total
            type: calculate
            label: Total
            calculate: sum(${services}, ${cost})
    """,
    "workflows/case_flow.yaml": """
        id: case_flow
        record_type: case
        initial: open
        states:
          - {id: open, label: Open}
          - {id: plan_requested, label: Plan approval requested}
          - {id: active, label: Active}
          - {id: closed, label: Closed, final: true}
        transitions:
          - {id: request_plan, label: Request plan approval, from: [open], to: plan_requested,
             roles: [caseworker, lead], requires_forms: [intake, plan]}
          - {id: approve_plan, label: Approve plan, from: [plan_requested], to: active, roles: [supervisor, lead]}
          - {id: reject_plan, label: Reject plan, from: [plan_requested], to: open, roles: [supervisor, lead]}
          - {id: close, label: Close, from: [active], to: closed, roles: [caseworker],
             when: "${consent} = 'yes'", when_message: Consent is missing.}
    """,
}

MakeModule = Callable[..., str]


@pytest.fixture
def make_module(tmp_path: object) -> MakeModule:
    """Write the mini module into a temporary folder, with some files replaced (None removes one)."""

    def make(files: dict[str, str | None] | None = None) -> str:
        root = os.path.join(str(tmp_path), "mini")
        merged: dict[str, str | None] = {**BASE_FILES, **(files or {})}
        for name, text in merged.items():
            if text is None:
                continue
            path = os.path.join(root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(textwrap.dedent(text).lstrip("\n"))
        return root

    return make


def codes(result: LoadResult) -> list[str]:
    return [d.code for d in result.report.items]


@pytest.fixture
def mini(make_module: MakeModule) -> LoadResult:
    result = load_module(make_module())
    assert result.module is not None, [d.format() for d in result.report.items]
    return result


DB_KINDS = ["sqlite", "postgresql"]


@pytest.fixture(params=DB_KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> object:
    from tests.server import database

    with database(request.param, tmp_path) as url:
        yield url


#: records whose `last_step` (storage/migrations 0013) is not the transition of their latest step that
#: moved them (the latest `transitions` row with a `to_stage`; none: NULL)
STALE_LAST_STEPS = """
SELECT r.short_id, r.last_step FROM records r
WHERE COALESCE(r.last_step, '') <> COALESCE((
    SELECT t.transition FROM transitions t WHERE t.record_id = r.id AND t.to_stage IS NOT NULL
    ORDER BY t.id DESC LIMIT 1
), '')
"""


def stored_record(owner: Any, **fields: Any) -> Any:
    """A case row written straight to the database (tests of scope and holding that need many
    records fast): the owner's agency, stage `engagement`, version 1, no answers, unless given."""
    from engine.storage.models import Record

    at = fields.pop("at", datetime(2026, 11, 1, tzinfo=UTC))
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "module": "gbv",
        "record_type": "case",
        "stage": "engagement",
        "owner_id": owner.id,
        "agency_id": getattr(owner, "agency_id", None),
        "group_id": None,
        "created_by": owner.id,
        "created_at": at,
        "updated_by": owner.id,
        "updated_at": at,
        "definitions_version": "1",
        "version": 1,
        "data": {},
        **fields,
    }
    return Record(**values)
