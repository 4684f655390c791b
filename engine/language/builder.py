"""The state a module is built in, and what every part of the build shares: labels, compiling an
expression where it is written, the permissions Sanad knows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.diagnostics import Report
from engine.expressions.compiler import FIELD_VALUE_TYPES, ExprContext, Expression, compile_expression
from engine.language.model import (
    MODULE_PERMISSIONS,
    RECORD_ACTIONS,
    Field,
    FieldScope,
    Form,
    Lookup,
    RecordType,
    Role,
    Section,
    Workflow,
)
from engine.language.reader import Reader
from engine.language.yamlfile import Path, YamlDoc


class ModuleBuilder(Reader):
    """What the parts of the build (forms, workflows, roles) build together."""

    def __init__(self, report: Report, given_root: str) -> None:
        super().__init__(report, given_root)
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
        self.pending_sections: list[tuple[Section, YamlDoc, Path]] = []
        self.section_ids: dict[str, dict[str, Section]] = {}  # per record type
        self.settings: dict[str, Any] = {}  # module.yaml `settings`

    def label(self, doc: YamlDoc, path: Path, text: Any) -> None:
        if isinstance(text, str) and not text.strip():
            self.report.add(doc.at(path), "label.empty", "this label is blank", "write the text people should see")

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
            self.settings,
            self.lookups,
            self.used_lookups.add,
        )
        return compile_expression(source, doc.at(path), ctx, Report() if quiet else self.report)

    def known_permissions(self) -> list[str]:
        return [f"{rt}.{a}" for rt in self.record_types for a in RECORD_ACTIONS] + list(MODULE_PERMISSIONS)
