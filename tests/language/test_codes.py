"""Every diagnostic code in engine.diagnostics.codes.CODES, triggered by a small broken module.

Each case starts from a minimal valid module (`make_module`), replaces or adds one file with a
realistic mistake, loads it through the engine API and checks where the finding is reported:
the file (relative to the module folder), the line and the column, the code and its severity.
These are the things a module author sees in `sanad validate`, so a wrong position is a bug.

The end of the file keeps regression tests for engine problems found while writing these cases
(positions in folded and quoted expressions, follow-on findings after a broken file, hints).
"""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.diagnostics import Diagnostic
from engine.diagnostics.codes import CODES
from engine.language.demo import read_demo
from engine.language.loader import load_module
from engine.runtime.scenarios import collect

REPO = Path(__file__).resolve().parent.parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "broken"
DOCS = REPO / "docs" / "codes.md"

# --------------------------------------------------------------------------------------------------
# The valid base module: one record type, one form, one lookup, one workflow, two roles.
# --------------------------------------------------------------------------------------------------

BASE: dict[str, str] = {
    "module.yaml": """\
        id: protection
        title: Protection case management
        version: '1.0'
        default_locale: en
        locales: [en, fr, ar]
        record_types:
          case:
            title: Protection case
            forms: [registration]
            workflow: case_workflow
        """,
    "roles.yaml": """\
        roles:
          - id: caseworker
            label: Caseworker
            scope: own
            permissions: [case.create, case.read, case.write]
            forms: {read: ['*'], write: ['*']}
            sensitivity: [direct, quasi, none]
          - id: supervisor
            label: Case management supervisor
            scope: group
            permissions: [case.read, case.assign]
            forms: {read: ['*'], write: []}
            sensitivity: [direct, quasi, none]
        """,
    "forms/registration.yaml": """\
        id: registration
        title: Registration
        record_type: case
        fields:
          - id: client_code
            type: text
            label: Case code
            required: true
          - id: age
            type: integer
            label: Age in years
          - id: consent_services
            type: yes_no
            label: Does the person agree to receive services?
            required: true
          - id: needs
            type: select_multiple
            label: What would the person like help with?
            choices: needs
        """,
    "lookups/needs.yaml": """\
        id: needs
        title: Needs and services
        choices:
          - {value: safe_shelter, label: Safe shelter}
          - {value: health, label: Health care}
          - {value: psychosocial, label: Psychosocial support}
        """,
    "workflows/case_workflow.yaml": """\
        id: case_workflow
        record_type: case
        initial: open
        states:
          - {id: open, label: Open}
          - {id: closed, label: Closed, final: true}
        transitions:
          - id: close
            label: Close the case
            from: [open]
            to: closed
            roles: [caseworker]
        """,
}


def make_module(tmp_path: Path, **overrides: str | bytes | None) -> Path:
    """Write the valid base module to tmp_path/protection and return that folder.

    Keys of `overrides` are paths inside the module (pass them as `**{"forms/x.yaml": text}`);
    a text replaces or adds that file (it is dedented, so it can be indented in the test), bytes are
    written as they are, and None removes the file.
    """
    root = tmp_path / "protection"
    files: dict[str, str | bytes | None] = {k: textwrap.dedent(v) for k, v in BASE.items()}
    for name, content in overrides.items():
        files[name] = textwrap.dedent(content) if isinstance(content, str) else content
    for name, content in files.items():
        if content is None:
            continue
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def load_findings(root: Path) -> list[Diagnostic]:
    return load_module(str(root)).report.items


def scenario_findings(root: Path) -> list[Diagnostic]:
    return collect(str(root)).report.items


def demo_findings(root: Path) -> list[Diagnostic]:
    result = load_module(str(root))
    if result.module is not None:
        read_demo(result.module, result.report)
    return result.report.items


def where(d: Diagnostic, root: Path) -> str:
    """The finding's file relative to the module folder ('' for the folder itself)."""
    rel = os.path.relpath(d.file, root)
    return "" if rel == "." else Path(rel).as_posix()


def show(items: list[Diagnostic], root: Path) -> str:
    return (
        "\n".join(f"  {where(d, root)}:{d.line}:{d.column}: {d.severity} {d.code}: {d.message}" for d in items)
        or "  (no findings)"
    )


def assert_finding(
    items: list[Diagnostic], root: Path, code: str, file: str, line: int, column: int, count: int = 1
) -> Diagnostic:
    """Exactly `count` findings have `code`, one of them at file:line:column, with the registry's severity."""
    same_code = [d for d in items if d.code == code]
    found = [d for d in same_code if where(d, root) == file and (d.line, d.column) == (line, column)]
    assert found, f"expected {code} at {file}:{line}:{column}; the findings were:\n{show(items, root)}"
    assert len(same_code) == count, f"expected {count} × {code}; the findings were:\n{show(items, root)}"
    d = found[0]
    assert d.severity == CODES[code][0]
    assert d.message and not d.message.endswith(" ")
    return d


# --------------------------------------------------------------------------------------------------
# One case per mistake. `files` are the overrides; `at` is (file, line, column) of the finding.
# --------------------------------------------------------------------------------------------------


# An overlay of the base module: the base is written to ../base, the overlay adapts it.
OVERLAY_MODULE = """\
    id: protection_arcadia
    title: Protection case management (Arcadia)
    version: '1.0-arcadia'
    extends: ../base
    """


def overlay_files(changes: dict[str, str | bytes | None]) -> dict[str, str | bytes | None]:
    files: dict[str, str | bytes | None] = {name: None for name in BASE}
    files.update({f"../base/{name}": text for name, text in BASE.items()})
    files["module.yaml"] = OVERLAY_MODULE
    files.update(changes)
    return files


@dataclass
class Case:
    id: str
    code: str
    files: dict[str, str | bytes | None]
    at: tuple[str, int, int]
    scenarios: bool = False  # checked by engine.runtime.scenarios.collect (scenario files in tests/)
    demo: bool = False  # checked by engine.language.demo.read_demo (demo data in demo/)
    also: list[str] = field(default_factory=list)  # other codes this mistake is expected to raise


def _latin1_lookup() -> bytes:
    # Saved by a spreadsheet export in Latin-1: the 'é' on line 5 is the single byte 0xE9.
    return (FIXTURES / "needs_latin1.yaml").read_bytes()


MODULE_WITH = textwrap.dedent("""\
    id: protection
    title: Protection case management
    version: '1.0'
    default_locale: en
    locales: [en, fr, ar]
    record_types:
      case:
        title: Protection case
        forms: [registration]
        workflow: case_workflow
    """)

