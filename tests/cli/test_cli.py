"""The sanad command: finding lines, JSON output, exit codes, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from engine.cli import main
from tests.conftest import ROOT, MakeModule

QUICKSTART = os.path.join(ROOT, "examples", "quickstart")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_validate_a_good_module(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "validate", QUICKSTART)
    assert code == 0
    assert out.splitlines()[-1] == "0 errors, 0 warnings in 1 module"
    assert "OK: 2 forms" in out


def test_validate_reports_path_line_column_code_and_hint(
    capsys: pytest.CaptureFixture[str], make_module: MakeModule, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_module(
        {
            "forms/plan.yaml": """
        id: plan
        title: Plan
        record_type: case
        fields:
          - id: goal
            type: text
            label: Goal
            relevant: ${agee} > 3
    """
        }
    )
    monkeypatch.chdir(os.path.dirname(root))
    code, out = run(capsys, "validate", "mini")
    assert code == 1
    line = next(ln for ln in out.splitlines() if "expr.unknown-field" in ln)
    assert line == (
        "mini/forms/plan.yaml:8:15: error expr.unknown-field: there is no field 'agee' (did you mean 'age'?)"
    )
    assert out.splitlines()[-1].startswith("1 error")


def test_validate_json_format(capsys: pytest.CaptureFixture[str], make_module: MakeModule) -> None:
    root = make_module(
        {"lookups/sex.yaml": "id: sex\nchoices:\n  - {value: female, label: Female}\n  - {value: female, label: F}\n"}
    )
    code, out = run(capsys, "validate", "--format", "json", root)
    assert code == 1
    findings = json.loads(out)
    [dup] = [f for f in findings if f["code"] == "ref.duplicate-id"]
    assert set(dup) == {"file", "line", "column", "severity", "code", "message", "hint"}
    assert (dup["line"], dup["column"], dup["severity"]) == (4, 13, "error")


def test_validate_a_folder_that_is_not_a_module(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    code, out = run(capsys, "validate", str(tmp_path))
    assert code == 1
    assert "module.not-found" in out and "Traceback" not in out


def test_test_command_reports_failed_expectations(capsys: pytest.CaptureFixture[str], make_module: MakeModule) -> None:
    root = make_module(
        {
            "tests/intake.yaml": """
        form: intake
        scenarios:
          - name: an adult needs no caregiver
            given: {dob: '1990-01-01'}
            today: '2026-01-01'
            expect:
              hidden: [caregiver]
              values: {age: 35}
          - name: a child needs a caregiver
            given: {dob: '2020-01-01'}
            today: '2026-01-01'
            expect:
              required: [caregiver]
    """
        }
    )
    code, out = run(capsys, "test", root)
    assert code == 1
    lines = out.splitlines()
    assert lines[-1] == "2 scenarios: 1 passed, 1 failed"
    assert lines[0].endswith(
        "tests/intake.yaml:8:21: scenario 'an adult needs no caregiver': expected age = 35, got 36"
    )


def test_the_console_script_is_installed() -> None:
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "schema", "--list"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "form.schema.json" in proc.stdout


def test_compile_prints_forms_with_expression_asts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "compile", QUICKSTART)
    assert code == 0
    case = json.loads(out)["case"]
    assert [f["id"] for f in case["forms"]] == ["registration", "follow_up"]
    fields = {f["id"]: f for form in case["forms"] for f in form["fields"]}
    assert fields["age"]["calculate"] == {
        "op": "call",
        "fn": "age",
        "args": [{"op": "ref", "name": "date_of_birth", "up": 0}],
    }
    order = [name for kind, name in case["order"] if kind == "field"]
    assert order.index("date_of_birth") < order.index("age") < order.index("age_group") < order.index("caregiver_name")


def test_transitions_allowed_is_the_exact_set(capsys: pytest.CaptureFixture[str], make_module: MakeModule) -> None:
    root = make_module(
        {
            "tests/flow.yaml": """
        record_type: case
        scenarios:
          - name: a supervisor at plan approval
            role: supervisor
            stage: plan_requested
            given: {}
            expect: {transitions_allowed: [approve_plan]}
          - name: a supervisor cannot start anything at the open stage
            role: supervisor
            stage: open
            given: {}
            expect: {transitions_allowed: []}
    """
        }
    )
    code, out = run(capsys, "test", root)
    assert code == 1
    assert "expected only ['approve_plan'] to be allowed, but 'reject_plan' is allowed too" in out
    assert out.splitlines()[-1] == "2 scenarios: 1 passed, 1 failed"
