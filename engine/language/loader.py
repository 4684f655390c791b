"""Load a module folder: read YAML, check it against the schemas, build the model, check meaning,
compile every expression, and order calculations. Bad input only ever produces diagnostics.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.diagnostics import Position, Report, did_you_mean
from engine.expressions.compiler import FIELD_VALUE_TYPES, ExprContext, Expression, compile_expression
from engine.expressions.values import as_number, parse_date
from engine.language import schema
from engine.language.answers import normalize
from engine.language.dependencies import order_record_type
from engine.language.model import (
    MODULE_PERMISSIONS,
    RECORD_ACTIONS,
    YES_NO_CHOICES,
    Choice,
    Field,
    FieldScope,
    Form,
    Guard,
    Lookup,
    Module,
    RecordType,
    Role,
    State,
    Transition,
    Workflow,
)
from engine.language.overlay import Merger
from engine.language.yamlfile import Path, YamlDoc, read_file

_FOLDERS = {"forms": "form", "lookups": "lookup", "workflows": "workflow", "tests": "scenarios"}
_OTHER_FOLDERS = {"locales", "docs"}  # folders of a module that hold no definitions
_LIMIT_TYPES = {"integer", "decimal", "date", "datetime", "subform"}


@dataclass
class LoadResult:
    module: Module | None
    report: Report
    docs: dict[str, list[YamlDoc]] = field(default_factory=dict)  # kind -> schema-valid documents
    files: ModuleFiles | None = None


def _yaml_files(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith((".yaml", ".yml")))


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


class _Loader:
    def __init__(self, root: str, report: Report, given_root: str) -> None:
        self.root = root
        self.given_root = given_root
        self.report = report
        self.broken: set[tuple[str, str]] = set()  # (kind, id or file stem) of files with errors
        self.broken_files: set[str] = set()
        self.transition_docs: dict[int, tuple[YamlDoc, Path]] = {}
        self.lookups: dict[str, Lookup] = {}
        self.lookup_docs: dict[str, YamlDoc] = {}
        self.used_lookups: set[str] = set()
        self.forms: dict[str, Form] = {}
        self.form_docs: dict[str, YamlDoc] = {}
        self.record_types: dict[str, RecordType] = {}
        self.workflows: dict[str, Workflow] = {}
        self.roles: dict[str, Role] = {}
        self.calc_types: dict[int, str] = {}
        self.calc_busy: set[int] = set()
        self.pending: list[tuple[Field, YamlDoc, Path]] = []

    # -- files --------------------------------------------------------------------------------
    def rel(self, file: str) -> str:
        """A file's name relative to the module folder, for messages that mention another file."""
        return os.path.relpath(file, self.given_root)

    def read_raw(self, path: str) -> YamlDoc | None:
        """Parse a file; None (and the file remembered as broken) if it cannot be read or is empty."""
        doc = read_file(path, self.report)
        if doc is None:
            self.broken_files.add(path)
            return None
        if doc.data is None:
            self.broken_files.add(path)
            self.report.add(
                Position(path),
                "schema.type",
                "the file is empty",
                "see docs/definitions.md for what goes in each file",
            )
            return None
        return doc

    def check(self, doc: YamlDoc, kind: str) -> bool:
        """Check `doc` against the schema of `kind`; a failing file is remembered as broken."""
        if schema.check(doc, kind, self.report):
            return True
        base_kind = kind.removesuffix("_patch")
        self.broken.add((base_kind, _stem(doc.file)))
        if isinstance(doc.data, dict) and isinstance(doc.data.get("id"), str):
            self.broken.add((base_kind, doc.data["id"]))
        return False

    def read(self, path: str, kind: str) -> YamlDoc | None:
        doc = self.read_raw(path)
        if doc is None:
            self.broken.add((kind.removesuffix("_patch"), _stem(path)))
            return None
        return doc if self.check(doc, kind) else None

    def is_broken(self, kind: str, ident: str) -> bool:
        """Was a file for this id dropped because of an error already reported?"""
        return (kind, ident) in self.broken

    # -- lookups ------------------------------------------------------------------------------
    def load_lookup(self, doc: YamlDoc) -> None:
        data = doc.data
        lid = data["id"]
        if lid != _stem(doc.file):
            self.report.add(
                doc.at(("id",)),
                "ref.id-mismatch",
                f"the lookup id '{lid}' differs from its file name",
                f"rename the file to {lid}.yaml or the id to '{_stem(doc.file)}'",
            )
        if lid in self.lookups:
            first = self.lookups[lid].pos
            self.report.add(
                doc.at(("id",)),
                "ref.duplicate-id",
                f"the lookup '{lid}' is already defined in {self.rel(first.file)}:{first.line}",
            )
            return
        choices = self.build_choices(data["choices"], doc, ("choices",))
        self.lookups[lid] = Lookup(lid, data.get("title"), choices, doc.at(("id",)))
        self.lookup_docs[lid] = doc

    def build_choices(self, items: list[dict[str, Any]], doc: YamlDoc, path: Path) -> tuple[Choice, ...]:
        seen: dict[str, int] = {}
        out = []
        for i, item in enumerate(items):
            value = item["value"]
            if value in seen:
                self.report.add(
                    doc.at((*path, i, "value")),
                    "ref.duplicate-id",
                    f"the choice value '{value}' is already used (item {seen[value] + 1} of this list)",
                    "choice values must be unique within a list",
                )
                continue
            seen[value] = i
            self._label(doc, (*path, i, "label"), item["label"])
            keys = {k: v for k, v in item.items() if k not in ("value", "label")}
            out.append(Choice(value, item["label"], keys))
        return tuple(out)

    def _label(self, doc: YamlDoc, path: Path, text: Any) -> None:
        if isinstance(text, str) and not text.strip():
            self.report.add(doc.at(path), "label.empty", "this label is blank", "write the text people should see")

    # -- module.yaml --------------------------------------------------------------------------
    def load_module_file(self, doc: YamlDoc) -> None:
        data = doc.data
        if data["default_locale"] not in data["locales"]:
            self.report.add(
                doc.at(("default_locale",)),
                "module.locale",
                f"the default locale '{data['default_locale']}' is not in 'locales'",
                f"add '{data['default_locale']}' to locales",
            )
        self._label(doc, ("title",), data["title"])
        for rt_id, rt in data["record_types"].items():
            self._label(doc, ("record_types", rt_id, "title"), rt["title"])
            self.record_types[rt_id] = RecordType(
                rt_id,
                rt["title"],
                tuple(rt["forms"]),
                rt.get("workflow"),
                FieldScope(),
                recorded_from=tuple(rt.get("recorded_from", ())),
                link_action=rt.get("link_action"),
            )
            if "link_action" in rt:
                self._label(doc, ("record_types", rt_id, "link_action"), rt["link_action"])

    # -- forms and fields ---------------------------------------------------------------------
    def load_form(self, doc: YamlDoc) -> None:
        data = doc.data
        fid = data["id"]
        if fid != _stem(doc.file):
            self.report.add(
                doc.at(("id",)),
                "ref.id-mismatch",
                f"the form id '{fid}' differs from its file name",
                f"rename the file to {fid}.yaml or the id to '{_stem(doc.file)}'",
            )
        if fid in self.forms:
            first = self.forms[fid].pos
            self.report.add(
                doc.at(("id",)),
                "ref.duplicate-id",
                f"the form '{fid}' is already defined in {self.rel(first.file)}:{first.line}",
            )
            return
        rt_id = data["record_type"]
        self._label(doc, ("title",), data["title"])
        rt = self.record_types.get(rt_id)
        form = Form(fid, data["title"], rt_id, (), doc.at(("id",)), None, data.get("description"))
        self.forms[fid] = form
        self.form_docs[fid] = doc
        if rt is None:
            self.broken.add(("form", fid))
            self.report.add(
                doc.at(("record_type",)),
                "ref.unknown-record-type",
                f"the record type '{rt_id}' is not defined in module.yaml",
                did_you_mean(rt_id, self.record_types) or "add it under record_types in module.yaml",
            )
            return
        form.fields = tuple(self.build_fields(data["fields"], doc, ("fields",), fid, rt.scope, rt))

    def build_fields(
        self, items: list[dict[str, Any]], doc: YamlDoc, path: Path, form_id: str, scope: FieldScope, rt: RecordType
    ) -> list[Field]:
        out = []
        for i, raw in enumerate(items):
            fpath = (*path, i)
            fid = raw["id"]
            f = Field(
                id=fid,
                type=raw["type"],
                label=raw["label"],
                pos=doc.at((*fpath, "id")),
                form_id=form_id,
                scope=scope,
                hint=raw.get("hint"),
                required_message=raw.get("required_message"),
                constraint_message=raw.get("constraint_message"),
                default=raw.get("default"),
                read_only=bool(raw.get("read_only", False)) or raw["type"] == "calculate",
                sensitivity=raw.get("sensitivity", "none"),
                min=raw.get("min"),
                max=raw.get("max"),
                raw=raw,
                yaml_path=fpath,
            )
            self._label(doc, (*fpath, "label"), raw["label"])
            if fid in rt.all_fields:
                first = rt.all_fields[fid].pos
                self.report.add(
                    f.pos,
                    "ref.duplicate-id",
                    f"the field '{fid}' is already defined in {self.rel(first.file)}:{first.line}",
                    "field ids must be unique within a record type, across its forms and subforms",
                )
                continue
            rt.all_fields[fid] = f
            scope.fields[fid] = f
            self.check_field_keys(f, doc, fpath)
            if f.type == "subform" and "fields" in raw:
                f.subform = FieldScope(parent=scope, owner=f)
                self.build_fields(raw["fields"], doc, (*fpath, "fields"), form_id, f.subform, rt)
            elif f.type == "subform":
                self.report.add(
                    f.pos,
                    "field.subform-empty",
                    f"the subform '{fid}' has no fields",
                    "add 'fields:' with the fields of each row",
                )
            out.append(f)
            self.pending.append((f, doc, fpath))
        return out

    def check_field_keys(self, f: Field, doc: YamlDoc, fpath: Path) -> None:
        raw, t = f.raw, f.type

        def not_allowed(key: str, why: str) -> None:
            self.report.add(
                doc.at((*fpath, key), key=True), "field.key-not-allowed", f"'{key}' does not apply to a {t} field", why
            )

        if t in ("select_one", "select_multiple") or (t == "calculate" and "choices" in raw):
            if "choices" not in raw:
                self.report.add(
                    f.pos,
                    "field.choices-missing",
                    f"the {t} field '{f.id}' has no choices",
                    "add 'choices: <lookup id>' or an inline list of {value, label}",
                )
            elif isinstance(raw["choices"], str):
                lid = raw["choices"]
                self.used_lookups.add(lid)
                if lid in self.lookups:
                    f.choices, f.lookup_id = self.lookups[lid].choices, lid
                elif not self.is_broken("lookup", lid):
                    self.report.add(
                        doc.at((*fpath, "choices")),
                        "ref.unknown-lookup",
                        f"there is no lookup '{lid}'",
                        did_you_mean(lid, self.lookups) or f"add lookups/{lid}.yaml",
                    )
            else:
                f.choices = self.build_choices(raw["choices"], doc, (*fpath, "choices"))
        elif t == "yes_no":
            f.choices = tuple(Choice(v, label) for v, label in YES_NO_CHOICES)
            if "choices" in raw:
                not_allowed("choices", "yes_no fields always answer 'yes' or 'no'; use select_one for other options")
        elif "choices" in raw:
            not_allowed("choices", "only select_one, select_multiple and calculate fields have choices")
        if "choice_filter" in raw and t not in ("select_one", "select_multiple"):
            not_allowed("choice_filter", "only select fields can filter their choices")
        if "calculate" in raw and t != "calculate":
            not_allowed("calculate", "use type: calculate for a computed field")
        if t == "calculate" and "calculate" not in raw:
            self.report.add(
                f.pos,
                "field.calculate-missing",
                f"the calculate field '{f.id}' has no 'calculate'",
                "add 'calculate: <expression>'",
            )
        if "fields" in raw and t != "subform":
            not_allowed("fields", "only subform fields have fields of their own")
        if t in ("note", "calculate"):
            for key in ("required", "constraint", "default"):
                if key in raw:
                    not_allowed(key, "this field has no answer of its own")
        if t == "subform" and "default" in raw:
            not_allowed("default", "subforms start with no rows")
        for key in ("min", "max"):
            if key in raw and t not in _LIMIT_TYPES:
                not_allowed(key, "min/max apply to integer, decimal, date, datetime and subform fields")
        if t in _LIMIT_TYPES:
            self.check_limits(f, doc, fpath)

    def check_limits(self, f: Field, doc: YamlDoc, fpath: Path) -> None:
        parsed: dict[str, Any] = {}
        for key in ("min", "max"):
            v = f.raw.get(key)
            if v is None:
                continue
            if f.type in ("date", "datetime"):
                ok = isinstance(v, str) and parse_date(v) is not None
                want = "a date written 'YYYY-MM-DD'"
            else:
                ok = as_number(v) is not None and not isinstance(v, str)
                if f.type in ("integer", "subform") and ok:
                    ok = float(v).is_integer()
                want = "a whole number" if f.type in ("integer", "subform") else "a number"
            if not ok:
                self.report.add(doc.at((*fpath, key)), "field.bad-limit", f"'{key}' of '{f.id}' must be {want}", None)
            else:
                parsed[key] = v
        if "min" in parsed and "max" in parsed and parsed["min"] > parsed["max"]:
            self.report.add(doc.at((*fpath, "min")), "field.bad-limit", f"min is above max for '{f.id}'", "swap them")

    def check_default(self, f: Field, doc: YamlDoc, fpath: Path) -> None:
        if f.default is None or "default" not in f.raw:
            return
        value, problem = normalize(f, f.default)
        if problem is None and f.choices is not None and value != "":
            allowed = {c.value for c in f.choices}
            wrong = [v for v in (value if isinstance(value, list) else [value]) if v not in allowed]
            if wrong:
                problem = f"'{wrong[0]}' is not one of its choices"
                hint = did_you_mean(wrong[0], allowed) or f"the choices are: {', '.join(sorted(allowed)[:12])}"
                self.report.add(
                    doc.at((*fpath, "default")),
                    "field.bad-default",
                    f"the default of '{f.id}' is not a valid answer: {problem}",
                    hint,
                )
                return
        if problem is not None:
            self.report.add(
                doc.at((*fpath, "default")),
                "field.bad-default",
                f"the default of '{f.id}' is not a valid answer: {problem}",
            )

    # -- expressions --------------------------------------------------------------------------
    def type_of(self, rt: RecordType) -> Callable[[Field], str]:
        def type_of(f: Field) -> str:
            if f.type != "calculate":
                return FIELD_VALUE_TYPES[f.type]
            key = id(f)
            if key in self.calc_types:
                return self.calc_types[key]
            if key in self.calc_busy or "calculate" not in f.raw:
                return "any"  # a cycle, reported by the dependency check
            self.calc_busy.add(key)
            try:
                doc = self.form_docs[f.form_id]
                expr = self.expr(
                    f.raw["calculate"], doc, (*f.yaml_path, "calculate"), "calculate", f.scope, rt, f, quiet=True
                )
                self.calc_types[key] = expr.type if expr else "any"
            finally:
                self.calc_busy.discard(key)
            return self.calc_types[key]

        return type_of

    def expr(
        self,
        source: str,
        doc: YamlDoc,
        path: Path,
        kind: str,
        scope: FieldScope,
        rt: RecordType,
        self_field: Field | None = None,
        choice_keys: frozenset[str] | None = None,
        quiet: bool = False,
    ) -> Expression | None:
        ctx = ExprContext(
            kind,
            scope,
            rt.all_fields,
            self.type_of(rt),
            self_field,
            choice_keys,
            path in doc.quoted,
            lambda offset: doc.locate(path, source, offset),
        )
        return compile_expression(source, doc.at(path), ctx, Report() if quiet else self.report)

    def compile_fields(self, rt: RecordType) -> None:
        for f, doc, fpath in [p for p in self.pending if p[0].form_id in rt.forms]:
            raw = f.raw
            if "relevant" in raw:
                f.relevant = self.expr(raw["relevant"], doc, (*fpath, "relevant"), "relevant", f.scope, rt, f)
            if isinstance(raw.get("required"), str):
                f.required = self.expr(raw["required"], doc, (*fpath, "required"), "required", f.scope, rt, f) or False
            elif isinstance(raw.get("required"), bool):
                f.required = raw["required"]
            if "constraint" in raw and f.type not in ("note", "calculate"):
                f.constraint = self.expr(raw["constraint"], doc, (*fpath, "constraint"), "constraint", f.scope, rt, f)
            if "calculate" in raw and f.type == "calculate":
                f.calculate = self.expr(raw["calculate"], doc, (*fpath, "calculate"), "calculate", f.scope, rt, f)
            if "choice_filter" in raw and f.choices is not None:
                keys = frozenset({"value"} | {k for c in f.choices for k in c.keys})
                f.choice_filter = self.expr(
                    raw["choice_filter"], doc, (*fpath, "choice_filter"), "choice_filter", f.scope, rt, f, keys
                )
            self.check_default(f, doc, fpath)

    # -- workflows ----------------------------------------------------------------------------
    def load_workflow(self, doc: YamlDoc) -> None:
        data = doc.data
        wid = data["id"]
        if wid != _stem(doc.file):
            self.report.add(
                doc.at(("id",)),
                "ref.id-mismatch",
                f"the workflow id '{wid}' differs from its file name",
                f"rename the file to {wid}.yaml or the id to '{_stem(doc.file)}'",
            )
        if wid in self.workflows:
            first = self.workflows[wid].pos
            self.report.add(
                doc.at(("id",)),
                "ref.duplicate-id",
                f"the workflow '{wid}' is already defined in {self.rel(first.file)}:{first.line}",
            )
            return
        states: dict[str, State] = {}
        for i, s in enumerate(data["states"]):
            if s["id"] in states:
                self.report.add(
                    doc.at(("states", i, "id")), "ref.duplicate-id", f"the state '{s['id']}' is defined twice"
                )
                continue
            self._label(doc, ("states", i, "label"), s["label"])
            states[s["id"]] = State(s["id"], s["label"], bool(s.get("final", False)), doc.at(("states", i, "id")))
        wf = Workflow(wid, data["record_type"], data["initial"], states, {}, doc.at(("id",)))
        self.workflows[wid] = wf

        def state_ref(value: str, path: Path) -> bool:
            if value in states:
                return True
            self.report.add(
                doc.at(path),
                "ref.unknown-state",
                f"the workflow '{wid}' has no state '{value}'",
                did_you_mean(value, states) or f"the states are: {', '.join(states)}",
            )
            return False

        state_ref(wf.initial, ("initial",))
        rt = self.record_types.get(wf.record_type)
        if rt is None:
            self.report.add(
                doc.at(("record_type",)),
                "ref.unknown-record-type",
                f"the record type '{wf.record_type}' is not defined in module.yaml",
                did_you_mean(wf.record_type, self.record_types),
            )
        for i, t in enumerate(data["transitions"]):
            tpath: Path = ("transitions", i)
            if t["id"] in wf.transitions:
                self.report.add(
                    doc.at((*tpath, "id")), "ref.duplicate-id", f"the transition '{t['id']}' is defined twice"
                )
                continue
            self._label(doc, (*tpath, "label"), t["label"])
            for j, s in enumerate(t["from"]):
                state_ref(s, (*tpath, "from", j))
            if "to" in t:
                state_ref(t["to"], (*tpath, "to"))
            tr = Transition(
                t["id"],
                t["label"],
                tuple(t["from"]),
                t.get("to"),
                tuple(t["roles"]),
                doc.at((*tpath, "id")),
                requires_forms=tuple(t.get("requires_forms", ())),
                approval=bool(t.get("approval", False)) or any(s.endswith("_requested") for s in t["from"]),
                referral=bool(t.get("referral", False)),
            )
            if not tr.roles:
                self.report.add(
                    doc.at((*tpath, "roles")),
                    "workflow.no-roles",
                    f"no role may take the transition '{tr.id}'",
                    "list the roles that may take it",
                )
            for j, fid in enumerate(tr.requires_forms):
                form = self.forms.get(fid)
                if (form is None and not self.is_broken("form", fid)) or (
                    form is not None and form.record_type != wf.record_type
                ):
                    self.report.add(
                        doc.at((*tpath, "requires_forms", j)),
                        "ref.unknown-form",
                        f"the record type '{wf.record_type}' has no form '{fid}'",
                        did_you_mean(fid, rt.form_ids if rt else self.forms),
                    )
            if rt is not None:
                tr.guards = tuple(self.guards(t, doc, tpath, rt))
            wf.transitions[tr.id] = tr
            self.transition_docs[id(tr)] = (doc, tpath)
        self.check_graph(wf, doc)

    def guards(self, t: dict[str, Any], doc: YamlDoc, tpath: Path, rt: RecordType) -> list[Guard]:
        specs: list[tuple[Path, dict[str, Any]]] = []
        if "when" in t:
            specs.append(((*tpath, "when"), {"when": t["when"], "message": t.get("when_message")}))
        specs.extend(((*tpath, "guards", i, "when"), g) for i, g in enumerate(t.get("guards", ())))
        out = []
        for when_path, g in specs:
            expr = self.expr(g["when"], doc, when_path, "when", rt.scope, rt)
            override = g.get("override")
            if override is not None and override not in self.known_permissions():
                self.report.add(
                    doc.at((*when_path[:-1], "override")),
                    "ref.unknown-permission",
                    f"'{override}' is not a permission Sanad knows",
                    did_you_mean(override, self.known_permissions()) or "for consent, use consent_override",
                )
            if expr is not None:
                key = "when_message" if when_path[-1] == "when" and len(when_path) == len(tpath) + 1 else None
                where = "/".join(str(p) for p in when_path[len(tpath) : -1])
                suffix = key or f"{where}/message"
                path = f"workflows/{doc.data['id']}/transitions/{t['id']}/{suffix}"
                out.append(Guard(expr, g.get("message"), override, path))
        return out

    def known_permissions(self) -> list[str]:
        return [f"{rt}.{a}" for rt in self.record_types for a in RECORD_ACTIONS] + list(MODULE_PERMISSIONS)

    def check_graph(self, wf: Workflow, doc: YamlDoc) -> None:
        if wf.initial not in wf.states:
            return
        reached = {wf.initial}
        frontier = [wf.initial]
        while frontier:
            current = frontier.pop()
            for t in wf.transitions.values():
                if current in t.from_states and t.to in wf.states and t.to not in reached:
                    reached.add(t.to)
                    frontier.append(t.to)
        for s in wf.states.values():
            if s.id not in reached:
                self.report.add(
                    s.pos,
                    "workflow.unreachable-state",
                    f"no transition leads to the state '{s.id}' from the initial state '{wf.initial}'",
                    "add a transition to it, or remove the state",
                )
            elif not s.final and not any(s.id in t.from_states and t.to is not None for t in wf.transitions.values()):
                self.report.add(
                    s.pos,
                    "workflow.dead-end",
                    f"the state '{s.id}' is not final but has no way out",
                    "add a transition from it, or mark it 'final: true'",
                )

    # -- roles --------------------------------------------------------------------------------
    def load_roles(self, doc: YamlDoc) -> None:
        known = self.known_permissions()
        for i, r in enumerate(doc.data["roles"]):
            rpath: Path = ("roles", i)
            if r["id"] in self.roles:
                self.report.add(doc.at((*rpath, "id")), "ref.duplicate-id", f"the role '{r['id']}' is defined twice")
                continue
            self._label(doc, (*rpath, "label"), r["label"])
            for j, p in enumerate(r["permissions"]):
                if p not in known:
                    self.report.add(
                        doc.at((*rpath, "permissions", j)),
                        "ref.unknown-permission",
                        f"'{p}' is not a permission Sanad knows",
                        did_you_mean(p, known) or "see the permission list in docs/definitions.md",
                    )
            for mode in ("read", "write"):
                for j, fid in enumerate(r["forms"][mode]):
                    if fid != "*" and fid not in self.forms and not self.is_broken("form", fid):
                        self.report.add(
                            doc.at((*rpath, "forms", mode, j)),
                            "ref.unknown-form",
                            f"there is no form '{fid}'",
                            did_you_mean(fid, self.forms),
                        )
            self.roles[r["id"]] = Role(
                r["id"],
                r["label"],
                r["scope"],
                frozenset(r["permissions"]),
                frozenset(r["forms"]["read"]),
                frozenset(r["forms"]["write"]),
                frozenset(r["sensitivity"]),
                bool(r.get("aggregate_only", False)),
                doc.at((*rpath, "id")),
            )

    # -- cross-file checks --------------------------------------------------------------------
    def link_forms(self, module_doc: YamlDoc) -> None:
        for rt in self.record_types.values():
            listed: list[str] = []
            for j, fid in enumerate(rt.form_ids):
                form = self.forms.get(fid)
                path: Path = ("record_types", rt.id, "forms", j)
                if form is None:
                    if self.is_broken("form", fid):
                        continue
                    self.report.add(
                        module_doc.at(path),
                        "ref.unknown-form",
                        f"there is no form '{fid}'",
                        did_you_mean(fid, self.forms) or f"add forms/{fid}.yaml",
                    )
                elif form.record_type not in self.record_types:
                    continue  # reported at the form as ref.unknown-record-type
                elif form.record_type != rt.id:
                    self.report.add(
                        module_doc.at(path),
                        "ref.form-record-type",
                        f"the form '{fid}' belongs to the record type '{form.record_type}', not '{rt.id}'",
                        f"move it to {form.record_type}'s forms, or change record_type in the form",
                    )
                else:
                    listed.append(fid)
                    rt.forms[fid] = form
            rt.form_ids = tuple(listed)
            rt.list_fields = tuple(module_doc.data["record_types"][rt.id].get("list_fields", ()))
        for fid, form in self.forms.items():
            owner = self.record_types.get(form.record_type)
            if owner is not None and fid not in owner.forms:
                if not any(fid in other.form_ids for other in self.record_types.values()):
                    self.report.add(
                        form.pos,
                        "ref.unused-form",
                        f"no record type lists the form '{fid}'",
                        f"add it to record_types.{form.record_type}.forms in module.yaml",
                    )
                owner.forms[fid] = form  # still checked and compiled, just never shown

    def check_links(self, module_doc: YamlDoc) -> None:
        for rt in self.record_types.values():
            for j, other in enumerate(rt.recorded_from):
                if other not in self.record_types:
                    self.report.add(
                        module_doc.at(("record_types", rt.id, "recorded_from", j)),
                        "ref.unknown-record-type",
                        f"there is no record type '{other}' to record a '{rt.id}' from",
                        did_you_mean(other, self.record_types),
                    )

    def check_list_fields(self, module_doc: YamlDoc) -> None:
        for rt in self.record_types.values():
            for j, fid in enumerate(rt.list_fields):
                f = rt.scope.fields.get(fid)
                if f is None or f.form_id not in rt.forms:
                    self.report.add(
                        module_doc.at(("record_types", rt.id, "list_fields", j)),
                        "ref.unknown-field",
                        f"the record type '{rt.id}' has no top-level field '{fid}' to list",
                        did_you_mean(fid, rt.scope.fields),
                    )

    def link_workflows(self, module_doc: YamlDoc) -> None:
        for rt in self.record_types.values():
            if rt.workflow_id is not None:
                wf = self.workflows.get(rt.workflow_id)
                path = ("record_types", rt.id, "workflow")
                if wf is None and not self.is_broken("workflow", rt.workflow_id):
                    self.report.add(
                        module_doc.at(path),
                        "ref.unknown-workflow",
                        f"there is no workflow '{rt.workflow_id}'",
                        did_you_mean(rt.workflow_id, self.workflows) or f"add workflows/{rt.workflow_id}.yaml",
                    )
                elif wf is not None and wf.record_type != rt.id:
                    self.report.add(
                        module_doc.at(path),
                        "workflow.record-type",
                        f"the workflow '{wf.id}' is for the record type '{wf.record_type}', not '{rt.id}'",
                    )

    def finish_roles(self) -> None:
        for wf in self.workflows.values():
            for t in wf.transitions.values():
                doc, tpath = self.transition_docs[id(t)]
                for j, role in enumerate(t.roles):
                    if role not in self.roles and self.roles:
                        self.report.add(
                            doc.at((*tpath, "roles", j)),
                            "ref.unknown-role",
                            f"the transition '{t.id}' names the role '{role}', which roles.yaml does not define",
                            did_you_mean(role, self.roles),
                        )
        forms_broken = any(kind == "form" for kind, _ in self.broken)
        for lid, lk in self.lookups.items():
            if lid not in self.used_lookups and not forms_broken:  # a broken form may be the user
                self.report.add(
                    lk.pos,
                    "ref.unused-lookup",
                    f"no field uses the lookup '{lid}'",
                    "remove the file, or use it in a field's choices",
                )


