"""Building record types, option lists, forms and fields, with every check of their keys, limits
and defaults, and compiling the expressions written on fields."""

from __future__ import annotations

from typing import Any

from engine.diagnostics import did_you_mean
from engine.expressions.values import as_number, parse_date
from engine.language.answers import normalize
from engine.language.builder import ModuleBuilder
from engine.language.model import YES_NO_CHOICES, Choice, Field, FieldScope, Form, Lookup, RecordType, Section
from engine.language.reader import stem
from engine.language.yamlfile import Path, YamlDoc

_LIMIT_TYPES = {"integer", "decimal", "date", "datetime", "subform"}


class FormsBuilder(ModuleBuilder):
    def load_module_file(self, doc: YamlDoc) -> None:
        data = doc.data
        if data["default_locale"] not in data["locales"]:
            self.report.add(
                doc.at(("default_locale",)),
                "module.locale",
                f"the default locale '{data['default_locale']}' is not in 'locales'",
                f"add '{data['default_locale']}' to locales",
            )
        self.label(doc, ("title",), data["title"])
        self.settings = dict(data.get("settings") or {})
        for rt_id, rt in data["record_types"].items():
            self.label(doc, ("record_types", rt_id, "title"), rt["title"])
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
                self.label(doc, ("record_types", rt_id, "link_action"), rt["link_action"])

    def load_lookup(self, doc: YamlDoc) -> None:
        data = doc.data
        lid = data["id"]
        if lid != stem(doc.file):
            self.report.add(
                doc.at(("id",)),
                "ref.id-mismatch",
                f"the lookup id '{lid}' differs from its file name",
                f"rename the file to {lid}.yaml or the id to '{stem(doc.file)}'",
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
        self.lookups[lid] = Lookup(lid, data.get("title"), choices, doc.at(("id",)), tuple(data.get("columns") or ()))
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
            self.label(doc, (*path, i, "label"), item["label"])
            keys = {k: v for k, v in item.items() if k not in ("value", "label")}
            out.append(Choice(value, item["label"], keys))
        return tuple(out)

    def load_form(self, doc: YamlDoc) -> None:
        data = doc.data
        fid = data["id"]
        if fid != stem(doc.file):
            self.report.add(
                doc.at(("id",)),
                "ref.id-mismatch",
                f"the form id '{fid}' differs from its file name",
                f"rename the file to {fid}.yaml or the id to '{stem(doc.file)}'",
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
        self.label(doc, ("title",), data["title"])
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
        layout: list[Field | Section] = []
        form.fields = tuple(self.build_fields(data["fields"], doc, ("fields",), fid, rt.scope, rt, layout=layout))
        form.layout = tuple(layout)

    def build_section(
        self,
        raw: dict[str, Any],
        doc: YamlDoc,
        spath: Path,
        form_id: str,
        scope: FieldScope,
        rt: RecordType,
        parent: Section | None,
    ) -> tuple[Section, list[Field]]:
        """A section: its fields belong to the record's top level, like the fields around it."""
        sid = raw["id"]
        section = Section(sid, raw["label"], doc.at((*spath, "id")), form_id, parent, raw=raw, yaml_path=spath)
        self.label(doc, (*spath, "label"), raw["label"])
        if scope.owner is not None:
            self.report.add(
                section.pos,
                "field.section-in-subform",
                f"the section '{sid}' is inside the subform '{scope.owner.id}'",
                "sections group the questions of a form; put the row's questions directly in the subform",
            )
        taken = self.section_ids.setdefault(rt.id, {})
        if sid in rt.all_fields or sid in taken:
            first = rt.all_fields[sid].pos if sid in rt.all_fields else taken[sid].pos
            self.report.add(
                section.pos,
                "ref.duplicate-id",
                f"the id '{sid}' is already used in {self.rel(first.file)}:{first.line}",
                "section ids share one name space with field ids within a record type; choose another",
            )
        else:
            taken[sid] = section
        for key in raw:
            if key not in ("id", "type", "label", "hint", "relevant", "fields"):
                self.report.add(
                    doc.at((*spath, key), key=True),
                    "field.key-not-allowed",
                    f"'{key}' does not apply to a section",
                    "a section has an id, a label, an optional hint and relevant, and its fields",
                )
        if not raw.get("fields"):
            self.report.add(
                section.pos,
                "field.section-empty",
                f"the section '{sid}' has no fields",
                "add 'fields:' with the questions it groups, or remove the section",
            )
            return section, []
        inner: list[Field | Section] = []
        fields = self.build_fields(raw["fields"], doc, (*spath, "fields"), form_id, scope, rt, section, inner)
        section.items = tuple(inner)
        self.pending_sections.append((section, doc, spath))
        return section, fields

    def build_fields(
        self,
        items: list[dict[str, Any]],
        doc: YamlDoc,
        path: Path,
        form_id: str,
        scope: FieldScope,
        rt: RecordType,
        section: Section | None = None,
        layout: list[Field | Section] | None = None,
    ) -> list[Field]:
        out = []
        for i, raw in enumerate(items):
            fpath = (*path, i)
            fid = raw["id"]
            if raw["type"] == "section":
                sec, inner = self.build_section(raw, doc, fpath, form_id, scope, rt, section)
                out.extend(inner)
                if layout is not None:
                    layout.append(sec)
                continue
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
                section=section,
            )
            self.label(doc, (*fpath, "label"), raw["label"])
            if fid in rt.all_fields or fid in self.section_ids.get(rt.id, {}):
                if fid not in rt.all_fields:
                    first = self.section_ids[rt.id][fid].pos
                    self.report.add(
                        f.pos,
                        "ref.duplicate-id",
                        f"the id '{fid}' is already used by a section in {self.rel(first.file)}:{first.line}",
                        "section ids share one name space with field ids within a record type; choose another",
                    )
                    continue
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
            if layout is not None:
                layout.append(f)
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
                    if not f.choices:
                        self.report.add(
                            doc.at((*fpath, "choices")),
                            "field.choices-missing",
                            f"the option list '{lid}' has no options yet, so '{f.id}' could not be answered",
                            f"add its options to lookups/{lid}.yaml (or in an overlay) before a field uses it",
                        )
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

    def compile_fields(self, rt: RecordType) -> None:
        sections_ok: dict[int, bool] = {}
        for sec, doc, spath in [p for p in self.pending_sections if p[0].form_id in rt.forms]:
            if "relevant" in sec.raw:
                sec.relevant = self.expr(sec.raw["relevant"], doc, (*spath, "relevant"), "relevant", rt.scope, rt)
                sections_ok[id(sec)] = sec.relevant is not None
        for f, doc, fpath in [p for p in self.pending if p[0].form_id in rt.forms]:
            raw = f.raw
            if "relevant" in raw:
                f.relevant = self.expr(raw["relevant"], doc, (*fpath, "relevant"), "relevant", f.scope, rt, f)
            outer = [s for s in (f.section.chain() if f.section else []) if "relevant" in s.raw]
            if outer and all(sections_ok.get(id(s)) for s in outer) and ("relevant" not in raw or f.relevant):
                # a question applies only where its sections do: one expression, so the server, the
                # browser and the dependency order all see the sections' conditions
                parts = [str(s.raw["relevant"]) for s in reversed(outer)]
                if "relevant" in raw:
                    parts.append(str(raw["relevant"]))
                combined = " and ".join(f"({p})" for p in parts)
                f.relevant = self.expr(combined, doc, (*fpath, "relevant"), "relevant", f.scope, rt, f, quiet=True)
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
