"""Load a module folder: read YAML, check it against the schemas, build the model, check meaning,
compile every expression, and order calculations. Bad input only ever produces diagnostics.

The steps live in their own modules: `files` (folders and overlays), `forms` (record types, lookups,
forms, fields), `workflows`, `roles`; this one runs them in order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from engine.diagnostics import Position, Report
from engine.language.dependencies import order_record_type
from engine.language.files import ModuleFiles, read_folder
from engine.language.forms import FormsBuilder
from engine.language.model import ExportDefinition, Module, ReportDefinition
from engine.language.reports import ExportsBuilder
from engine.language.roles import RolesBuilder
from engine.language.workflows import WorkflowsBuilder
from engine.language.yamlfile import YamlDoc


@dataclass
class LoadResult:
    module: Module | None
    report: Report
    docs: dict[str, list[YamlDoc]] = field(default_factory=dict)  # kind -> schema-valid documents
    files: ModuleFiles | None = None


class _Loader(FormsBuilder, WorkflowsBuilder, RolesBuilder, ExportsBuilder):
    """Every part of the build, on one shared state."""


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
    ld = _Loader(report, path)
    files = read_folder(path, ld, ())
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
    reports: dict[str, ReportDefinition] = {}
    for d in docs.get("report", []):
        built = ld.load_report(d)
        if built is not None and built.id in reports:
            report.add(built.pos, "ref.duplicate-id", f"the report '{built.id}' is defined twice")
        elif built is not None:
            reports[built.id] = built
    exports: dict[str, ExportDefinition] = {}
    for d in docs.get("export", []):
        made = ld.load_export(d)
        if made is not None:
            exports[made.id] = made
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
        settings=dict(ld.settings),
        reports=reports,
        exports=exports,
    )
    return result