FORM_HEAD = """\
    id: registration
    title: Registration
    record_type: case
    fields:
      - id: needs
        type: select_multiple
        label: What would the person like help with?
        choices: needs
    """  # the field under test starts on line 9; its keys are on lines 10, 11, 12, ...


def form_with(field_yaml: str) -> dict[str, str]:
    """The registration form with one more field after `needs` (its `- id:` on line 9)."""
    return {"forms/registration.yaml": textwrap.dedent(FORM_HEAD) + textwrap.indent(textwrap.dedent(field_yaml), "  ")}


WORKFLOW_HEAD = """\
    id: case_workflow
    record_type: case
    initial: open
    states:
      - {id: open, label: Open}
      - {id: follow_up, label: In follow-up}
      - {id: closure_requested, label: Closure requested}
      - {id: closed, label: Closed, final: true}
    transitions:
      - id: start_follow_up
        label: Start follow-up
        from: [open]
        to: follow_up
        roles: [caseworker]
    """  # further transitions start on line 15


def workflow_with(transitions_yaml: str) -> dict[str, str]:
    return {
        "workflows/case_workflow.yaml": textwrap.dedent(WORKFLOW_HEAD)
        + textwrap.indent(textwrap.dedent(transitions_yaml), "  ")
    }


CASES: list[Case] = [
    # -- reading files ----------------------------------------------------------------------------
    Case(
        "file.unreadable/latin-1",
        "file.unreadable",
        {"lookups/needs.yaml": _latin1_lookup()},
        at=("lookups/needs.yaml", 5, 41),
    ),
    Case("file.unreadable/no-roles-yaml", "file.unreadable", {"roles.yaml": None}, at=("roles.yaml", 1, 1)),
    Case("module.not-found", "module.not-found", {"module.yaml": None}, at=("", 1, 1)),
    Case(
        "module.unexpected-file",
        "module.unexpected-file",
        {
            "follow_up.yaml": """\
            id: follow_up
            title: Follow-up
            record_type: case
            fields:
              - {id: follow_up_date, type: date, label: Date of this follow-up}
            """
        },
        at=("follow_up.yaml", 1, 1),
    ),
    Case(
        "yaml.syntax/unclosed-brace",
        "yaml.syntax",
        {
            "lookups/needs.yaml": """\
            id: needs
            title: Needs and services
            choices:
              - {value: safe_shelter, label: Safe shelter}
              - {value: health, label: Health care
              - {value: psychosocial, label: Psychosocial support}
            """
        },
        at=("lookups/needs.yaml", 6, 5),
    ),
    Case(
        "yaml.syntax/colon-in-text",
        "yaml.syntax",
        {
            "lookups/needs.yaml": """\
            id: needs
            title: Needs and services
            choices:
              - value: safe_shelter
                label: Safe shelter: emergency
            """
        },
        at=("lookups/needs.yaml", 5, 24),
    ),
    Case(
        "yaml.syntax/tab",
        "yaml.syntax",
        {
            "lookups/needs.yaml": "id: needs\ntitle: Needs and services\nchoices:\n  - value: health\n\tlabel: Health care\n"
        },
        at=("lookups/needs.yaml", 5, 1),
    ),
    Case(
        "yaml.duplicate-key",
        "yaml.duplicate-key",
        {
            "lookups/needs.yaml": """\
            id: needs
            title: Needs and services
            choices:
              - value: safe_shelter
                label: Safe shelter
                label: Emergency shelter
              - {value: health, label: Health care}
            """
        },
        at=("lookups/needs.yaml", 6, 5),
    ),
    Case(
        "yaml.truthy",
        "yaml.truthy",
        form_with("""\
              - id: consent_referral
                type: yes_no
                label: Does the person agree to be referred?
                default: no
            """),
        at=("forms/registration.yaml", 12, 14),
    ),
    Case(
        "yaml.unsupported/tag",
        "yaml.unsupported",
        {
            "lookups/needs.yaml": """\
            id: needs
            title: !translate Needs and services
            choices:
              - {value: safe_shelter, label: Safe shelter}
            """
        },
        at=("lookups/needs.yaml", 2, 8),
    ),
    Case(
        "yaml.unsupported/merge-key",
        "yaml.unsupported",
        {
            "lookups/needs.yaml": """\
            id: needs
            title: Needs and services
            choices:
              - &shelter {value: safe_shelter, label: Safe shelter}
              - <<: *shelter
                value: emergency_shelter
            """
        },
        at=("lookups/needs.yaml", 5, 5),
        also=["schema.required"],
    ),
    Case(
        "yaml.unsupported/complex-key",
        "yaml.unsupported",
        {
            "lookups/needs.yaml": """\
            id: needs
            title: Needs and services
            choices:
              - {value: safe_shelter, label: Safe shelter}
              - ? [health, care]
                : Health care
            """
        },
        at=("lookups/needs.yaml", 5, 7),
        also=["schema.required"],
    ),
    # -- JSON Schema ------------------------------------------------------------------------------
    Case(
        "schema.required",
        "schema.required",
        form_with("""\
              - id: client_code
                type: text
                required: true
            """),
        at=("forms/registration.yaml", 9, 5),
    ),
    Case(
        "schema.required/top-level",
        "schema.required",
        {"module.yaml": MODULE_WITH.replace("version: '1.0'\n", "")},
        at=("module.yaml", 1, 1),
    ),
    Case(
        "schema.unknown-key",
        "schema.unknown-key",
        form_with("""\
              - id: client_code
                type: text
                label: Case code
                mandatory: true
            """),
        at=("forms/registration.yaml", 12, 5),
    ),
    Case(
        "schema.type",
        "schema.type",
        {"module.yaml": MODULE_WITH.replace("version: '1.0'", "version: 1.0")},
        at=("module.yaml", 3, 10),
    ),
    Case(
        "schema.type/boolean-as-text",
        "schema.type",
        form_with("""\
              - id: household_size
                type: integer
                label: People in the household
                read_only: 'true'
            """),
        at=("forms/registration.yaml", 12, 16),
    ),
    Case(
        "schema.type/empty-file",
        "schema.type",
        {"lookups/needs.yaml": ""},
        at=("lookups/needs.yaml", 1, 1),
    ),
    Case(
        "schema.enum",
        "schema.enum",
        form_with("""\
              - id: client_code
                type: string
                label: Case code
            """),
        at=("forms/registration.yaml", 10, 11),
    ),
    Case(
        "schema.enum/sensitivity",
        "schema.enum",
        form_with("""\
              - id: full_name
                type: text
                label: Name the person would like us to use
                sensitivity: high
            """),
        at=("forms/registration.yaml", 12, 18),
    ),
    Case(
        "schema.pattern",
        "schema.pattern",
        form_with("""\
              - id: Client-Code
                type: text
                label: Case code
            """),
        at=("forms/registration.yaml", 9, 9),
    ),
    Case(
        "schema.invalid/repeated-locale",
        "schema.invalid",
        {"module.yaml": MODULE_WITH.replace("[en, fr, ar]", "[en, fr, ar, fr]")},
        at=("module.yaml", 5, 10),
    ),
    Case(
        "schema.invalid/no-forms",
        "schema.invalid",
        {"module.yaml": MODULE_WITH.replace("forms: [registration]", "forms: []")},
        at=("module.yaml", 9, 12),
    ),
    # -- ids and references -----------------------------------------------------------------------
    Case(
        "ref.duplicate-id/choice",
        "ref.duplicate-id",
        {
            "lookups/needs.yaml": """\
            id: needs
            title: Needs and services
            choices:
              - {value: safe_shelter, label: Safe shelter}
              - {value: health, label: Health care}
              - {value: health, label: Medical care}
            """
        },
        at=("lookups/needs.yaml", 6, 13),
    ),
    Case(
        "ref.duplicate-id/field",
        "ref.duplicate-id",
        form_with("""\
              - id: needs
                type: textarea
                label: Other needs
            """),
        at=("forms/registration.yaml", 9, 9),
    ),
    Case(
        "ref.duplicate-id/lookup",
        "ref.duplicate-id",
        {
            "lookups/needs_2024.yaml": """\
            id: needs
            title: Needs and services (2024)
            choices:
              - {value: health, label: Health care}
            """
        },
        at=("lookups/needs_2024.yaml", 1, 5),
        also=["ref.id-mismatch"],
    ),
    Case(
        "ref.duplicate-id/state",
        "ref.duplicate-id",
        {
            "workflows/case_workflow.yaml": """\
            id: case_workflow
            record_type: case
            initial: open
            states:
              - {id: open, label: Open}
              - {id: closed, label: Closed, final: true}
              - {id: open, label: Reopened}
            transitions:
              - id: close
                label: Close the case
                from: [open]
                to: closed
                roles: [caseworker]
            """
        },
        at=("workflows/case_workflow.yaml", 7, 10),
    ),
    Case(
        "ref.duplicate-id/role",
        "ref.duplicate-id",
        {"roles.yaml": textwrap.dedent(BASE["roles.yaml"]).replace("id: supervisor", "id: caseworker")},
        at=("roles.yaml", 8, 9),
    ),
    Case(
        "ref.id-mismatch",
        "ref.id-mismatch",
        {"lookups/needs.yaml": None, "lookups/service_needs.yaml": BASE["lookups/needs.yaml"]},
        at=("lookups/service_needs.yaml", 1, 5),
    ),
    Case(
        "ref.unknown-form/module",
        "ref.unknown-form",
        {"module.yaml": MODULE_WITH.replace("[registration]", "[registration, follow_up]")},
        at=("module.yaml", 9, 27),
    ),
    Case(
        "ref.unknown-form/requires-forms",
        "ref.unknown-form",
        {
            "workflows/case_workflow.yaml": """\
            id: case_workflow
            record_type: case
            initial: open
            states:
              - {id: open, label: Open}
              - {id: closed, label: Closed, final: true}
            transitions:
              - id: close
                label: Close the case
                from: [open]
                to: closed
                roles: [caseworker]
                requires_forms: [registraton]
            """
        },
        at=("workflows/case_workflow.yaml", 13, 22),
    ),
    Case(
        "ref.unknown-form/roles",
        "ref.unknown-form",
        {
            "roles.yaml": """\
            roles:
              - id: caseworker
                label: Caseworker
                scope: own
                permissions: [case.create, case.read, case.write]
                forms: {read: ['*'], write: [registration, follow_up]}
                sensitivity: [direct, quasi, none]
            """
        },
        at=("roles.yaml", 6, 48),
    ),
    Case(
        "ref.unknown-form/scenario",
        "ref.unknown-form",
        scenarios=True,
        files={
            "tests/registration.yaml": """\
            form: registraton
            scenarios:
              - name: an empty registration asks for the case code
                given: {}
                expect:
                  errors: [client_code]
            """
        },
        at=("tests/registration.yaml", 1, 7),
    ),
    Case(
        "ref.unknown-lookup",
        "ref.unknown-lookup",
        {
            "forms/registration.yaml": """\
            id: registration
            title: Registration
            record_type: case
            fields:
              - id: needs
                type: select_multiple
                label: What would the person like help with?
                choices: need
            """
        },
        at=("forms/registration.yaml", 8, 14),
        also=["ref.unused-lookup"],
    ),
    Case(
        "ref.unknown-record-type/form",
        "ref.unknown-record-type",
        {
            "forms/registration.yaml": """\
            id: registration
            title: Registration
            record_type: cases
            fields:
              - id: client_code
                type: text
                label: Case code
            """
        },
        at=("forms/registration.yaml", 3, 14),
    ),
    Case(
        "ref.unknown-record-type/workflow",
        "ref.unknown-record-type",
        {
            "workflows/case_workflow.yaml": textwrap.dedent(BASE["workflows/case_workflow.yaml"]).replace(
                "record_type: case", "record_type: child_case"
            )
        },
        at=("workflows/case_workflow.yaml", 2, 14),
        also=["workflow.record-type"],
    ),
    Case(
        "ref.unknown-record-type/scenario",
        "ref.unknown-record-type",
        scenarios=True,
        files={
            "tests/workflow.yaml": """\
            record_type: cases
            scenarios:
              - name: a caseworker closes a case
                role: caseworker
                expect:
                  transitions_allowed: [close]
            """
        },
        at=("tests/workflow.yaml", 1, 14),
    ),
    Case(
        "ref.unknown-workflow",
        "ref.unknown-workflow",
        {"module.yaml": MODULE_WITH.replace("workflow: case_workflow", "workflow: case_flow")},
        at=("module.yaml", 10, 15),
    ),
    Case(
        "ref.unknown-state/initial",
        "ref.unknown-state",
        {
            "workflows/case_workflow.yaml": textwrap.dedent(BASE["workflows/case_workflow.yaml"]).replace(
                "initial: open", "initial: new"
            )
        },
        at=("workflows/case_workflow.yaml", 3, 10),
    ),
    Case(
        "ref.unknown-state/to",
        "ref.unknown-state",
        {
            "workflows/case_workflow.yaml": textwrap.dedent(BASE["workflows/case_workflow.yaml"]).replace(
                "to: closed", "to: close"
            )
        },
        at=("workflows/case_workflow.yaml", 11, 9),
        also=["workflow.unreachable-state"],
    ),
    Case(
        "ref.unknown-state/scenario",
        "ref.unknown-state",
        scenarios=True,
        files={
            "tests/workflow.yaml": """\
            record_type: case
            scenarios:
              - name: a caseworker closes an open case
                role: caseworker
                stage: opened
                given: {client_code: KAB-0042, consent_services: 'yes'}
                expect:
                  transitions_allowed: [close]
            """
        },
        at=("tests/workflow.yaml", 5, 12),
    ),
    Case(
        "ref.unknown-role/scenario",
        "ref.unknown-role",
        scenarios=True,
        files={
            "tests/workflow.yaml": """\
            record_type: case
            scenarios:
              - name: a caseworker closes an open case
                role: case_worker
                given: {client_code: KAB-0042, consent_services: 'yes'}
                expect:
                  transitions_allowed: [close]
            """
        },
        at=("tests/workflow.yaml", 4, 11),
    ),
    Case(
        "ref.unknown-permission",
        "ref.unknown-permission",
        {"roles.yaml": textwrap.dedent(BASE["roles.yaml"]).replace("case.read, case.write]", "case.read, case.edit]")},
        at=("roles.yaml", 5, 43),
    ),
    Case(
        "ref.form-record-type",
        "ref.form-record-type",
        {
            "module.yaml": MODULE_WITH + "  referral:\n    title: Referral\n    forms: [registration]\n",
            "forms/referral.yaml": """\
            id: referral
            title: Referral
            record_type: referral
            fields:
              - {id: referral_date, type: date, label: Date of referral}
            """,
        },
        at=("module.yaml", 13, 13),
        also=["ref.unused-form"],
    ),
    Case(
        "ref.unused-form",
        "ref.unused-form",
        {
            "forms/follow_up.yaml": """\
            id: follow_up
            title: Follow-up
            record_type: case
            fields:
              - {id: follow_up_date, type: date, label: Date of this follow-up}
            """
        },
        at=("forms/follow_up.yaml", 1, 5),
    ),
    Case(
        "ref.unused-lookup",
        "ref.unused-lookup",
        {
            "lookups/risk_levels.yaml": """\
            id: risk_levels
            title: Risk levels
            choices:
              - {value: low, label: Low}
              - {value: high, label: High}
            """
        },
        at=("lookups/risk_levels.yaml", 1, 5),
    ),
    # -- module-level -----------------------------------------------------------------------------
    Case(
        "module.locale",
        "module.locale",
        {"module.yaml": MODULE_WITH.replace("[en, fr, ar]", "[fr, ar]")},
        at=("module.yaml", 4, 17),
    ),
    # -- fields -----------------------------------------------------------------------------------
    Case(
        "field.choices-missing",
        "field.choices-missing",
        form_with("""\
              - id: risk_level
                type: select_one
                label: Current level of risk
            """),
        at=("forms/registration.yaml", 9, 9),
    ),
    Case(
        "field.key-not-allowed/choices",
        "field.key-not-allowed",
        form_with("""\
              - id: consent_referral
                type: yes_no
                label: Does the person agree to be referred?
                choices: needs
            """),
        at=("forms/registration.yaml", 12, 5),
    ),
    Case(
        "field.key-not-allowed/min",
        "field.key-not-allowed",
        form_with("""\
              - id: full_name
                type: text
                label: Name the person would like us to use
                min: 2
            """),
        at=("forms/registration.yaml", 12, 5),
    ),
    Case(
        "field.calculate-missing",
        "field.calculate-missing",
        form_with("""\
              - id: household_size
                type: calculate
                label: People in the household
            """),
        at=("forms/registration.yaml", 9, 9),
    ),
    Case(
        "field.subform-empty",
        "field.subform-empty",
        form_with("""\
              - id: household
                type: subform
                label: People living with the person
            """),
        at=("forms/registration.yaml", 9, 9),
    ),
    Case(
        "field.section-empty",
        "field.section-empty",
        form_with("""\
              - id: about_household
                type: section
                label: The household
            """),
        at=("forms/registration.yaml", 9, 9),
    ),
    Case(
        "field.section-in-subform",
        "field.section-in-subform",
        form_with("""\
              - id: household
                type: subform
                label: People living with the person
                fields:
                  - id: member_details
                    type: section
                    label: About this person
                    fields:
                      - id: member_age
                        type: integer
                        label: Age in years
            """),
        at=("forms/registration.yaml", 13, 13),
    ),
    Case(
        "field.bad-default",
        "field.bad-default",
        form_with("""\
              - id: household_size
                type: integer
                label: People in the household
                default: 'one'
            """),
        at=("forms/registration.yaml", 12, 14),
    ),
    Case(
        "field.bad-default/yes-no",
        "field.bad-default",
        form_with("""\
              - id: consent_referral
                type: yes_no
                label: Does the person agree to be referred?
                default: true
            """),
        at=("forms/registration.yaml", 12, 14),
    ),
    Case(
        "field.bad-limit/kind",
        "field.bad-limit",
        form_with("""\
              - id: member_age
                type: integer
                label: Age in years
                min: 0
                max: 12.5
            """),
        at=("forms/registration.yaml", 13, 10),
    ),
    Case(
        "field.bad-limit/order",
        "field.bad-limit",
        form_with("""\
              - id: date_of_birth
                type: date
                label: Date of birth
                min: '2026-01-01'
                max: '1900-01-01'
            """),
        at=("forms/registration.yaml", 12, 10),
    ),
    Case(
        "label.empty",
        "label.empty",
        form_with("""\
              - id: privacy_note
                type: note
                label: ' '
            """),
        at=("forms/registration.yaml", 11, 12),
    ),
    Case(
        "label.empty/state",
        "label.empty",
        {
            "workflows/case_workflow.yaml": textwrap.dedent(BASE["workflows/case_workflow.yaml"]).replace(
                "label: Closed,", "label: '  ',"
            )
        },
        at=("workflows/case_workflow.yaml", 6, 25),
    ),
    # -- workflows --------------------------------------------------------------------------------
    Case(
        "workflow.unreachable-state",
        "workflow.unreachable-state",
        workflow_with("""\
              - id: request_closure
                label: Ask to close the case
                from: [follow_up]
                to: closed
                roles: [caseworker]
            """),
        at=("workflows/case_workflow.yaml", 7, 10),
    ),
    Case(
        "workflow.dead-end",
        "workflow.dead-end",
        workflow_with("""\
              - id: request_closure
                label: Ask to close the case
                from: [follow_up]
                to: closure_requested
                roles: [caseworker]
              - id: approve_closure
                label: Approve closing the case
                from: [closed]
                to: closed
                roles: [supervisor]
            """),
        at=("workflows/case_workflow.yaml", 7, 10),
        also=["workflow.unreachable-state"],
    ),
    Case(
        "workflow.record-type",
        "workflow.record-type",
        {
            "module.yaml": MODULE_WITH + "  referral:\n    title: Referral\n    forms: [referral]\n"
            "    workflow: case_workflow\n",
            "forms/referral.yaml": """\
            id: referral
            title: Referral
            record_type: referral
            fields:
              - {id: referral_date, type: date, label: Date of referral}
            """,
        },
        at=("module.yaml", 14, 15),
    ),
    Case(
        "workflow.no-roles",
        "workflow.no-roles",
        workflow_with("""\
              - id: request_closure
                label: Ask to close the case
                from: [follow_up]
                to: closure_requested
                roles: [caseworker]
              - id: approve_closure
                label: Approve closing the case
                from: [closure_requested]
                to: closed
                roles: []
            """),
        at=("workflows/case_workflow.yaml", 24, 12),
    ),
    Case(
        "workflow.decision-without-stage",
        "workflow.decision-without-stage",
        workflow_with("""\
              - id: request_closure
                label: Ask to close the case
                from: [follow_up]
                to: closure_requested
                roles: [caseworker]
              - id: approve_closure
                label: Approve closing the case
                from: [closure_requested]
                to: closed
                roles: [caseworker]
              - id: note_closure
                label: Note the request
                from: [closure_requested]
                decision: return
                roles: [caseworker]
            """),
        at=("workflows/case_workflow.yaml", 28, 5),
    ),
    # -- reports ------------------------------------------------------------------------------------
    Case(
        "report.bad-dimension",
        "report.bad-dimension",
        {
            "reports/caseload.yaml": """\
            id: caseload
            title: Caseload
            record_type: case
            tables:
              - id: by_code
                title: Cases by code
                dimensions: [client_code]
            """
        },
        at=("reports/caseload.yaml", 7, 18),
    ),
    Case(
        "report.not-in-database",
        "report.not-in-database",
        {
            "reports/caseload.yaml": """\
            id: caseload
            title: Caseload
            record_type: case
            where: "regex(${client_code}, '^[A-Z]')"
            tables:
              - {id: by_need, title: Cases by need, dimensions: [needs]}
            """
        },
        at=("reports/caseload.yaml", 4, 9),
    ),
    Case(
        "report.bad-measure",
        "report.bad-measure",
        {
            "reports/caseload.yaml": """\
            id: caseload
            title: Caseload
            record_type: case
            audience: internal
            tables:
              - id: to_closure
                title: Days to closure
                dimensions: []
                measure: {days_from: created, until: approve_closure, label: Days}
            """
        },
        at=("reports/caseload.yaml", 9, 42),
    ),
    Case(
        "export.unmapped-code",
        "export.unmapped-code",
        {
            "exports/needs_sheet.yaml": """\
            id: needs_sheet
            title: Needs sheet
            record_type: case
            columns:
              - {header: Case code, field: client_code}
              - header: Needs
                field: needs
                codes: {safe_shelter: SHELTER, health: HEALTH}
            """
        },
        at=("exports/needs_sheet.yaml", 8, 5),
    ),
    # -- scenario tests ---------------------------------------------------------------------------
    Case(
        "test.unknown-field/expect",
        "test.unknown-field",
        scenarios=True,
        files={
            "tests/registration.yaml": """\
            form: registration
            scenarios:
              - name: an empty registration asks for the case code and consent
                given: {}
                expect:
                  required: [client_code, consent]
            """
        },
        at=("tests/registration.yaml", 6, 31),
    ),
    Case(
        "test.unknown-field/given",
        "test.unknown-field",
        scenarios=True,
        files={
            "tests/registration.yaml": """\
            form: registration
            scenarios:
              - name: a registration with a case code and consent is complete
                given: {client_code: KAB-0042, concent_services: 'yes'}
                expect:
                  valid: true
            """
        },
        at=("tests/registration.yaml", 4, 36),
    ),
    Case(
        "test.unknown-field/values",
        "test.unknown-field",
        scenarios=True,
        files={
            "tests/registration.yaml": """\
            form: registration
            scenarios:
              - name: the case code is kept as written
                given: {client_code: KAB-0042}
                expect:
                  values: {client_cod: KAB-0042}
            """
        },
        at=("tests/registration.yaml", 6, 16),
    ),
    Case(
        "test.unknown-transition",
        "test.unknown-transition",
        scenarios=True,
        files={
            "tests/workflow.yaml": """\
            record_type: case
            scenarios:
              - name: a caseworker closes an open case
                role: caseworker
                given: {client_code: KAB-0042, consent_services: 'yes'}
                expect:
                  transitions_allowed: [close_case]
            """
        },
        at=("tests/workflow.yaml", 7, 29),
    ),
    Case(
        "test.no-workflow",
        "test.no-workflow",
        scenarios=True,
        files={
            "module.yaml": MODULE_WITH.replace("    workflow: case_workflow\n", ""),
            "workflows/case_workflow.yaml": None,
            "tests/workflow.yaml": """\
            record_type: case
            scenarios:
              - name: a caseworker closes an open case
                role: caseworker
                given: {client_code: KAB-0042, consent_services: 'yes'}
                expect:
                  transitions_allowed: [close]
            """,
        },
        at=("tests/workflow.yaml", 7, 7),
    ),
    Case(
        "test.missing-context",
        "test.missing-context",
        scenarios=True,
        files={
            "tests/workflow.yaml": """\
            record_type: case
            scenarios:
              - name: an open case can be closed
                given: {client_code: KAB-0042, consent_services: 'yes'}
                expect:
                  transitions_allowed: [close]
            """
        },
        at=("tests/workflow.yaml", 3, 11),
    ),
]