@dataclass
class ModuleFiles:
    """The schema-checked documents of a module folder, overlays already merged into them."""

    path: str
    module: YamlDoc | None
    roles: YamlDoc | None
    docs: dict[str, list[YamlDoc]]
    skip_scenarios: set[tuple[str, str]] = field(default_factory=set)  # (file, name) replaced by an overlay
    chain: tuple[str, ...] = ()  # the folders of the modules this one extends, nearest first


_WHOLE_KEYS = {"form": ("fields",), "lookup": ("choices",), "workflow": ("states", "transitions")}


def _check_folder(path: str, report: Report) -> None:
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isfile(full) and name.endswith((".yaml", ".yml")) and name not in ("module.yaml", "roles.yaml"):
            report.add(
                Position(full),
                "module.unexpected-file",
                f"Sanad does not read '{name}' here",
                "forms go in forms/, option lists in lookups/, workflows in workflows/, tests in tests/",
            )
        elif os.path.isdir(full) and name not in _FOLDERS and name not in _OTHER_FOLDERS and not name.startswith("."):
            for file in _yaml_files(full):
                report.add(
                    Position(file),
                    "module.unexpected-file",
                    f"Sanad does not read the folder '{name}'",
                    did_you_mean(name, _FOLDERS)
                    or "forms go in forms/, option lists in lookups/, workflows in workflows/, tests in tests/",
                )


