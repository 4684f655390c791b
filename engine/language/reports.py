"""Building reports (reports/<id>.yaml): tables of counts over one record type, with the rule for
which records count (including consent checked when the report runs) and what the tables count by.

Every report runs in the database, so its `where` rules may use only what SQL can do: fields,
literals, comparisons, and, or, not. A `shared` report (the de-identified aggregates of an
Information Sharing Protocol) may never count by a direct identifier or by who holds a record."""

from __future__ import annotations

from typing import Any

from engine.diagnostics import did_you_mean
from engine.expressions.compiler import Expression
from engine.expressions.parser import Node
from engine.language.builder import ModuleBuilder
from engine.language.model import (
    YES_NO_CHOICES,
    Consent,
    Dimension,
    ExportColumn,
    ExportDefinition,
    ExportSource,
    Field,
    Measure,
    RecordType,
    ReportDefinition,
    ReportTable,
)
from engine.language.reader import stem
from engine.language.yamlfile import Path, YamlDoc

SPECIAL_DIMENSIONS = ("month", "stage", "owner")
_SQL_OPS = ("lit", "ref", "and", "or", "not", "cmp")


def sql_problem(node: Node) -> Node | None:
    """The first node of an expression that cannot run in the database, if any."""
    if node["op"] not in _SQL_OPS or (node["op"] == "ref" and node.get("up")):
        return node
    for arg in node.get("args", ()):
        found = sql_problem(arg)
        if found is not None:
            return found
    return None


