"""Write a converted XLSForm into a module folder, check it with the module loader, and write the
module's gettext catalogs with the translations of the workbook.

An expression the loader refuses (an unknown choice, a type mismatch, a cycle…) is left out with a
finding and the module is checked again, so one expression never costs the whole import. A Sanad
expression kept in a `sanad::` column that reads a field the module does not have (a field of another
form of the module it was exported from) is kept as written: the module reports it, and validates once
that form is added.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from babel.messages.pofile import read_po

from engine.diagnostics import Diagnostic, Report
from engine.i18n import catalogs
from engine.language.loader import LoadResult, load_module
from engine.language.yamlfile import read_file
from engine.xlsform.convert import ID, Conversion, Converter, sanitize_id, settings_of
from engine.xlsform.findings import Findings, ImportFailure
from engine.xlsform.reader import SANAD_PREFIX, read_workbook

MAX_ROUNDS = 12
_DROPPABLE = ("relevant", "required", "constraint", "calculate", "choice_filter", "default")


@dataclass
class ImportResult:
    findings: Findings
    conversion: Conversion | None = None
    load: LoadResult | None = None
    written: list[str] = field(default_factory=list)
    created_module: bool = False

    @property
    def validates(self) -> bool:
        return self.load is not None and self.load.module is not None and not self.findings.errors

    @property
    def module_findings(self) -> list[Diagnostic]:
        return self.load.report.sorted() if self.load is not None else []


_NOT_TEXT = re.compile(
    r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|~|null|Null|NULL|true|True|TRUE|false|False|FALSE"
    r"|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$"
)


class _Dumper(yaml.SafeDumper):
    """Quotes a text that Sanad's YAML reader would otherwise read as a number, a boolean or null
    (a phone number '0791' from a CSV stays a text)."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if _NOT_TEXT.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _dump(path: str, data: Any, header: str | None = None) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000, default_flow_style=False)
    with open(path, "w", encoding="utf-8") as fh:
        if header:
            fh.write(f"# {header}\n")
        fh.write(text)


def _ids_in(fields: Any, out: set[str]) -> None:
    for f in fields or []:
        if isinstance(f, dict) and isinstance(f.get("id"), str):
            out.add(f["id"])
            _ids_in(f.get("fields"), out)


def import_xlsform(
    xlsx: str, module_path: str, *, record_type: str | None = None, form_id: str | None = None
) -> ImportResult:
    """Convert `xlsx` into the module at `module_path` (created when there is none).

    Without `record_type`, the form belongs to the record type of the settings' sanad::record_type
    (a form exported by Sanad), else to `case`."""
    findings = Findings(os.path.basename(xlsx))
    result = ImportResult(findings)
    try:
        _import(xlsx, module_path, record_type, form_id, result)
    except ImportFailure as exc:
        if not findings.errors:
            findings.add("xlsform.unreadable", str(exc))
    return result


def _import(xlsx: str, module_path: str, record_type: str | None, form_id: str | None, result: ImportResult) -> None:
    findings = result.findings
    book = read_workbook(xlsx, findings)
    if record_type is None:
        kept = settings_of(book).get(SANAD_PREFIX + "record_type", "")
        record_type = kept if ID.match(kept) else "case"
    module_file = os.path.join(module_path, "module.yaml")
    existing = os.path.isfile(module_file)
    taken_ids: set[str] = set()
    taken_lookups: set[str] = set()
    module_data: dict[str, Any] | None = None
    if existing:
        before = load_module(module_path)
        if before.module is None:
            raise findings.fail(
                "xlsform.module",
                f"the module in '{module_path}' has errors; fix them first (sanad validate {module_path})",
            )
        for d in before.docs.get("form", []):
            if d.data.get("record_type") == record_type:
                _ids_in(d.data.get("fields"), taken_ids)
        taken_lookups = set(before.module.lookups)
        doc = read_file(module_file, Report())
        module_data = dict(doc.data) if doc is not None else None
        prefer = before.module.default_locale
    else:
        prefer = None
    conv = Converter(
        book,
        findings,
        form_id=form_id,
        record_type=record_type,
        taken_ids=taken_ids,
        taken_lookups=taken_lookups,
        prefer_locale=prefer,
    ).convert()
    result.conversion = conv
    form_file = os.path.join(module_path, "forms", f"{conv.form_id}.yaml")
    if existing and module_data is not None:
        rts = module_data.setdefault("record_types", {})
        if any(conv.form_id in (rt.get("forms") or []) for rt in rts.values()) or os.path.exists(form_file):
            raise findings.fail(
                "xlsform.module",
                f"the module already has a form '{conv.form_id}'; choose another id with --form-id",
            )
        rt = rts.setdefault(record_type, {"title": record_type.replace("_", " ").capitalize(), "forms": []})
        rt.setdefault("forms", []).append(conv.form_id)
        if conv.settings:  # the settings its rules read (sanad::settings), unless the module has them
            module_settings = dict(module_data.get("settings") or {})
            for name, value in conv.settings.items():
                module_settings.setdefault(name, value)
            module_data["settings"] = module_settings
        locales = list(module_data.get("locales") or [])
        for loc in conv.locales:
            if loc not in locales:
                locales.append(loc)
        module_data["locales"] = locales
        if conv.default_locale != module_data.get("default_locale"):
            findings.add(
                "xlsform.language",
                f"the form's labels are in '{conv.default_locale}' but the module's default language is "
                f"'{module_data.get('default_locale')}'; the labels are kept as written",
            )
    else:
        mid = sanitize_id(os.path.basename(os.path.abspath(module_path)))
        module_data = {
            "id": mid,
            "title": conv.title,
            "version": conv.version,
            "default_locale": conv.default_locale,
            "locales": conv.locales,
            **({"settings": conv.settings} if conv.settings else {}),
            "record_types": {
                record_type: {"title": record_type.replace("_", " ").capitalize(), "forms": [conv.form_id]}
            },
        }
        result.created_module = True
        roles = {
            "roles": [
                {
                    "id": "caseworker",
                    "label": "Caseworker",
                    "scope": "own",
                    "permissions": [f"{record_type}.create", f"{record_type}.read", f"{record_type}.write"],
                    "forms": {"read": ["*"], "write": ["*"]},
                    "sensitivity": ["direct", "quasi", "none"],
                }
            ]
        }
        _dump(os.path.join(module_path, "roles.yaml"), roles, "Written by sanad import-xlsform: review the roles")
        result.written.append(os.path.join(module_path, "roles.yaml"))
    source = os.path.basename(xlsx)
    _dump(module_file, module_data, None if existing else f"Written by sanad import-xlsform from {source}")
    result.written.append(module_file)
    for _ in range(MAX_ROUNDS):
        _write_definitions(module_path, conv, source, result)
        load = load_module(module_path)
        result.load = load
        if load.module is not None or not _drop_refused(load, form_file, conv, findings):
            break
    if result.load is not None and result.load.module is not None:
        result.written += _write_catalogs(module_path, conv)