def _read_folder(path: str, ld: _Loader, chain: tuple[str, ...]) -> ModuleFiles:
    module_doc = ld.read(os.path.join(path, "module.yaml"), "module")
    _check_folder(path, ld.report)
    if module_doc is not None and isinstance(module_doc.data.get("extends"), str):
        return _read_overlay(path, module_doc, ld, chain)
    if module_doc is not None and "replaces_scenarios" in module_doc.data:
        ld.report.add(
            module_doc.at(("replaces_scenarios",), key=True),
            "overlay.unknown-target",
            "'replaces_scenarios' only applies to an overlay, and this module extends no other",
            "add 'extends: <path of the base module>' or remove replaces_scenarios",
        )
    docs = {
        kind: [d for f in _yaml_files(os.path.join(path, folder)) if (d := ld.read(f, kind)) is not None]
        for folder, kind in _FOLDERS.items()
    }
    roles_path = os.path.join(path, "roles.yaml")
    roles_doc = ld.read(roles_path, "roles") if os.path.exists(roles_path) else None
    if not os.path.exists(roles_path):
        ld.report.add(
            Position(roles_path),
            "file.unreadable",
            "the module has no roles.yaml",
            "add roles.yaml: every module needs at least one role",
        )
    return ModuleFiles(path, module_doc, roles_doc, docs)