class ReportsBuilder(ModuleBuilder):
    def _head(self, doc: YamlDoc, kind: str) -> RecordType | None:
        """What a report and an export file both start with: an id matching the file name, a title,
        and the record type they read (None, reported, when it is not defined)."""
        data = doc.data
        given = data["id"]
        if given != stem(doc.file):
            self.report.add(
                doc.at(("id",)),
                "ref.id-mismatch",
                f"the {kind} id '{given}' differs from its file name",
                f"rename the file to {given}.yaml or the id to '{stem(doc.file)}'",
            )
        self.label(doc, ("title",), data["title"])
        rt = self.record_types.get(data["record_type"])
        if rt is None:
            self.report.add(
                doc.at(("record_type",)),
                "ref.unknown-record-type",
                f"the record type '{data['record_type']}' is not defined in module.yaml",
                did_you_mean(data["record_type"], self.record_types),
            )
        return rt

    def load_report(self, doc: YamlDoc) -> ReportDefinition | None:
        data = doc.data
        rid = data["id"]
        rt = self._head(doc, "report")
        if rt is None:
            return None
        report = ReportDefinition(
            rid,
            data["title"],
            rt.id,
            (),
            doc.at(("id",)),
            data.get("description"),
            data.get("period", "created"),
            data.get("audience", "shared"),
            suppress_below=int(data.get("suppress_below", self._threshold())),
            roles=tuple(data.get("roles", ())),
        )
        if report.period != "created":
            self._date_field(rt, report.period, doc, ("period",))
        if "where" in data:
            report.where = self._where(data["where"], doc, ("where",), rt)
        filters = []
        for i, name in enumerate(data.get("filters", ())):
            f = self._field(rt, name, doc, ("filters", i))
            if f is not None and self._countable(f, rt, doc, ("filters", i), report):
                filters.append(name)
        report.filters = tuple(filters)
        if "consent" in data:
            report.consent = self._consent(data["consent"], doc, rt)
        for i, role in enumerate(report.roles):
            if role not in self.roles and not self.is_broken("roles", role):
                self.report.add(
                    doc.at(("roles", i)),
                    "ref.unknown-role",
                    f"there is no role '{role}'",
                    did_you_mean(role, self.roles),
                )
        tables = []
        seen: set[str] = set()
        for i, t in enumerate(data["tables"]):
            tpath: Path = ("tables", i)
            if t["id"] in seen:
                self.report.add(doc.at((*tpath, "id")), "ref.duplicate-id", f"the table '{t['id']}' is defined twice")
                continue
            seen.add(t["id"])
            table = self._table(t, doc, tpath, rt, report)
            if table is not None:
                tables.append(table)
        report.tables = tuple(tables)
        return report

    def _threshold(self) -> int:
        value = self.settings.get("small_cell_threshold", 5)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 5

    def _field(self, rt: RecordType, name: str, doc: YamlDoc, path: Path, what: str = "field") -> Field | None:
        f = rt.scope.fields.get(name)
        if f is None:
            self.report.add(
                doc.at(path),
                "ref.unknown-field",
                f"the record type '{rt.id}' has no top-level {what} '{name}'",
                did_you_mean(name, rt.scope.fields),
            )
        return f

    def _date_field(self, rt: RecordType, name: str, doc: YamlDoc, path: Path) -> None:
        f = self._field(rt, name, doc, path, "date field")
        if f is not None and f.type not in ("date", "datetime") and self.type_of(rt)(f) != "date":
            self.report.add(
                doc.at(path),
                "report.bad-dimension",
                f"'{name}' is not a date, so it cannot give the report's period",
                "name a date field, or leave period out to use the date the record was opened",
            )

    def _where(self, source: str, doc: YamlDoc, path: Path, rt: RecordType) -> Expression | None:
        expr = self.expr(source, doc, path, "when", rt.scope, rt)
        if expr is None:
            return None
        bad = sql_problem(expr.ast)
        if bad is not None:
            what = bad.get("fn") or bad["op"]
            self.report.add(
                doc.locate(path, source, bad["at"]) if bad.get("at", -1) >= 0 else doc.at(path),
                "report.not-in-database",
                f"'{what}' cannot run in the database, where reports are counted",
                "a report's rule may use fields, literals, = != < <= > >=, and, or, not; "
                "count a calculated field instead",
            )
            return None
        return expr

    def _consent(self, raw: dict[str, Any], doc: YamlDoc, rt: RecordType) -> Consent | None:
        ok = self._field(rt, raw["field"], doc, ("consent", "field")) is not None
        if "withdrawn" in raw:
            ok = self._field(rt, raw["withdrawn"], doc, ("consent", "withdrawn")) is not None and ok
        linked = raw.get("linked")
        if linked is not None:
            other = self.record_types.get(linked["record_type"])
            if other is None:
                self.report.add(
                    doc.at(("consent", "linked", "record_type")),
                    "ref.unknown-record-type",
                    f"the record type '{linked['record_type']}' is not defined in module.yaml",
                    did_you_mean(linked["record_type"], self.record_types),
                )
                return None
            ok = self._field(other, linked["field"], doc, ("consent", "linked", "field")) is not None and ok
            if "withdrawn" in linked:
                ok = self._field(other, linked["withdrawn"], doc, ("consent", "linked", "withdrawn")) is not None and ok
        if not ok:
            return None
        return Consent(
            raw["field"],
            raw.get("withdrawn"),
            linked["record_type"] if linked else None,
            linked["field"] if linked else None,
            linked.get("withdrawn") if linked else None,
        )

    def _table(
        self, t: dict[str, Any], doc: YamlDoc, tpath: Path, rt: RecordType, report: ReportDefinition
    ) -> ReportTable | None:
        self.label(doc, (*tpath, "title"), t["title"])
        dims = []
        ok = True
        for j, raw in enumerate(t["dimensions"]):
            d = self._dimension(raw, doc, (*tpath, "dimensions", j), rt, report)
            ok = ok and d is not None
            if d is not None:
                dims.append(d)
        measure = None
        if "measure" in t:
            measure = self._measure(t["measure"], doc, (*tpath, "measure"), rt)
            ok = ok and measure is not None
        where = None
        if "where" in t:
            where = self._where(t["where"], doc, (*tpath, "where"), rt)
            ok = ok and where is not None
        stages = tuple(t.get("stages", ()))
        wf = self.workflows.get(rt.workflow_id or "")
        for k, stage in enumerate(stages):
            if wf is None or stage not in wf.states:
                self._bad_dim(
                    doc,
                    (*tpath, "stages", k),
                    f"the workflow of '{rt.id}' has no stage '{stage}'",
                    did_you_mean(stage, wf.states) if wf else None,
                )
                ok = False
        if not ok:
            return None
        chart = t.get("chart") or (
            "line" if any(d.kind == "month" for d in dims) else "stacked" if len(dims) >= 2 else "bar"
        )
        return ReportTable(
            t["id"], t["title"], tuple(dims), doc.at((*tpath, "id")), t.get("description"), chart, measure, where
        )

    def _dimension(
        self, raw: Any, doc: YamlDoc, path: Path, rt: RecordType, report: ReportDefinition
    ) -> Dimension | None:
        if isinstance(raw, str):
            if raw in SPECIAL_DIMENSIONS:
                if raw == "stage" and rt.workflow_id is None:
                    return self._bad_dim(doc, path, f"the record type '{rt.id}' has no workflow, so no stages")
                if raw == "owner" and report.audience == "shared":
                    return self._bad_dim(
                        doc, path, "a shared report cannot count by who holds a record: it would identify staff"
                    )
                return Dimension(raw, raw)
            if "." in raw:
                sub_id, column = raw.split(".", 1)
                sub = rt.scope.fields.get(sub_id)
                if sub is None or sub.subform is None:
                    return self._bad_dim(doc, path, f"'{sub_id}' is not a subform of the record type '{rt.id}'")
                inner = sub.subform.fields.get(column)
                if inner is None:
                    return self._bad_dim(doc, path, f"the subform '{sub_id}' has no column '{column}'")
                if not self._countable(inner, rt, doc, path, report):
                    return None
                return Dimension(raw, "row", field=column, subform=sub_id)
            f = self._field(rt, raw, doc, path)
            if f is None or not self._countable(f, rt, doc, path, report):
                return None
            return Dimension(raw, "field", field=raw)
        self.label(doc, (*path, "label"), raw["label"])
        if "flags" in raw:
            for k, name in enumerate(raw["flags"]):
                f = self._field(rt, name, doc, (*path, "flags", k))
                if f is None:
                    return None
                values = f.choice_values if f.type != "yes_no" else frozenset({"yes", "no"})
                if values is None or "yes" not in values:
                    return self._bad_dim(doc, (*path, "flags", k), f"'{name}' has no answer 'yes' to count")
            return Dimension(raw["id"], "flags", raw["label"], fields=tuple(raw["flags"]))
        choices: frozenset[str] | None = None
        for k, name in enumerate(raw["fields"]):
            f = self._field(rt, name, doc, (*path, "fields", k))
            if f is None or not self._countable(f, rt, doc, (*path, "fields", k), report):
                return None
            if choices is not None and f.choice_values != choices:
                return self._bad_dim(doc, (*path, "fields", k), f"'{name}' has other options than the fields before it")
            choices = f.choice_values
        self.label(doc, (*path, "value", "label"), raw["value"]["label"])
        return Dimension(
            raw["id"],
            "fields",
            raw["label"],
            fields=tuple(raw["fields"]),
            value_id=raw["value"]["id"],
            value_label=raw["value"]["label"],
        )

    def _countable(self, f: Field, rt: RecordType, doc: YamlDoc, path: Path, report: ReportDefinition) -> bool:
        """A field a table counts by: one with options (or a yes/no), never a direct identifier (a
        shared report may not; and direct answers are sealed at rest, out of reach of a count)."""
        if f.sensitivity == "direct":
            why = (
                "a shared report never counts by it"
                if report.audience == "shared"
                else "its answers are encrypted at rest and cannot be counted"
            )
            self._bad_dim(doc, path, f"'{f.id}' is a direct identifier: {why}")
            return False
        if f.choices is None:
            self._bad_dim(
                doc,
                path,
                f"'{f.id}' has no options to count by",
                "count by a field with choices, or give a calculation choices (e.g. an age group)",
            )
            return False
        return True

    def _bad_dim(self, doc: YamlDoc, path: Path, message: str, hint: str | None = None) -> Dimension | None:
        """Report a table dimension that cannot be counted; None, for the caller to return."""
        self.report.add(doc.at(path), "report.bad-dimension", message, hint)
        return None

    def _measure(self, raw: dict[str, Any], doc: YamlDoc, path: Path, rt: RecordType) -> Measure | None:
        self.label(doc, (*path, "label"), raw["label"])
        if raw["days_from"] != "created":
            self._date_field(rt, raw["days_from"], doc, (*path, "days_from"))
        wf = self.workflows.get(rt.workflow_id or "")
        if wf is None or raw["until"] not in wf.transitions:
            self.report.add(
                doc.at((*path, "until")),
                "report.bad-measure",
                f"the workflow of '{rt.id}' has no step '{raw['until']}' to measure the days until",
                did_you_mean(raw["until"], wf.transitions) if wf else None,
            )
            return None
        return Measure(raw["days_from"], raw["until"], raw["label"])


