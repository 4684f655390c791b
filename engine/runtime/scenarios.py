"""Scenario tests: YAML files in a module's tests/ folder that state what a form must do.

`sanad test` runs them; `collect()` gives pytest one case per scenario, so the project's own test
suite runs every module's scenarios too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.diagnostics import Position, Report, did_you_mean, display_path
from engine.expressions.values import as_number, is_number
from engine.language import schema
from engine.language.loader import load_module
from engine.language.model import FieldScope, Module, RecordType
from engine.language.yamlfile import Path, YamlDoc, read_file
from engine.runtime.evaluation import Evaluation, FieldError, evaluate
from engine.runtime.workflow import check_transitions

_PATH_PART = re.compile(r"^([a-z][a-z0-9_]*)(?:\[([0-9]+)\])?$")
_FIELD_LISTS = ("visible", "hidden", "required", "not_required", "errors")
_TRANSITION_KEYS = ("transitions_allowed", "transitions_denied", "transitions_need_reason")


@dataclass
class Failure:
    pos: Position
    scenario: str
    message: str

    def format(self) -> str:
        return f"{display_path(self.pos.file)}:{self.pos.line}:{self.pos.column}: scenario '{self.scenario}': {self.message}"


@dataclass
class Scenario:
    """One scenario, ready to run against a loaded module."""

    module: Module
    record_type: RecordType
    doc: YamlDoc
    index: int
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def id(self) -> str:
        return f"{self.module.id}/{self.doc.file.rsplit('/', 1)[-1]}::{self.name}"

    def at(self, *path: str | int) -> Position:
        return self.doc.at(("scenarios", self.index, *path))

    def run(self) -> list[Failure]:
        d = self.data
        ev = evaluate(self.record_type, d.get("given") or {}, d.get("today"))
        expect = d["expect"]
        out: list[Failure] = []

        def fail(path: tuple[str | int, ...], message: str) -> None:
            out.append(Failure(self.at("expect", *path), self.name, message))

        for i, p in enumerate(expect.get("visible", [])):
            if p not in ev.relevant:
                fail(("visible", i), f"expected '{p}' to be visible, got hidden")
        for i, p in enumerate(expect.get("hidden", [])):
            if p in ev.relevant:
                fail(("hidden", i), f"expected '{p}' to be hidden, got visible")
        for i, p in enumerate(expect.get("required", [])):
            if p not in ev.required:
                fail(
                    ("required", i),
                    f"expected '{p}' to be required, got not required"
                    + ("" if p in ev.relevant else " (it is hidden)"),
                )
        for i, p in enumerate(expect.get("not_required", [])):
            if p in ev.required:
                fail(("not_required", i), f"expected '{p}' not to be required, got required")
        form_id = self.doc.data.get("form")
        errors = ev.errors_for(form_id) if form_id else ev.errors
        if "valid" in expect and expect["valid"] != (not errors):
            got = "valid" if not errors else "invalid: " + _describe_errors(errors)
            fail(("valid",), f"expected {'valid' if expect['valid'] else 'invalid'}, got {got}")
        for i, p in enumerate(expect.get("errors", [])):
            if not any(e.path == p for e in errors):
                fail(
                    ("errors", i),
                    f"expected an error on '{p}', got " + (_describe_errors(errors) if errors else "no errors"),
                )
        for p, want in (expect.get("values") or {}).items():
            got = ev.value_at(p)
            if not _same(want, got):
                fail(("values", p), f"expected {p} = {_show(want)}, got {_show(got)}")
        if any(k in expect for k in _TRANSITION_KEYS):
            out.extend(self._transitions(ev, expect))
        return out

    def _transitions(self, ev: Evaluation, expect: dict[str, Any]) -> list[Failure]:
        wf = self.module.workflow_for(self.record_type.id)
        if wf is None:
            return [Failure(self.at("expect"), self.name, "the record type has no workflow")]
        role = self.module.roles.get(self.data.get("role", ""))
        stage = self.data.get("stage", wf.initial)
        mine = bool(self.data.get("requested_by_me", False))
        checks = {c.transition.id: c for c in check_transitions(wf, ev, role, stage, requested_by_user=mine)}
        out = []
        for key in _TRANSITION_KEYS:
            for i, tid in enumerate(expect.get(key, [])):
                c = checks.get(tid)
                if c is None:
                    continue
                if key == "transitions_allowed" and not c.allowed:
                    why = " ".join(c.reasons + c.needs_reason)
                    got = f"it needs a written reason to override: {why}" if c.can_override else f"denied: {why}"
                    message = f"expected '{tid}' to be allowed, got {got}"
                elif key == "transitions_denied" and (c.allowed or c.can_override):
                    message = f"expected '{tid}' to be denied, got " + (
                        "allowed" if c.allowed else "allowed with a written reason (the role may override)"
                    )
                elif key == "transitions_need_reason" and not c.can_override:
                    got = "allowed without one" if c.allowed else "denied: " + " ".join(c.reasons)
                    message = f"expected '{tid}' to need a written reason to override, got {got}"
                else:
                    continue
                out.append(Failure(self.at("expect", key, i), self.name, message))
        if "transitions_allowed" in expect:
            listed = set(expect["transitions_allowed"])
            extra = [tid for tid, c in checks.items() if c.allowed and tid not in listed]
            if extra:
                out.append(
                    Failure(
                        self.at("expect", "transitions_allowed"),
                        self.name,
                        f"expected only {sorted(listed) or 'no transition'} to be allowed, but "
                        + ", ".join(f"'{t}'" for t in extra)
                        + (" is" if len(extra) == 1 else " are")
                        + " allowed too",
                    )
                )
        return out


def _describe_errors(errors: list[FieldError]) -> str:
    shown = "; ".join(f"{e.path}: {e.message}" for e in errors[:4])
    return shown + (f"; and {len(errors) - 4} more" if len(errors) > 4 else "")


def _same(want: Any, got: Any) -> bool:
    if want is None:
        want = ""
    if is_number(want) and not isinstance(got, bool):
        n = as_number(got)
        return n is not None and abs(n - want) < 1e-9
    if isinstance(want, list) and isinstance(got, list):
        return [str(x) for x in want] == [str(x) for x in got]
    if want == "" and got == []:
        return True
    return (bool(want == got) and type(want) is type(got)) or (isinstance(want, str) and want == got)


def _show(v: Any) -> str:
    if v == "":
        return "'' (empty)"
    return repr(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


def _resolve_path(rt: RecordType, path: str) -> str | None:
    """None if `path` names a field of `rt`, else what is wrong."""
    scope: FieldScope | None = rt.scope
    parts = path.split(".")
    for n, part in enumerate(parts):
        m = _PATH_PART.match(part)
        if scope is None or not m:
            return f"'{path}' is not a field path (write field or subform[0].field)"
        name, index = m[1], m[2]
        f = scope.fields.get(name)
        if f is None:
            hint = did_you_mean(name, scope.fields)
            return f"there is no field '{name}' here" + (f" ({hint})" if hint else "")
        last = n == len(parts) - 1
        if not last and (f.subform is None or index is None):
            return f"'{name}' is not a subform row: write {name}[0].field"
        scope = f.subform
    return None


def check_scenarios(
    module: Module, docs: list[YamlDoc], report: Report, skip: set[tuple[str, str]] | None = None
) -> list[Scenario]:
    """Statically check scenario files against the module; return the runnable scenarios.

    `skip` holds (file, name) of base scenarios an overlay replaces on purpose: they are not run.
    """
    out: list[Scenario] = []
    skip = skip or set()
    for doc in docs:
        data = doc.data
        if "form" in data:
            form = module.forms.get(data["form"])
            if form is None:
                report.add(
                    doc.at(("form",)),
                    "ref.unknown-form",
                    f"there is no form '{data['form']}'",
                    did_you_mean(data["form"], module.forms),
                )
                continue
            rt_id = form.record_type
        else:
            rt_id = data["record_type"]
        rt = module.record_types.get(rt_id)
        if rt is None:
            report.add(
                doc.at(("record_type",)),
                "ref.unknown-record-type",
                f"there is no record type '{rt_id}'",
                did_you_mean(rt_id, module.record_types),
            )
            continue
        wf = module.workflow_for(rt_id)
        for i, sc in enumerate(data["scenarios"]):
            if (doc.file, sc["name"]) in skip:
                continue
            base: Path = ("scenarios", i)
            ok = True
            expect = sc["expect"]
            for key in _FIELD_LISTS:
                for j, p in enumerate(expect.get(key, [])):
                    if (problem := _resolve_path(rt, p)) is not None:
                        report.add(doc.at((*base, "expect", key, j)), "test.unknown-field", problem)
                        ok = False
            for p in expect.get("values") or {}:
                if (problem := _resolve_path(rt, p)) is not None:
                    report.add(doc.at((*base, "expect", "values", p), key=True), "test.unknown-field", problem)
                    ok = False
            for p in sc.get("given") or {}:
                if p not in rt.all_fields or rt.all_fields[p].scope is not rt.scope:
                    report.add(
                        doc.at((*base, "given", p), key=True),
                        "test.unknown-field",
                        f"there is no top-level field '{p}' in the record type '{rt_id}'",
                        did_you_mean(p, rt.scope.fields),
                    )
                    ok = False
            wants_transitions = any(k in expect for k in _TRANSITION_KEYS)
            if wants_transitions and wf is None:
                report.add(
                    doc.at((*base, "expect")),
                    "test.no-workflow",
                    f"the record type '{rt_id}' has no workflow to test transitions of",
                )
                ok = False
            elif wf is not None:
                if wants_transitions and "role" not in sc:
                    report.add(
                        doc.at((*base, "name")),
                        "test.missing-context",
                        "this scenario checks transitions but names no role",
                        "add 'role: <role id>'",
                    )
                    ok = False
                if "role" in sc and sc["role"] not in module.roles:
                    report.add(
                        doc.at((*base, "role")),
                        "ref.unknown-role",
                        f"there is no role '{sc['role']}'",
                        did_you_mean(sc["role"], module.roles),
                    )
                    ok = False
                if "stage" in sc and sc["stage"] not in wf.states:
                    report.add(
                        doc.at((*base, "stage")),
                        "ref.unknown-state",
                        f"the workflow has no state '{sc['stage']}'",
                        did_you_mean(sc["stage"], wf.states),
                    )
                    ok = False
                for key in _TRANSITION_KEYS:
                    for j, tid in enumerate(expect.get(key, [])):
                        if tid not in wf.transitions:
                            report.add(
                                doc.at((*base, "expect", key, j)),
                                "test.unknown-transition",
                                f"the workflow has no transition '{tid}'",
                                did_you_mean(tid, wf.transitions),
                            )
                            ok = False
            if ok:
                out.append(Scenario(module, rt, doc, i, sc))
    return out


@dataclass
class Suite:
    """A module's scenarios, or the diagnostics that stopped them from running."""

    path: str
    module: Module | None
    scenarios: list[Scenario]
    report: Report


def collect(path: str) -> Suite:
    result = load_module(path)
    if result.module is None:
        return Suite(path, None, [], result.report)
    skip = result.files.skip_scenarios if result.files is not None else set()
    scenarios = check_scenarios(result.module, result.docs.get("scenarios", []), result.report, skip)
    return Suite(path, result.module, scenarios, result.report)


def iter_failures(suite: Suite) -> Iterator[tuple[Scenario, list[Failure]]]:
    for sc in suite.scenarios:
        yield sc, sc.run()


def read_scenario_file(path: str, report: Report) -> YamlDoc | None:
    doc = read_file(path, report)
    if doc is None or not schema.check(doc, "scenarios", report):
        return None
    return doc