def _read_overlay(path: str, over: YamlDoc, ld: _Loader, chain: tuple[str, ...]) -> ModuleFiles:
    report = ld.report
    empty = ModuleFiles(path, None, None, {kind: [] for kind in _FOLDERS.values()})
    base_path = os.path.normpath(os.path.join(path, over.data["extends"]))
    here = os.path.abspath(path)
    if os.path.abspath(base_path) in (*chain, here):
        report.add(
            over.at(("extends",)),
            "overlay.cycle",
            f"'{over.data['extends']}' leads back to this module: the overlays extend each other in a circle",
            "an overlay extends a base module, which must not extend it back",
        )
        return empty
    if not os.path.isfile(os.path.join(base_path, "module.yaml")):
        report.add(
            over.at(("extends",)),
            "overlay.base-not-found",
            f"there is no module at '{over.data['extends']}' (looked in {base_path})",
            "the path is relative to this module's folder, e.g. ../../definitions/gbv",
        )
        return empty
    base = _read_folder(base_path, ld, (*chain, here))
    merger = Merger(report)

    def merge_kind(kind: str, folder: str) -> list[YamlDoc]:
        by_id: dict[str, YamlDoc] = {}
        for d in base.docs[kind]:
            by_id.setdefault(d.data["id"], d)
        out = dict(by_id)
        for file in _yaml_files(os.path.join(path, folder)):
            doc = ld.read_raw(file)
            if doc is None:
                continue
            whole = not isinstance(doc.data, dict) or any(k in doc.data for k in _WHOLE_KEYS[kind])
            if whole:
                if ld.check(doc, kind):
                    out[doc.data["id"]] = doc
                continue
            if not ld.check(doc, f"{kind}_patch"):
                continue
            ident = doc.data["id"]
            target = by_id.get(ident)
            if target is None:
                if not ld.is_broken(kind, ident):
                    merger.unknown(doc, ("id",), kind, ident, list(by_id))
                continue
            merged = getattr(merger, kind)(target, doc)
            if ld.check(merged, kind):
                out[ident] = merged
        return list(out.values())

    docs = {
        "form": merge_kind("form", "forms"),
        "lookup": merge_kind("lookup", "lookups"),
        "workflow": merge_kind("workflow", "workflows"),
        "scenarios": [
            *base.docs["scenarios"],
            *(d for f in _yaml_files(os.path.join(path, "tests")) if (d := ld.read(f, "scenarios")) is not None),
        ],
    }
    roles_doc = base.roles
    roles_path = os.path.join(path, "roles.yaml")
    if os.path.exists(roles_path):
        patch = ld.read(roles_path, "roles_patch")
        if patch is not None:
            merged_roles = merger.roles(base.roles, patch)
            roles_doc = merged_roles if ld.check(merged_roles, "roles") else None
    module_doc = None
    if base.module is not None:
        merged_module = merger.module(base.module, over)
        module_doc = merged_module if ld.check(merged_module, "module") else None
    skip = set(base.skip_scenarios)
    for i, entry in enumerate(over.data.get("replaces_scenarios") or []):
        matches = [
            (d.file, sc["name"])
            for d in base.docs["scenarios"]
            for sc in d.data["scenarios"]
            if sc.get("name") == entry["name"]
            and (
                "file" not in entry
                or os.path.normpath(os.path.relpath(d.file, base_path)) == os.path.normpath(entry["file"])
            )
        ]
        if not matches:
            names = [sc["name"] for d in base.docs["scenarios"] for sc in d.data["scenarios"]]
            merger.unknown(over, ("replaces_scenarios", i, "name"), "scenario", entry["name"], names)
        skip.update(matches)
    return ModuleFiles(path, module_doc, roles_doc, docs, skip, (base_path, *base.chain))