def _write_definitions(module_path: str, conv: Conversion, source: str, result: ImportResult) -> None:
    header = f"Imported from {source} by sanad import-xlsform"
    form_file = os.path.join(module_path, "forms", f"{conv.form_id}.yaml")
    _dump(form_file, conv.form, header)
    if form_file not in result.written:
        result.written.append(form_file)
    for lid, lookup in conv.lookups.items():
        path = os.path.join(module_path, "lookups", f"{lid}.yaml")
        _dump(path, lookup, header)
        if path not in result.written:
            result.written.append(path)


def _node_at(data: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        data = data[p]
    return data


def _drop_refused(load: LoadResult, form_file: str, conv: Conversion, findings: Findings) -> bool:
    """Leave out each expression or default of the imported form that the loader refused; True if
    anything was left out (so the module is worth checking again)."""
    doc = read_file(form_file, Report())
    if doc is None:
        return False
    target = os.path.abspath(form_file)
    dropped = False
    for d in load.report.errors:
        if os.path.abspath(d.file) != target:
            continue
        candidates = [
            (line, path)
            for path, (line, _col) in {**doc.values, **doc.keys}.items()
            if path and path[-1] in _DROPPABLE and line <= d.line
        ]
        if not candidates:
            continue
        line, path = max(candidates, key=lambda c: c[0])
        if line != d.line:
            continue
        owner = _node_at(conv.form, path[:-1])
        key = str(path[-1])
        if key not in owner:
            continue
        if any(
            site.owner is owner
            and site.key == key
            and site.column.startswith(SANAD_PREFIX)
            and conv.reads_elsewhere(site.source)
            for site in conv.sites
        ):
            # a Sanad rule kept by export-xlsform that reads a field of another form of the module it
            # came from: kept as written; the module validates once it has that form too
            continue
        value = owner.pop(key)
        dropped = True
        if key == "calculate":
            owner["type"] = "text"
            owner["read_only"] = True
        if key == "required":
            owner.pop("required_message", None)
        if key == "constraint":
            owner.pop("constraint_message", None)
        for site in conv.sites:
            if site.owner is owner and site.key == key:
                site.kept = False
        code = "xlsform.bad-default" if key == "default" else "xlsform.invalid-expression"
        findings.add(
            code,
            f"the {key} '{value}' of '{owner.get('id')}' is left out: {d.message}",
            "survey",
            conv.rows_of.get(id(owner)),
        )
    return dropped


def _write_catalogs(module_path: str, conv: Conversion) -> list[str]:
    """The module's template and .po catalogs, as `sanad i18n update` writes them, with the
    workbook's translations filled in where a string has none yet."""
    target = catalogs.module_target(module_path)
    written = []
    pot = os.path.join(target.folder, f"{target.domain}.pot")
    if catalogs.write(pot, target.template):
        written.append(pot)
    prefix = f"{target.domain}:"
    for locale in target.locales:
        path = os.path.join(target.folder, locale, "LC_MESSAGES", f"{target.domain}.po")
        if os.path.exists(path):
            with open(path, "rb") as fh:
                cat = read_po(fh, locale=locale)
        else:
            cat = catalogs._new_catalog(target, locale)
        # a copy: Babel puts the template's own message objects into the catalog
        cat.update(copy.deepcopy(target.template), update_header_comment=False, update_creation_date=False)
        ours = conv.translations.get(locale, {})
        for m in cat:
            if m.id and m.context and m.context.startswith(prefix) and not m.string:
                text = ours.get(m.context[len(prefix) :])
                if text:
                    m.string = text
        if locale.split("_")[0] == "ar":
            catalogs._arabic(cat)
        if catalogs.write(path, cat):
            written.append(path)
    return written