class ExportsBuilder(ReportsBuilder):
    def load_export(self, doc: YamlDoc) -> ExportDefinition | None:
        data = doc.data
        eid = data["id"]
        rt = self._head(doc, "export")
        if rt is None:
            return None
        out = ExportDefinition(
            eid,
            data["title"],
            rt.id,
            (),
            doc.at(("id",)),
            data.get("description"),
            data.get("sheet"),
            roles=tuple(data.get("roles", ())),
        )
        if "where" in data:
            out.where = self._where(data["where"], doc, ("where",), rt)
        if "consent" in data:
            out.consent = self._consent(data["consent"], doc, rt)
        columns = []
        for i, raw in enumerate(data["columns"]):
            column = self._export_column(raw, doc, ("columns", i), rt, "consent" in data)
            if column is not None:
                columns.append(column)
        out.columns = tuple(columns)
        return out

    def _export_column(
        self, raw: dict[str, Any], doc: YamlDoc, path: Path, rt: RecordType, has_consent: bool
    ) -> ExportColumn | None:
        """One column of a layout: a value, or the answers of one field or several (`fields`), with
        the layout's codes checked against the fields' options."""
        options: dict[str, Any] = {
            "codes": raw.get("codes", {}),
            "unmapped": raw.get("unmapped", "code"),
            "combine": raw.get("combine", "first"),
            "separator": raw.get("separator", " & "),
        }
        if "combine" in raw and "fields" not in raw:
            self._bad_dim(
                doc,
                (*path, "combine"),
                "combine: is for a column of several fields:",
                "remove it, or name the fields the column combines in fields: [a, b]",
            )
        if "value" in raw:
            if raw["value"] == "consent" and not has_consent:
                self._bad_dim(
                    doc,
                    (*path, "value"),
                    "a consent column needs the export's consent: rule",
                    "add consent: {field: …} to the export",
                )
            return ExportColumn(raw["header"], value=raw["value"], **options)
        names: list[str] = [raw["field"]] if "field" in raw else list(raw["fields"])
        key = "field" if "field" in raw else "fields"
        read: list[tuple[ExportSource, Field]] = []
        for j, name in enumerate(names):
            where: Path = (*path, key) if key == "field" else (*path, key, j)
            found = self._export_source(name, raw, doc, path, where, rt)
            if found is not None:
                read.append(found)
        if len(read) < len(names):
            return None
        fields = [f for _, f in read]
        labels: dict[str, str] = {}
        for f in fields:
            for value, label in _options(f):
                labels.setdefault(value, label)
        self._check_codes(fields, raw, doc, path)
        return ExportColumn(
            raw["header"],
            tuple(src for src, _ in read),
            raw.get("row_where", {}),
            labels=labels if options["unmapped"] == "label" else {},
            **options,
        )

    def _export_source(
        self, name: str, raw: dict[str, Any], doc: YamlDoc, path: Path, where: Path, rt: RecordType
    ) -> tuple[ExportSource, Field] | None:
        if "." not in name:
            f = self._field(rt, name, doc, where)
            return (ExportSource(name), f) if f is not None else None
        sub_id, column = name.split(".", 1)
        sub = rt.scope.fields.get(sub_id)
        inner = sub.subform.fields.get(column) if sub is not None and sub.subform is not None else None
        if sub is None or sub.subform is None or inner is None:
            self._bad_dim(doc, where, f"'{name}' is not a column of a subform of '{rt.id}'")
            return None
        for key in raw.get("row_where", {}):
            if key not in sub.subform.fields:
                self._bad_dim(doc, (*path, "row_where", key), f"the subform '{sub_id}' has no column '{key}'")
        return ExportSource(column, sub_id), inner

    def _check_codes(self, fields: list[Field], raw: dict[str, Any], doc: YamlDoc, path: Path) -> None:
        """Every key of `codes` is an option of the column's fields; and, unless `unmapped: label`,
        every option has a code: one left out would be written as Sanad's own code."""
        options = [(f, frozenset(value for value, _ in _options(f))) for f in fields]
        known = [(f, values) for f, values in options if values]
        codes = raw.get("codes", {})
        for key in codes:
            if known and not any(key in values for _, values in known):
                everything = frozenset().union(*(values for _, values in known))
                names = " or ".join(f"'{f.id}'" for f, _ in known)
                self._bad_dim(
                    doc,
                    (*path, "codes", key),
                    f"'{key}' is not an option of {names}",
                    did_you_mean(key, everything) or f"the options are: {', '.join(sorted(everything)[:12])}",
                )
        if "codes" not in raw or raw.get("unmapped", "code") == "label":
            return
        missing = [value for f in fields for value, _ in _options(f) if value not in codes]
        missing = list(dict.fromkeys(missing))
        if missing:
            names = ", ".join(f"'{v}'" for v in missing[:8]) + (
                f" and {len(missing) - 8} more" if len(missing) > 8 else ""
            )
            self.report.add(
                doc.at((*path, "codes"), key=True),
                "export.unmapped-code",
                f"the codes of '{raw['header']}' leave out {names}: the export would write Sanad's own "
                f"code{'s' if len(missing) > 1 else ''} there",
                "give each option its code, or add unmapped: label to write the labels of the options left out",
            )


def _options(f: Field) -> list[tuple[str, str]]:
    """A field's options (value, label as the definitions write it): its choices, or yes and no."""
    if f.type == "yes_no":
        return list(YES_NO_CHOICES)
    return [(c.value, c.label) for c in f.choices or ()]