def load_module(path: str) -> LoadResult:
    """Load the module in folder `path`; `result.module` is None if any error was found."""
    report = Report()
    root = os.path.abspath(path)
    module_file = os.path.join(path, "module.yaml")
    if not os.path.isdir(path) or not os.path.isfile(module_file):
        why = "there is no such folder" if not os.path.exists(path) else "there is no module.yaml in it"
        report.add(
            Position(path),
            "module.not-found",
            f"'{path}' is not a module: {why}",
            "point to the folder that holds module.yaml",
        )
        return LoadResult(None, report)
    ld = _Loader(root, report, path)
    files = _read_folder(path, ld, ())
    docs = files.docs
    result = LoadResult(None, report, docs, files)
    module_doc = files.module
    if module_doc is None:
        return result
    ld.load_module_file(module_doc)
    for d in docs["lookup"]:
        ld.load_lookup(d)
    for d in docs["form"]:
        ld.load_form(d)
    ld.link_forms(module_doc)
    for rt in ld.record_types.values():
        ld.compile_fields(rt)
        for form in rt.forms.values():
            doc = ld.form_docs[form.id]
            if "relevant" in doc.data:
                form.relevant = ld.expr(doc.data["relevant"], doc, ("relevant",), "form_relevant", rt.scope, rt)
        order_record_type(rt, report)
    for d in docs["workflow"]:
        ld.load_workflow(d)
    ld.link_workflows(module_doc)
    ld.check_list_fields(module_doc)
    ld.check_links(module_doc)
    if files.roles is not None:
        ld.load_roles(files.roles)
    ld.finish_roles()
    if report.errors:
        return result
    data = module_doc.data
    result.module = Module(
        id=data["id"],
        title=data["title"],
        version=data["version"],
        default_locale=data["default_locale"],
        locales=tuple(data["locales"]),
        path=root,
        record_types=ld.record_types,
        forms=ld.forms,
        lookups=ld.lookups,
        workflows=ld.workflows,
        roles=ld.roles,
        description=data.get("description"),
        test_files=tuple(d.file for d in docs["scenarios"]),
        extends=tuple(files.chain),
    )
    return result