# -- expressions: all written as the `relevant` of caregiver_name, line 28 of this form -------------

EXPR_FORM = """\
id: registration
title: Registration
record_type: case
fields:
  - id: age
    type: integer
    label: Age in years
  - id: date_of_birth
    type: date
    label: Date of birth
  - id: consent_services
    type: yes_no
    label: Does the person agree to receive services?
  - id: needs
    type: select_multiple
    label: What would the person like help with?
    choices: needs
  - id: household
    type: subform
    label: People living with the person
    fields:
      - id: member_age
        type: integer
        label: Age in years
  - id: caregiver_name
    type: text
    label: Name of a trusted caregiver
    relevant: "{expr}"
"""
EXPR_LINE = 28
EXPR_COL = 16  # the column of the expression's first character, just inside the double quote

EXPR_CASES = [
    # (code, expression, offset of the reported place in the expression)
    ("expr.syntax", "${age} < 18 and", 15),  # the end of the text, where a value is missing
    ("expr.syntax", "${age} << 18", 8),  # the second '<'
    ("expr.syntax", "${age} < 18 && ${consent_services} = 'yes'", 12),  # the '&'
    ("expr.too-complex", " or ".join(f"${{age}} = {i}" for i in range(250)), 0),
    ("expr.too-complex", "not(" * 70 + "${age} < 18" + ")" * 70, 0),
    ("expr.unknown-field", "${consent_services} = 'yes' and ${ages} < 18", 32),  # ${ages}
    ("expr.scope", "${member_age} < 18", 0),
    ("expr.scope", "${../age} < 18", 0),
    ("expr.dot-outside-constraint", ". < 18", 0),
    ("expr.bare-name", "${consent_services} = yes", 22),  # yes
    ("expr.unknown-function", "pulldata('households', ${needs})", 0),
    ("expr.unknown-setting", "${age} > setting('no_contact_days')", 17),  # the name
    ("expr.unknown-column", "lookup('needs', 'lable', 'value', ${age}) = 'x'", 16),  # 'lable'
    ("ref.unknown-lookup", "lookup('need', 'label', 'value', ${age}) = 'x'", 7),  # 'need'
    ("expr.arity", "selected(${needs})", 0),
    ("expr.arity", "${age} > 0 and not(${age} < 18, ${age} > 60)", 15),  # not(
    ("expr.unknown-choice", "selected(${needs}, 'shelter')", 0),
    ("expr.unknown-choice", "${consent_services} = 'Yes'", 20),  # the '='
    ("expr.not-multi", "selected(${age}, 'yes')", 0),
    ("expr.not-subform", "count(${needs}) > 0", 0),
    ("expr.type-mismatch", "${date_of_birth} > 2008", 17),  # the '>'
    ("expr.type-mismatch", "${date_of_birth} * 2 > 0", 17),  # the '*'
    ("expr.bad-regex", "regex(${age}, '[0-9')", 14),  # the pattern
    ("expr.bad-regex", "regex(${age}, '^(?=1)1$')", 14),  # a look-ahead: no linear-time engine runs it
    ("expr.slow-regex", "regex(${age}, '^(1+)+$')", 14),
    ("expr.bad-date", "${date_of_birth} > date('2008-02-30')", 24),  # the date text
]


