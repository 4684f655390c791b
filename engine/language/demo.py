"""Demo data (`demo/*.yaml` in a module): the demo agency and its groups, paths that take a record to
each stage of its workflow, and fictional people with their answers. Read and checked like the rest
of the definitions (`sanad validate`), so the seeder that walks the paths meets no surprise.

Demo data belongs to one module folder: an overlay has a demo only if it has a demo/ folder of its
own (the base module's people answer with the base's option lists, which an overlay may replace).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from engine.diagnostics import Position, Report, did_you_mean
from engine.language.answers import normalize
from engine.language.model import Field, FieldScope, Module, RecordType
from engine.language.reader import Reader, yaml_files
from engine.language.yamlfile import Path, YamlDoc

ACTIONS = ("fill", "answers", "step", "refer", "assign")
#: keys that only apply to some actions
_ONLY = {
    "to": ("refer",),
    "forms": ("refer",),
    "override_reason": ("refer",),
    "answer": ("refer",),
    "answer_comment": ("refer",),
    "comment": ("step", "refer", "assign"),
}
_RELATIVE_DATE = re.compile(r"^today(?:([+-])([0-9]{1,6}))?$")


@dataclass(frozen=True)
class Account:
    """Who acts: the account of a role, in a group (None: the person's group)."""

    role: str
    group: str | None = None


@dataclass(frozen=True)
class Step:
    action: str  # fill | answers | step | refer | assign
    pos: Position
    by: Account | None = None
    forms: tuple[str, ...] = ()  # fill: the forms filled; refer: the forms shared
    answers: Mapping[str, Any] = field(default_factory=dict)
    transition: str | None = None
    to: Account | None = None
    comment: str | None = None
    override_reason: str | None = None
    answer: str | None = None  # accept | decline: how the referral's recipient answers
    answer_comment: str | None = None


@dataclass(frozen=True)
class DemoPath:
    id: str
    record_type: str
    stage: str | None
    steps: tuple[Step, ...]  # those of the path it continues first
    pos: Position


@dataclass(frozen=True)
class Person:
    path: str
    group: str  # the group whose accounts act (a linked record's: that of the record it is linked to)
    answers: Mapping[str, tuple[Mapping[str, Any], ...]]  # form id -> answer sets, in order of use
    linked: tuple[Person, ...]
    pos: Position


@dataclass(frozen=True)
class SeedWords:
    """What `sanad seed` writes into text answers (`seed:` in demo data): the module's own words.
    An empty tuple leaves the seeder's neutral words; `codes` maps a text field to a code shape."""

    given_names: tuple[str, ...] = ()
    family_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    step_comment: str | None = None
    codes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Demo:
    agency_code: str
    agency_name: str
    groups: tuple[tuple[str, str], ...]  # (code, name)
    paths: Mapping[str, DemoPath]
    people: tuple[Person, ...]
    folder: str
    seed: SeedWords | None = None


def demo_folder(module: Module) -> str | None:
    """The module's demo/ folder, if it holds demo data."""
    folder = os.path.join(module.path, "demo")
    return folder if yaml_files(folder) else None


def resolve_dates(scope: FieldScope, answers: Mapping[str, Any], today: date) -> dict[str, Any]:
    """Answers with relative dates (`today`, `today-30`, `today+7`) of date fields made real."""
    out: dict[str, Any] = {}
    for key, value in answers.items():
        f = scope.fields.get(key)
        if f is not None and f.type == "date" and isinstance(value, str):
            value = relative_date(value, today) or value
        elif f is not None and f.subform is not None and isinstance(value, list):
            value = [resolve_dates(f.subform, row, today) if isinstance(row, dict) else row for row in value]
        out[key] = value
    return out


def relative_date(text: str, today: date) -> str | None:
    m = _RELATIVE_DATE.match(text)
    if m is None:
        return None
    days = int(m.group(2) or 0) * (-1 if m.group(1) == "-" else 1)
    return (today + timedelta(days=days)).isoformat()


def read_demo(module: Module, report: Report) -> Demo | None:
    """The module's demo data, checked against the module; None when it has none or has errors."""
    folder = demo_folder(module)
    if folder is None:
        return None
    reader = Reader(report, module.path)
    docs = [d for f in yaml_files(folder) if (d := reader.read(f, "demo")) is not None]
    if len(docs) != len(yaml_files(folder)):
        return None  # a file that cannot be read: its findings say why; checking the rest would mislead
    errors = len(report.errors)
    demo = _Checker(module, report, folder).build(docs)
    return demo if len(report.errors) == errors else None


class _Checker:
    def __init__(self, module: Module, report: Report, folder: str) -> None:
        self.module, self.report, self.folder = module, report, folder
        self.groups: dict[str, str] = {}
        self.raw_paths: dict[str, tuple[YamlDoc, Path]] = {}
        self.paths: dict[str, DemoPath] = {}

    def build(self, docs: list[YamlDoc]) -> Demo | None:
        agency: tuple[str, str] | None = None
        for doc in docs:
            data = doc.data
            if "agency" in data:
                if agency is not None:
                    self.report.add(doc.at(("agency",), key=True), "ref.duplicate-id", "the demo agency is given twice")
                agency = (data["agency"]["code"], data["agency"]["name"])
            for i, g in enumerate(data.get("groups") or []):
                if g["code"] in self.groups:
                    self.report.add(
                        doc.at(("groups", i, "code")), "ref.duplicate-id", f"the group '{g['code']}' is given twice"
                    )
                self.groups.setdefault(g["code"], g["name"])
            for i, p in enumerate(data.get("paths") or []):
                if p["id"] in self.raw_paths:
                    self.report.add(
                        doc.at(("paths", i, "id")), "ref.duplicate-id", f"the path '{p['id']}' is given twice"
                    )
                    continue
                self.raw_paths[p["id"]] = (doc, ("paths", i))
        missing = [
            what
            for what, there in (
                ("agency", agency),
                ("groups", self.groups),
                ("paths", self.raw_paths),
                ("people", any(d.data.get("people") for d in docs)),
            )
            if not there
        ]
        if missing:
            self.report.add(
                Position(self.folder),
                "demo.incomplete",
                f"the demo data has no {', '.join(missing)}",
                "see 'Demo data' in docs/definitions.md for what demo/ holds",
            )
            return None
        assert agency is not None
        for pid in self.raw_paths:
            self.path(pid, ())
        people = tuple(
            person
            for doc in docs
            for i, raw in enumerate(doc.data.get("people") or [])
            if (person := self.person(doc, ("people", i), raw, None)) is not None
        )
        seed = next((self.seed_words(doc) for doc in docs if "seed" in doc.data), None)
        return Demo(agency[0], agency[1], tuple(self.groups.items()), self.paths, people, self.folder, seed)

    # -- what `sanad seed` writes ----------------------------------------------------------------------
    def seed_words(self, doc: YamlDoc) -> SeedWords:
        raw = doc.data["seed"]
        texts = {
            f.id
            for rt in self.module.record_types.values()
            for f in rt.scope.fields.values()
            if f.type == "text" and f.subform is None
        }
        codes: dict[str, str] = {}
        for fid, shape in (raw.get("codes") or {}).items():
            if fid not in texts:
                self.report.add(
                    doc.at(("seed", "codes", fid), key=True),
                    "ref.unknown-field",
                    f"no record type has a top-level text field '{fid}' to give codes to",
                    did_you_mean(fid, texts),
                )
                continue
            codes[fid] = shape
        words = {k: tuple(raw.get(k) or ()) for k in ("given_names", "family_names", "notes", "places", "times")}
        return SeedWords(**words, step_comment=raw.get("step_comment"), codes=codes)

    # -- paths -----------------------------------------------------------------------------------------
    def path(self, pid: str, seen: tuple[str, ...]) -> DemoPath | None:
        if pid in self.paths:
            return self.paths[pid]
        doc, at = self.raw_paths[pid]
        raw = doc.data["paths"][at[1]]
        rt = self.module.record_types.get(raw["record_type"])
        if rt is None:
            self.report.add(
                doc.at((*at, "record_type")),
                "ref.unknown-record-type",
                f"there is no record type '{raw['record_type']}'",
                did_you_mean(raw["record_type"], self.module.record_types),
            )
            return None
        before: tuple[Step, ...] = ()
        if "continues" in raw:
            base_id = raw["continues"]
            if base_id in (*seen, pid) or base_id not in self.raw_paths:
                circular = base_id in (*seen, pid)
                self.report.add(
                    doc.at((*at, "continues")),
                    "demo.unknown-path",
                    f"the path '{pid}' continues '{base_id}', which leads back to it"
                    if circular
                    else f"there is no path '{base_id}' to continue",
                    None if circular else did_you_mean(base_id, self.raw_paths),
                )
                return None
            base = self.path(base_id, (*seen, pid))
            if base is None:
                return None
            if base.record_type != rt.id:
                self.report.add(
                    doc.at((*at, "continues")),
                    "demo.unknown-path",
                    f"the path '{base_id}' is for the record type '{base.record_type}', not '{rt.id}'",
                )
                return None
            before = base.steps
        own = [
            s for j, item in enumerate(raw["steps"]) if (s := self.step(doc, (*at, "steps", j), item, rt)) is not None
        ]
        if len(own) != len(raw["steps"]):
            return None
        path = DemoPath(pid, rt.id, raw.get("stage"), (*before, *own), doc.at((*at, "id")))
        if self.walk(path, doc, at, rt):
            self.paths[pid] = path
            return path
        return None

    def account(self, doc: YamlDoc, at: Path, text: str) -> Account | None:
        role, _, group = text.partition("@")
        if role not in self.module.roles:
            self.report.add(
                doc.at(at),
                "demo.unknown-account",
                f"there is no role '{role}'",
                did_you_mean(role, self.module.roles) or f"the roles are: {', '.join(self.module.roles)}",
            )
            return None
        if group and group not in self.groups:
            self.report.add(
                doc.at(at),
                "demo.unknown-account",
                f"the demo has no group '{group}'",
                did_you_mean(group, self.groups) or f"the groups are: {', '.join(self.groups)}",
            )
            return None
        return Account(role, group or None)

    def step(self, doc: YamlDoc, at: Path, raw: dict[str, Any], rt: RecordType) -> Step | None:
        actions = [a for a in ACTIONS if a in raw]
        if len(actions) != 1:
            self.report.add(
                doc.at(at),
                "demo.bad-step",
                "a step needs exactly one of fill, answers, step, refer or assign"
                + (f", not {' and '.join(actions)}" if actions else ""),
                "write each action as its own step",
            )
            return None
        action = actions[0]
        for key, allowed in _ONLY.items():
            if key in raw and action not in allowed:
                self.report.add(
                    doc.at((*at, key), key=True),
                    "demo.bad-step",
                    f"'{key}' does not apply to a {action} step",
                    f"'{key}' goes with {' or '.join(allowed)}",
                )
                return None
        accounts = {k: self.account(doc, (*at, k), raw[k]) for k in ("by", "to", "assign") if k in raw}
        if any(a is None for a in accounts.values()):
            return None
        forms: tuple[str, ...] = ()
        if action in ("fill", "refer"):
            key = "fill" if action == "fill" else "forms"
            listed = raw[key] if isinstance(raw[key], list) else [raw[key]]
            for j, fid in enumerate(listed):
                if fid not in rt.forms:
                    self.report.add(
                        doc.at((*at, key, j) if isinstance(raw[key], list) else (*at, key)),
                        "ref.unknown-form",
                        f"the record type '{rt.id}' has no form '{fid}'",
                        did_you_mean(fid, rt.forms),
                    )
                    return None
            forms = tuple(listed)
        if action == "answers" and not self.answers(doc, (*at, "answers"), raw["answers"], rt.scope, None):
            return None
        transition = raw.get("step") or raw.get("refer")
        if transition is not None:
            wf = self.module.workflow_for(rt.id)
            t = wf.transitions.get(transition) if wf else None
            if t is None or t.referral != (action == "refer"):
                wrong_kind = t is not None
                self.report.add(
                    doc.at((*at, action)),
                    "demo.bad-step" if wrong_kind else "demo.unknown-transition",
                    (
                        f"'{transition}' is a referral: write 'refer: {transition}'"
                        if action == "step"
                        else f"'{transition}' is not a referral: write 'step: {transition}'"
                    )
                    if wrong_kind
                    else f"the workflow of '{rt.id}' has no transition '{transition}'",
                    None if wrong_kind else did_you_mean(transition, wf.transitions if wf else {}),
                )
                return None
        return Step(
            action,
            doc.at(at),
            by=accounts.get("by"),
            forms=forms,
            answers=raw.get("answers") or {},
            transition=transition,
            to=accounts.get("to") or accounts.get("assign"),
            comment=raw.get("comment"),
            override_reason=raw.get("override_reason"),
            answer=raw.get("answer"),
            answer_comment=raw.get("answer_comment"),
        )

    def walk(self, path: DemoPath, doc: YamlDoc, at: Path, rt: RecordType) -> bool:
        """Follow the path through the workflow: each step possible at its stage, for its role."""
        wf = self.module.workflow_for(rt.id)
        owner = self.owner_role(rt)
        stage = wf.initial if wf else None
        for step in path.steps:
            if step.transition is None or wf is None:
                continue
            t = wf.transitions[step.transition]
            role = step.by.role if step.by else owner
            if stage not in t.from_states or role not in t.roles:
                why = (
                    f"the record is at the stage '{stage}', and '{t.id}' starts from {', '.join(t.from_states)}"
                    if stage not in t.from_states
                    else f"the role '{role}' may not take it (it is for {', '.join(t.roles)})"
                )
                self.report.add(
                    step.pos, "demo.step-not-possible", f"the path '{path.id}' cannot take '{t.id}' here: {why}"
                )
                return False
            stage = t.to or stage
        if path.stage is not None and stage != path.stage:
            self.report.add(
                doc.at((*at, "stage")),
                "demo.wrong-stage",
                f"the steps of '{path.id}' end at the stage '{stage}', not '{path.stage}'",
                f"write 'stage: {stage}', or change the steps",
            )
            return False
        return True

    def owner_role(self, rt: RecordType) -> str | None:
        """The role that records are created by: the first that may create this record type."""
        return next((r.id for r in self.module.roles.values() if r.can(f"{rt.id}.create")), None)

    # -- people -----------------------------------------------------------------------------------------
    def person(self, doc: YamlDoc, at: Path, raw: dict[str, Any], parent_group: str | None) -> Person | None:
        path = self.paths.get(raw["path"])
        if path is None:
            if raw["path"] not in self.raw_paths:
                self.report.add(
                    doc.at((*at, "path")),
                    "demo.unknown-path",
                    f"there is no path '{raw['path']}'",
                    did_you_mean(raw["path"], self.raw_paths),
                )
            return None  # a broken path was reported where it is written
        group = raw.get("group") or parent_group or next(iter(self.groups))
        if group not in self.groups:
            self.report.add(
                doc.at((*at, "group")),
                "demo.unknown-account",
                f"the demo has no group '{group}'",
                did_you_mean(group, self.groups),
            )
            return None
        rt = self.module.record_types[path.record_type]
        fills: dict[str, int] = {}
        for step in path.steps:
            if step.action == "fill":
                for fid in step.forms:
                    fills[fid] = fills.get(fid, 0) + 1
        answers: dict[str, tuple[Mapping[str, Any], ...]] = {}
        ok = True
        for fid, given in (raw.get("answers") or {}).items():
            fat = (*at, "answers", fid)
            if fid not in rt.forms:
                self.report.add(
                    doc.at(fat, key=True),
                    "ref.unknown-form",
                    f"the record type '{rt.id}' has no form '{fid}'",
                    did_you_mean(fid, rt.forms),
                )
                ok = False
                continue
            sets = given if isinstance(given, list) else [given]
            for k, one in enumerate(sets):
                where = (*fat, k) if isinstance(given, list) else fat
                ok = self.answers(doc, where, one, rt.scope, fid) and ok
            if len(sets) > fills.get(fid, 0):
                self.report.add(
                    doc.at(fat, key=True),
                    "demo.unused-answers",
                    f"the path '{path.id}' fills '{fid}' {_times(fills.get(fid, 0))}, but {len(sets)} answer sets are given",
                    "remove the extra answers, or add fill steps to the path",
                )
            answers[fid] = tuple(sets)
        linked = []
        for j, child in enumerate(raw.get("linked") or []):
            made = self.person(doc, (*at, "linked", j), child, group)
            ok = made is not None and ok
            if made is not None:
                linked.append(made)
        return Person(path.id, group, answers, tuple(linked), doc.at(at)) if ok else None

    def answers(self, doc: YamlDoc, at: Path, given: dict[str, Any], scope: FieldScope, form: str | None) -> bool:
        ok = True
        for key, value in given.items():
            f = scope.fields.get(key)
            if f is None or (form is not None and f.form_id != form):
                where = f"the form '{form}'" if form is not None and scope.owner is None else "here"
                self.report.add(
                    doc.at((*at, key), key=True),
                    "ref.unknown-field",
                    f"there is no field '{key}' in {where}"
                    + (f" (it is on the form '{f.form_id}')" if f is not None else ""),
                    did_you_mean(key, [k for k, x in scope.fields.items() if form is None or x.form_id == form]),
                )
                ok = False
                continue
            if value is None:
                continue  # clears the answer
            problem = self.answer_problem(f, value)
            if problem is None and f.subform is not None:
                for r, row in enumerate(value):
                    ok = self.answers(doc, (*at, key, r), row, f.subform, None) and ok
            elif problem is not None:
                self.report.add(doc.at((*at, key)), "demo.bad-answer", f"'{key}: {value}': {problem}", _hint(f))
                ok = False
        return ok

    @staticmethod
    def answer_problem(f: Field, value: Any) -> str | None:
        if f.type in ("calculate", "note"):
            return "this field is calculated; it takes no answer"
        if f.type == "date" and isinstance(value, str) and _RELATIVE_DATE.match(value):
            return None
        normal, problem = normalize(f, value)
        if problem is not None:
            return problem.rstrip(".")
        if f.choices is not None and normal != "":
            allowed = {c.value for c in f.choices}
            wrong = [v for v in (normal if isinstance(normal, list) else [normal]) if v not in allowed]
            if wrong:
                return f"'{wrong[0]}' is not one of its choices"
        return None


def _times(n: int) -> str:
    return {0: "nowhere", 1: "once", 2: "twice"}.get(n, f"{n} times")


def _hint(f: Field) -> str | None:
    if f.choices is not None:
        return f"the choices are: {', '.join(c.value for c in f.choices[:12])}"
    if f.type == "date":
        return "write a date as YYYY-MM-DD, or relative to the day of seeding: today, today-30, today+7"
    return None
