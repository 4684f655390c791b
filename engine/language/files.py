"""Reading a module folder into schema-checked documents, and merging an overlay (`extends:`) into
the documents of the module it adapts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from engine.diagnostics import Position, Report, did_you_mean
from engine.language.overlay import Merger
from engine.language.reader import Reader, yaml_files
from engine.language.yamlfile import YamlDoc

FOLDERS = {
    "forms": "form",
    "lookups": "lookup",
    "workflows": "workflow",
    "tests": "scenarios",
    "reports": "report",
    "exports": "export",
}
_OTHER_FOLDERS = {"locales", "docs", "demo"}  # folders read elsewhere (demo: language.demo), or not at all


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
        elif os.path.isdir(full) and name not in FOLDERS and name not in _OTHER_FOLDERS and not name.startswith("."):
            for file in yaml_files(full):
                report.add(
                    Position(file),
                    "module.unexpected-file",
                    f"Sanad does not read the folder '{name}'",
                    did_you_mean(name, FOLDERS)
                    or "forms go in forms/, option lists in lookups/, workflows in workflows/, tests in tests/",
                )


def read_folder(path: str, ld: Reader, chain: tuple[str, ...]) -> ModuleFiles:
    raw = ld.read_raw(os.path.join(path, "module.yaml"))
    if raw is None:
        ld.broken.add(("module", "module"))
    module_doc = raw if raw is not None and ld.check(raw, "module") else None
    _check_folder(path, ld.report)
    if (
        module_doc is None
        and raw is not None
        and isinstance(raw.data, dict)
        and isinstance(raw.data.get("extends"), str)
    ):
        # an overlay whose module.yaml is wrong: its errors are reported; reading its folder as a
        # whole module would only add errors about what the base module provides
        return ModuleFiles(path, None, None, {kind: [] for kind in FOLDERS.values()})
    if module_doc is not None and isinstance(module_doc.data.get("extends"), str):
        return read_overlay(path, module_doc, ld, chain)
    if module_doc is not None and "replaces_scenarios" in module_doc.data:
        ld.report.add(
            module_doc.at(("replaces_scenarios",), key=True),
            "overlay.unknown-target",
            "'replaces_scenarios' only applies to an overlay, and this module extends no other",
            "add 'extends: <path of the base module>' or remove replaces_scenarios",
        )
    docs = {
        kind: [d for f in yaml_files(os.path.join(path, folder)) if (d := ld.read(f, kind)) is not None]
        for folder, kind in FOLDERS.items()
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


def read_overlay(path: str, over: YamlDoc, ld: Reader, chain: tuple[str, ...]) -> ModuleFiles:
    report = ld.report
    empty = ModuleFiles(path, None, None, {kind: [] for kind in FOLDERS.values()})
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
    base = read_folder(base_path, ld, (*chain, here))
    merger = Merger(report)

    def merge_kind(kind: str, folder: str) -> list[YamlDoc]:
        by_id: dict[str, YamlDoc] = {}
        for d in base.docs[kind]:
            by_id.setdefault(d.data["id"], d)
        out = dict(by_id)
        for file in yaml_files(os.path.join(path, folder)):
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
        # a report of the overlay replaces the base's report of the same id, whole
        "report": list(
            {
                **{d.data["id"]: d for d in base.docs["report"]},
                **{
                    d.data["id"]: d
                    for f in yaml_files(os.path.join(path, "reports"))
                    if (d := ld.read(f, "report")) is not None
                },
            }.values()
        ),
        "export": list(
            {
                **{d.data["id"]: d for d in base.docs["export"]},
                **{
                    d.data["id"]: d
                    for f in yaml_files(os.path.join(path, "exports"))
                    if (d := ld.read(f, "export")) is not None
                },
            }.values()
        ),
        "scenarios": [
            *base.docs["scenarios"],
            *(d for f in yaml_files(os.path.join(path, "tests")) if (d := ld.read(f, "scenarios")) is not None),
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