DEMO = """\
    agency: {code: demo_agency, name: Demo agency}
    groups:
      - {code: team_a, name: Team A}
    paths:
      - id: closed
        record_type: case
        stage: closed
        steps:
          - fill: registration
          - step: close
            comment: Needs met.
    people:
      - path: closed
        answers:
          registration:
            client_code: KAB-0042
            age: 34
            consent_services: 'yes'
    """  # the steps are on lines 9-11, the person on 13-18


def demo_with(old: str = "", new: str = "") -> dict[str, str]:
    return {"demo/demo.yaml": textwrap.dedent(DEMO).replace(old, new)}


DEMO_CASES = [
    Case(
        "demo.incomplete",
        "demo.incomplete",
        {"demo/demo.yaml": textwrap.dedent(DEMO).split("people:")[0]},
        at=("demo", 1, 1),
        demo=True,
    ),
    Case(
        "demo.bad-step",
        "demo.bad-step",
        demo_with("  - fill: registration", "  - {fill: registration, step: close}"),
        at=("demo/demo.yaml", 9, 9),
        demo=True,
    ),
    Case(
        "demo.unknown-path",
        "demo.unknown-path",
        demo_with("- path: closed", "- path: closd"),
        at=("demo/demo.yaml", 13, 11),
        demo=True,
    ),
    Case(
        "demo.unknown-transition",
        "demo.unknown-transition",
        demo_with("- step: close", "- step: clos"),
        at=("demo/demo.yaml", 10, 15),
        demo=True,
    ),
    Case(
        "demo.step-not-possible",
        "demo.step-not-possible",
        demo_with("comment: Needs met.", "comment: Needs met.\n        by: supervisor"),
        at=("demo/demo.yaml", 10, 9),
        demo=True,
    ),
    Case(
        "demo.wrong-stage",
        "demo.wrong-stage",
        demo_with("stage: closed", "stage: open"),
        at=("demo/demo.yaml", 7, 12),
        demo=True,
    ),
    Case(
        "demo.unknown-account",
        "demo.unknown-account",
        demo_with("comment: Needs met.", "comment: Needs met.\n        by: manager"),
        at=("demo/demo.yaml", 12, 13),
        demo=True,
    ),
    Case(
        "demo.bad-answer",
        "demo.bad-answer",
        demo_with("age: 34", "age: thirty"),
        at=("demo/demo.yaml", 17, 14),
        demo=True,
    ),
    Case(
        "demo.unused-answers",
        "demo.unused-answers",
        demo_with(
            "      registration:\n        client_code: KAB-0042",
            "      registration:\n      - {client_code: KAB-0042}\n      - client_code: KAB-0042",
        ),
        at=("demo/demo.yaml", 15, 7),
        demo=True,
    ),
    Case(
        "ref.unknown-field/seed-code",
        "ref.unknown-field",
        {**demo_with(), "demo/seed.yaml": "seed:\n  codes:\n    client_cod: AAA-9999\n"},
        at=("demo/seed.yaml", 3, 5),
        demo=True,
    ),
]


