"""Extraction: every translatable string of a module's definitions, with a stable path, a note
for translators and its place in the file (the translators' tooling, not needed at run time)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from babel.messages.catalog import Catalog

from engine.i18n.translator import N_
from engine.language.loader import load_module
from engine.language.model import Module

PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|\{(\w+)\}")

# The correct CLDR/gettext rule for Arabic; Babel 2.18.0 swaps forms 4 and 5 in the header it writes.
ARABIC_PLURAL_FORMS = (
    "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);"
)


# -- extraction ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    context: str  # "module:path"
    text: str
    note: str
    file: str
    line: int


def _msg(module_id: str, path: str, text: Any, note: str, doc: Any, yaml_path: tuple[Any, ...]) -> Message | None:
    if not isinstance(text, str) or not text.strip():
        return None
    pos = doc.at(yaml_path)
    return Message(f"{module_id}:{path}", text, note, pos.file, pos.line)


def definition_messages(
    module: Module, docs: dict[str, list[Any]], module_doc: Any, roles_doc: Any, only_from: str | None = None
) -> list[Message]:
    """Every translatable string of a loaded module, with its path, note and place.

    `only_from` (a folder) keeps strings written in that folder's files, for an overlay's catalog."""
    mid = module.id
    out: list[Message] = []

    def add(m: Message | None) -> None:
        if m is not None and (only_from is None or os.path.abspath(m.file).startswith(os.path.abspath(only_from))):
            out.append(m)

    d = module_doc.data
    add(_msg(mid, "module/title", d.get("title"), "Title of the module", module_doc, ("title",)))
    add(
        _msg(mid, "module/description", d.get("description"), "Description of the module", module_doc, ("description",))
    )
    for rt_id, rt in (d.get("record_types") or {}).items():
        add(
            _msg(
                mid,
                f"record_types/{rt_id}/title",
                rt.get("title"),
                f"Name of the record type '{rt_id}'",
                module_doc,
                ("record_types", rt_id, "title"),
            )
        )
        add(
            _msg(
                mid,
                f"record_types/{rt_id}/link_action",
                rt.get("link_action"),
                "A button on the page of a linked record that records a new one of this type",
                module_doc,
                ("record_types", rt_id, "link_action"),
            )
        )
    for doc in docs.get("form", []):
        fd = doc.data
        fid = fd["id"]
        add(_msg(mid, f"forms/{fid}/title", fd.get("title"), "Title of a form", doc, ("title",)))
        add(
            _msg(
                mid,
                f"forms/{fid}/description",
                fd.get("description"),
                f"Introduction of the form '{fid}'",
                doc,
                ("description",),
            )
        )
        _fields(add, mid, f"forms/{fid}", doc, ("fields",), fd.get("fields") or [], fd.get("title", fid))
    for doc in docs.get("lookup", []):
        ld = doc.data
        lid = ld["id"]
        add(_msg(mid, f"lookups/{lid}/title", ld.get("title"), "Title of an option list", doc, ("title",)))
        for i, c in enumerate(ld.get("choices") or []):
            add(
                _msg(
                    mid,
                    f"lookups/{lid}/choices/{c.get('value')}/label",
                    c.get("label"),
                    f"An option of the list '{lid}' (value {c.get('value')})",
                    doc,
                    ("choices", i, "label"),
                )
            )
    for doc in docs.get("workflow", []):
        wd = doc.data
        wid = wd["id"]
        for i, st in enumerate(wd.get("states") or []):
            add(
                _msg(
                    mid,
                    f"workflows/{wid}/states/{st.get('id')}/label",
                    st.get("label"),
                    "A stage of the case workflow, shown as a badge",
                    doc,
                    ("states", i, "label"),
                )
            )
        for i, t in enumerate(wd.get("transitions") or []):
            tid = t.get("id")
            add(
                _msg(
                    mid,
                    f"workflows/{wid}/transitions/{tid}/label",
                    t.get("label"),
                    "A workflow step, shown as a button a caseworker or supervisor presses",
                    doc,
                    ("transitions", i, "label"),
                )
            )
            add(
                _msg(
                    mid,
                    f"workflows/{wid}/transitions/{tid}/when_message",
                    t.get("when_message"),
                    "Why a workflow step is not available yet (shown under the button)",
                    doc,
                    ("transitions", i, "when_message"),
                )
            )
            for j, g in enumerate(t.get("guards") or []):
                add(
                    _msg(
                        mid,
                        f"workflows/{wid}/transitions/{tid}/guards/{j}/message",
                        g.get("message"),
                        "Why a workflow step is not available yet (shown under the button)",
                        doc,
                        ("transitions", i, "guards", j, "message"),
                    )
                )
    for doc in docs.get("report", []):
        _report(add, mid, doc)
    for doc in docs.get("export", []):
        xd = doc.data
        add(_msg(mid, f"exports/{xd['id']}/title", xd.get("title"), "Title of an export layout", doc, ("title",)))
        add(
            _msg(
                mid,
                f"exports/{xd['id']}/description",
                xd.get("description"),
                "What an export is",
                doc,
                ("description",),
            )
        )
    if roles_doc is not None:
        for i, r in enumerate(roles_doc.data.get("roles") or []):
            add(
                _msg(
                    mid,
                    f"roles/{r.get('id')}/label",
                    r.get("label"),
                    "The name of a user role",
                    roles_doc,
                    ("roles", i, "label"),
                )
            )
    return out


def _report(add: Any, mid: str, doc: Any) -> None:
    rd = doc.data
    rid = rd["id"]
    add(_msg(mid, f"reports/{rid}/title", rd.get("title"), "Title of a report (statistics)", doc, ("title",)))
    add(_msg(mid, f"reports/{rid}/description", rd.get("description"), "What a report is", doc, ("description",)))
    for i, t in enumerate(rd.get("tables") or []):
        if not isinstance(t, dict):
            continue
        base = f"reports/{rid}/tables/{t.get('id')}"
        note = f"A table of the report '{rd.get('title')}'"
        add(_msg(mid, f"{base}/title", t.get("title"), note, doc, ("tables", i, "title")))
        add(_msg(mid, f"{base}/description", t.get("description"), note, doc, ("tables", i, "description")))
        measure = t.get("measure")
        if isinstance(measure, dict):
            add(_msg(mid, f"{base}/measure/label", measure.get("label"), note, doc, ("tables", i, "measure", "label")))
        for j, dim in enumerate(t.get("dimensions") or []):
            if not isinstance(dim, dict):
                continue
            where = ("tables", i, "dimensions", j)
            add(_msg(mid, f"{base}/dimensions/{dim.get('id')}/label", dim.get("label"), note, doc, (*where, "label")))
            value = dim.get("value")
            if isinstance(value, dict):
                add(
                    _msg(
                        mid,
                        f"{base}/dimensions/{dim.get('id')}/value/label",
                        value.get("label"),
                        note,
                        doc,
                        (*where, "value", "label"),
                    )
                )


def _fields(
    add: Any, mid: str, base: str, doc: Any, ypath: tuple[Any, ...], fields: list[Any], form_title: str
) -> None:
    for i, f in enumerate(fields):
        if not isinstance(f, dict) or "id" not in f:
            continue
        yp = (*ypath, i)
        if f.get("type") == "section":  # its questions keep their paths: moving one in or out of a
            # section does not change what translators see
            s = f"{_form_of(base)}/sections/{f['id']}"
            add(
                _msg(
                    mid,
                    f"{s}/label",
                    f.get("label"),
                    f"A section heading of the form '{form_title}'",
                    doc,
                    (*yp, "label"),
                )
            )
            add(_msg(mid, f"{s}/hint", f.get("hint"), f"Help under the heading '{f.get('label')}'", doc, (*yp, "hint")))
            if isinstance(f.get("fields"), list):
                _fields(add, mid, base, doc, (*yp, "fields"), f["fields"], form_title)
            continue
        p = f"{base}/fields/{f['id']}"
        kind = "A note shown in" if f.get("type") == "note" else "A question of"
        add(_msg(mid, f"{p}/label", f.get("label"), f"{kind} the form '{form_title}'", doc, (*yp, "label")))
        add(_msg(mid, f"{p}/hint", f.get("hint"), f"Help under the question '{f.get('label')}'", doc, (*yp, "hint")))
        add(
            _msg(
                mid,
                f"{p}/required_message",
                f.get("required_message"),
                "Shown when a required answer is missing",
                doc,
                (*yp, "required_message"),
            )
        )
        add(
            _msg(
                mid,
                f"{p}/constraint_message",
                f.get("constraint_message"),
                "Shown when an answer breaks a rule",
                doc,
                (*yp, "constraint_message"),
            )
        )
        if isinstance(f.get("choices"), list):
            for j, c in enumerate(f["choices"]):
                if isinstance(c, dict):
                    add(
                        _msg(
                            mid,
                            f"{p}/choices/{c.get('value')}/label",
                            c.get("label"),
                            f"An option of the question '{f.get('label')}'",
                            doc,
                            (*yp, "choices", j, "label"),
                        )
                    )
        if isinstance(f.get("fields"), list):
            _fields(add, mid, p, doc, (*yp, "fields"), f["fields"], form_title)


def _form_of(base: str) -> str:
    """'forms/<id>' of a field path such as 'forms/<id>/fields/<subform>'."""
    return "/".join(base.split("/")[:2])


def catalog_for(messages: list[Message], domain: str, locale: str | None = None, relative_to: str = ".") -> Catalog:
    cat = Catalog(locale=locale, domain=domain, project="Sanad", charset="utf-8", fuzzy=False)
    for m in messages:
        cat.add(
            m.text,
            context=m.context,
            auto_comments=[m.note],
            locations=[(os.path.relpath(m.file, relative_to), m.line)],
        )
    return cat


# Interface strings that are not written as literal _() calls elsewhere: the yes/no options.
_EXTRA_MESSAGES = (N_("Yes"), N_("No"))


def extract_yaml(
    fileobj: Any, keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    """A Babel extractor for definition YAML (entry point `babel.extractors: sanad`).

    Use it in a Babel mapping file (`[sanad: definitions/**.yaml]`) or `pybabel extract -F`: each
    translatable string comes out as pgettext(path, English) with its note and line, exactly as
    `sanad i18n extract` writes them. The module is the nearest folder above the file holding a
    module.yaml.
    """
    name = os.path.abspath(getattr(fileobj, "name", "") or "")
    folder = os.path.dirname(name)
    while folder and not os.path.exists(os.path.join(folder, "module.yaml")):
        parent = os.path.dirname(folder)
        if parent == folder:
            return
        folder = parent
    result = load_module(folder)
    if result.module is None or result.files is None or result.files.module is None:
        return
    for m in definition_messages(result.module, result.docs, result.files.module, result.files.roles):
        if os.path.abspath(m.file) == name:
            yield m.line, "pgettext", (m.context, m.text), [m.note]