def _expr_case(code: str, expr: str, offset: int) -> Case:
    return Case(
        f"{code}/{expr[:30]}",
        code,
        {"forms/registration.yaml": EXPR_FORM.replace("{expr}", expr)},
        at=("forms/registration.yaml", EXPR_LINE, EXPR_COL + offset),
    )


CASES += [_expr_case(*c) for c in EXPR_CASES]
CASES += DEMO_CASES
CASES += [
    Case(
        "expr.cycle/self",
        "expr.cycle",
        {"forms/registration.yaml": EXPR_FORM.replace("{expr}", "${caregiver_name} = ''")},
        at=("forms/registration.yaml", 25, 9),
    ),
    Case(
        "expr.cycle/two-calculations",
        "expr.cycle",
        form_with("""\
              - id: household_size
                type: calculate
                label: People in the household
                calculate: "${children_in_household} + 1"
              - id: children_in_household
                type: calculate
                label: Children in the household
                calculate: "${household_size} - 1"
            """),
        at=("forms/registration.yaml", 9, 9),
    ),
    Case(
        "expr.unknown-field/when",
        "expr.unknown-field",
        {
            "workflows/case_workflow.yaml": textwrap.dedent(BASE["workflows/case_workflow.yaml"])
            + "    when: \"${consent_services} = 'yes' and ${risk_level} = 'low'\"\n"
        },
        at=("workflows/case_workflow.yaml", 13, 44),
    ),
    Case(
        "expr.syntax/constraint-single-quoted",
        "expr.syntax",
        form_with("""\
              - id: client_code
                type: text
                label: Case code
                constraint: 'regex(., "^[A-Z]{3}-[0-9]{4}$"'
            """),
        at=("forms/registration.yaml", 12, 48),
    ),
    Case(
        "expr.bad-regex/constraint",
        "expr.bad-regex",
        form_with("""\
              - id: client_code
                type: text
                label: Case code
                constraint: "regex(., '^[A-Z]{3}-[0-9{4}$')"
            """),
        at=("forms/registration.yaml", 12, 27),
    ),
    Case(
        "expr.bare-name/choice-filter",
        "expr.bare-name",
        form_with("""\
              - id: district
                type: select_one
                label: District
                choices:
                  - {value: riverside, label: Riverside, region: north}
                  - {value: coastal, label: Coastal, region: south}
                choice_filter: "regon = 'north'"
            """),
        at=("forms/registration.yaml", 15, 21),
    ),
    Case(
        "ref.unknown-field/list_fields",
        "ref.unknown-field",
        {
            "module.yaml": BASE["module.yaml"].replace(
                "            workflow: case_workflow",
                "            workflow: case_workflow\n            list_fields: [client_cod]",
            )
        },
        at=("module.yaml", 11, 19),
    ),
    # -- overlays ---------------------------------------------------------------------------------
    Case(
        "overlay.base-not-found",
        "overlay.base-not-found",
        {"module.yaml": OVERLAY_MODULE.replace("../base", "../global_protection")},
        at=("module.yaml", 4, 10),
    ),
    Case(
        "overlay.cycle",
        "overlay.cycle",
        {"module.yaml": OVERLAY_MODULE.replace("../base", ".")},
        at=("module.yaml", 4, 10),
    ),
    Case(
        # a wrong module.yaml of an overlay is the one error: its folder is not read as a whole module
        "schema.type/overlay-setting",
        "schema.type",
        overlay_files({"module.yaml": OVERLAY_MODULE + "settings:\n      offline_records: many\n"}),
        at=("module.yaml", 6, 20),
    ),
    Case(
        "overlay.unknown-target/field",
        "overlay.unknown-target",
        overlay_files({"forms/registration.yaml": "id: registration\nhide_fields: [client_cod]\n"}),
        at=("forms/registration.yaml", 2, 15),
    ),
    Case(
        "overlay.unknown-target/form",
        "overlay.unknown-target",
        overlay_files({"forms/registraton.yaml": "id: registraton\nhide_fields: [client_code]\n"}),
        at=("forms/registraton.yaml", 1, 5),
    ),
]


def _findings(case: Case, tmp_path: Path) -> tuple[Path, list[Diagnostic]]:
    root = make_module(tmp_path, **case.files)
    if case.demo:
        return root, demo_findings(root)
    return root, (scenario_findings(root) if case.scenarios else load_findings(root))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_code_is_reported_at_the_mistake(case: Case, tmp_path: Path) -> None:
    root, items = _findings(case, tmp_path)
    assert_finding(items, root, case.code, *case.at)
    others = {d.code for d in items} - {case.code}
    assert others == set(case.also), (
        f"other findings {sorted(others)}, expected {sorted(case.also)}:\n{show(items, root)}"
    )


def test_every_code_has_a_case() -> None:
    assert {c.code for c in CASES} == set(CODES)


def test_module_not_found_for_a_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "protecion"
    items = load_module(str(missing)).report.items
    assert [(d.file, d.line, d.column, d.code, d.severity) for d in items] == [
        (str(missing), 1, 1, "module.not-found", "error")
    ]
    assert "there is no such folder" in items[0].message


def test_test_codes_are_not_checked_while_the_module_has_errors(tmp_path: Path) -> None:
    """Scenario files are only checked once the module loads; the module's own errors come first."""
    root = make_module(
        tmp_path,
        **{
            "module.yaml": MODULE_WITH.replace("[en, fr, ar]", "[fr, ar]"),
            "tests/workflow.yaml": """\
            record_type: case
            scenarios:
              - name: an open case can be closed
                expect:
                  transitions_allowed: [close]
            """,
        },
    )
    suite = collect(str(root))
    assert suite.module is None
    assert [d.code for d in suite.report.items] == ["module.locale"]


def test_warnings_alone_still_give_a_module(tmp_path: Path) -> None:
    root = make_module(
        tmp_path,
        **form_with("""\
          - id: consent_referral
            type: yes_no
            label: Does the person agree to be referred?
            default: no
        """),
    )
    result = load_module(str(root))
    assert [d.code for d in result.report.items] == ["yaml.truthy"]
    assert result.module is not None


# --------------------------------------------------------------------------------------------------
# Valid modules produce no findings.
# --------------------------------------------------------------------------------------------------


def test_the_base_module_is_valid(tmp_path: Path) -> None:
    root = make_module(tmp_path)
    result = load_module(str(root))
    assert result.report.items == []
    assert result.module is not None
    assert scenario_findings(root) == []


def test_quickstart_has_no_errors() -> None:
    path = str(REPO / "examples" / "quickstart")
    result = load_module(path)
    assert result.report.errors == []
    assert result.module is not None
    suite = collect(path)
    assert suite.report.errors == []
    assert suite.scenarios


# --------------------------------------------------------------------------------------------------
# docs/codes.md documents exactly the registry, in its order, with each code's severity.
# --------------------------------------------------------------------------------------------------

_HEADING = re.compile(r"^### `([^`]+)`\s*$", re.M)


def _doc_sections() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    parts = _HEADING.split(text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_code_has_a_docs_section_and_every_section_is_a_code() -> None:
    headings = _HEADING.findall(DOCS.read_text(encoding="utf-8"))
    assert sorted(set(CODES) - set(headings)) == [], "codes without a section in docs/codes.md"
    assert sorted(set(headings) - set(CODES)) == [], "sections in docs/codes.md that are not codes"
    assert len(headings) == len(set(headings)), "a code has two sections"


def test_docs_sections_follow_the_registry_order() -> None:
    assert list(_doc_sections()) == list(CODES)


@pytest.mark.parametrize("code", list(CODES))
def test_docs_section_states_severity_example_and_fix(code: str) -> None:
    body = _doc_sections()[code].split("\n## ")[0]
    assert f"**Severity:** {CODES[code][0]}" in body
    assert f" {CODES[code][0]} {code}: " in body, "the section shows no message Sanad prints for it"
    assert "```yaml" in body, "the section has no YAML example"
    assert "**Fix:**" in body


# --------------------------------------------------------------------------------------------------
# Engine problems found while writing these tests, fixed since: each keeps its regression test.
# --------------------------------------------------------------------------------------------------


def test_control_character_is_reported_where_it_is(tmp_path: Path) -> None:
    text = (
        "id: needs\ntitle: Needs\nchoices:\n  - {value: health, label: Health care}\n"
        "  - {value: legal, label: Legal\x07 help}\n"
    )
    root = make_module(tmp_path, **{"lookups/needs.yaml": text})
    assert_finding(load_findings(root), root, "yaml.syntax", "lookups/needs.yaml", 5, 32)


def test_unterminated_quote_is_reported_at_the_opening_quote(tmp_path: Path) -> None:
    root = make_module(
        tmp_path,
        **{
            "lookups/needs.yaml": """\
        id: needs
        title: Needs and services
        choices:
          - value: safe_shelter
            label: "Safe shelter
          - value: health
            label: Health care
        """
        },
    )
    assert_finding(load_findings(root), root, "yaml.syntax", "lookups/needs.yaml", 5, 12)


@pytest.mark.parametrize(
    "broken",
    [
        {"lookups/needs.yaml": "id: needs\ntitle: Needs\nchoices:\n  - {value: health, label: Health care\n"},
        form_with("- id: client_code\n  type: text\n"),
    ],
    ids=["yaml-error-in-lookup", "schema-error-in-form"],
)
def test_a_broken_file_is_not_also_reported_as_missing(broken: dict[str, str], tmp_path: Path) -> None:
    root = make_module(tmp_path, **broken)
    items = load_findings(root)
    misleading = [
        d
        for d in items
        if d.hint
        and re.search(r"add (lookups|forms)/\w+\.yaml", d.hint)
        and (root / d.hint.split("add ")[1].rstrip(")")).exists()
    ]
    assert not misleading, show(items, root)


@pytest.mark.parametrize(
    "override, at, bad_example",
    [
        (
            {"module.yaml": MODULE_WITH.replace("default_locale: en", "default_locale: English")},
            ("module.yaml", 4, 17),
            "'english'",
        ),
        (
            {
                "roles.yaml": textwrap.dedent(BASE["roles.yaml"]).replace(
                    "case.create, case.read", "case.create, Case.Read"
                )
            },
            ("roles.yaml", 5, 32),
            "'case_read'",
        ),
    ],
    ids=["locale", "permission"],
)
def test_schema_pattern_hint_for_non_id_values(
    override: dict[str, str], at: tuple[str, int, int], bad_example: str, tmp_path: Path
) -> None:
    root = make_module(tmp_path, **override)
    d = assert_finding(load_findings(root), root, "schema.pattern", *at)
    assert "not a valid id" not in d.message
    assert bad_example not in (d.hint or "")


def test_duplicate_id_message_names_the_first_file_relative_to_the_module(tmp_path: Path) -> None:
    root = make_module(tmp_path, **{"lookups/needs_2024.yaml": BASE["lookups/needs.yaml"]})
    d = assert_finding(load_findings(root), root, "ref.duplicate-id", "lookups/needs_2024.yaml", 1, 5)
    assert str(root) not in d.message
    assert "lookups/needs.yaml:1" in d.message


def test_unknown_role_in_a_transition_is_reported_at_the_role(tmp_path: Path) -> None:
    wf = textwrap.dedent(BASE["workflows/case_workflow.yaml"]).replace("roles: [caseworker]", "roles: [case_worker]")
    root = make_module(tmp_path, **{"workflows/case_workflow.yaml": wf})
    assert_finding(load_findings(root), root, "ref.unknown-role", "workflows/case_workflow.yaml", 12, 13)


def test_form_with_unknown_record_type_is_not_sent_to_that_record_type(tmp_path: Path) -> None:
    form = textwrap.dedent(BASE["forms/registration.yaml"]).replace("record_type: case", "record_type: cases")
    root = make_module(tmp_path, **{"forms/registration.yaml": form})
    items = load_findings(root)
    assert_finding(items, root, "ref.unknown-record-type", "forms/registration.yaml", 3, 14)
    assert not [d for d in items if d.code == "ref.form-record-type" and "cases's forms" in (d.hint or "")], show(
        items, root
    )


def test_select_default_must_be_one_of_the_choices(tmp_path: Path) -> None:
    root = make_module(
        tmp_path,
        **form_with("""\
          - id: contact_method
            type: select_one
            label: How did you meet or speak with the person?
            default: home_visit
            choices:
              - {value: in_person, label: In person at a safe space}
              - {value: phone, label: Phone call}
        """),
    )
    assert_finding(load_findings(root), root, "field.bad-default", "forms/registration.yaml", 12, 14)


def test_an_empty_label_is_label_empty(tmp_path: Path) -> None:
    root = make_module(
        tmp_path,
        **form_with("""\
          - id: privacy_note
            type: note
            label: ''
        """),
    )
    assert_finding(load_findings(root), root, "label.empty", "forms/registration.yaml", 11, 12)


@pytest.mark.parametrize(
    "relevant, line, column",
    [
        (">-\n      ${consent_services} = 'yes' and ${ages} < 18", 29, 39),
        ("${consent_services} = 'yes'\n      and ${ages} < 18", 29, 11),
        ("'${consent_services} = ''yes'' and ${ages} < 18'", 28, 50),
    ],
    ids=["folded", "plain-two-lines", "single-quoted-escapes"],
)
def test_expression_position_in_other_yaml_styles(relevant: str, line: int, column: int, tmp_path: Path) -> None:
    form = EXPR_FORM.replace('"{expr}"', relevant)
    root = make_module(tmp_path, **{"forms/registration.yaml": form})
    assert_finding(load_findings(root), root, "expr.unknown-field", "forms/registration.yaml", line, column)


def test_required_yes_hint_says_write_true(tmp_path: Path) -> None:
    root = make_module(
        tmp_path,
        **form_with("""\
          - id: client_code
            type: text
            label: Case code
            required: yes
        """),
    )
    items = load_findings(root)
    d = assert_finding(items, root, "expr.bare-name", "forms/registration.yaml", 12, 15)
    assert "true" in (d.hint or ""), d.hint


def test_expression_ending_early_message(tmp_path: Path) -> None:
    root = make_module(tmp_path, **{"forms/registration.yaml": EXPR_FORM.replace("{expr}", "${age} < 18 and")})
    d = assert_finding(load_findings(root), root, "expr.syntax", "forms/registration.yaml", EXPR_LINE, EXPR_COL + 15)
    assert "unexpected the end" not in d.message


def test_yaml_file_in_an_unknown_folder_is_reported(tmp_path: Path) -> None:
    root = make_module(
        tmp_path,
        **{
            "form/follow_up.yaml": """\
        id: follow_up
        title: Follow-up
        record_type: case
        fields:
          - {id: follow_up_date, type: date, label: Date of this follow-up}
        """
        },
    )
    assert_finding(load_findings(root), root, "module.unexpected-file", "form/follow_up.yaml", 1, 1)
