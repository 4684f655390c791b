"""Translations: gettext catalogs for the interface and for each module's definition strings.

Definition strings are identified by a stable path used as `msgctxt` — `gbv:forms/type_of_violence/
fields/gbv_type/label` — with the English text as `msgid`, so translators see real text and a
change of the English text makes the old translation fuzzy instead of wrong. At run time a label
is looked up along the chain overlay catalog → module catalog → English; a translation whose
English no longer matches the definitions is not used.
"""

from __future__ import annotations

import gettext
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from engine.model import Choice, Field, Module

INTERFACE_DOMAIN = "sanad"
ROOT_LOCALES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "locales")
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


def _fields(
    add: Any, mid: str, base: str, doc: Any, ypath: tuple[Any, ...], fields: list[Any], form_title: str
) -> None:
    for i, f in enumerate(fields):
        if not isinstance(f, dict) or "id" not in f:
            continue
        p = f"{base}/fields/{f['id']}"
        yp = (*ypath, i)
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


# -- paths of model objects (for lookups at run time) ---------------------------------------------
def field_path(f: Field) -> str:
    parts = [f.id]
    owner = f.scope.owner
    while owner is not None:
        parts.append(owner.id)
        owner = owner.scope.owner
    return f"forms/{f.form_id}/" + "/".join(f"fields/{p}" for p in reversed(parts))


def choice_path(f: Field, c: Choice) -> str:
    if f.lookup_id:
        return f"lookups/{f.lookup_id}/choices/{c.value}/label"
    return f"{field_path(f)}/choices/{c.value}/label"


# -- loading catalogs ------------------------------------------------------------------------------
@dataclass
class Entries:
    """One .po file: (path without the module prefix) -> (English, translation); fuzzy ones left out."""

    by_path: dict[str, tuple[str, str]] = field(default_factory=dict)
    plain: dict[str, str] = field(default_factory=dict)  # msgid -> msgstr (no context), interface strings
    plurals: dict[str, tuple[str, ...]] = field(default_factory=dict)
    plural_func: Any = None


@cache
def _read(path: str, mtime: float) -> Entries:
    with open(path, "rb") as fh:
        cat = read_po(fh)
    out = Entries(plural_func=_plural_function(cat.plural_expr))
    for m in cat:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, tuple):
            if isinstance(m.string, tuple) and any(m.string):
                out.plurals[m.id[0]] = tuple(m.string)
            continue
        if not m.string or not isinstance(m.string, str) or not isinstance(m.id, str):
            continue
        if m.context and ":" in m.context:
            out.by_path[m.context.split(":", 1)[1]] = (m.id, m.string)
        elif not m.context:
            out.plain[m.id] = m.string
    return out


def _plural_function(expr: str) -> Any:
    """The catalog's Plural-Forms rule, compiled by the standard library's gettext (no eval of text)."""
    try:
        return gettext.c2py(expr or "(n != 1)")
    except (ValueError, SyntaxError):
        return gettext.c2py("(n != 1)")


def load(path: str) -> Entries | None:
    if not os.path.exists(path):
        return None
    return _read(path, os.path.getmtime(path))


def locale_direction(locale: str) -> str:
    try:
        return Locale.parse(locale).text_direction
    except (UnknownLocaleError, ValueError):
        return "ltr"


# -- the current language ------------------------------------------------------------------------------
@dataclass
class Translator:
    """Translations for one request: the interface catalog and the module chain (overlay first)."""

    locale: str = "en"
    interface: Entries | None = None
    chain: tuple[Entries, ...] = ()

    def text(self, path: str, english: str) -> tuple[str, str]:
        """(text, language of the text) for a definition string at `path`."""
        if self.locale != "en":
            for entries in self.chain:
                found = entries.by_path.get(path)
                if found is not None and found[0] == english:
                    return found[1], self.locale
        return english, "en"

    def gettext(self, message: str, **values: Any) -> str:
        translated = self.interface.plain.get(message) if self.interface and self.locale != "en" else None
        text = translated or message
        return _format(text, message, values)

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        values.setdefault("num", n)
        if self.interface and self.locale != "en" and singular in self.interface.plurals:
            forms = self.interface.plurals[singular]
            index = self.interface.plural_func(n) if self.interface.plural_func else 0
            if 0 <= index < len(forms) and forms[index]:
                return _format(forms[index], singular if n == 1 else plural, values)
        return _format(singular if n == 1 else plural, singular if n == 1 else plural, values)


def _format(text: str, original: str, values: dict[str, Any]) -> str:
    """Fill %(name)s placeholders; a translation that lost or invented one falls back to English."""
    if not values:
        return text
    try:
        return text % values
    except (KeyError, ValueError, TypeError):
        try:
            return original % values
        except (KeyError, ValueError, TypeError):
            return original


_ENGLISH = Translator()
_current: ContextVar[Translator | None] = ContextVar("sanad_translator", default=None)


def current() -> Translator:
    return _current.get() or _ENGLISH


def use(translator: Translator) -> Any:
    return _current.set(translator)


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown, with _()."""
    return message


def _(message: str, **values: Any) -> str:
    """Translate an interface message in the current request's language."""
    return current().gettext(message, **values)


def iter_po_files(root: str) -> Iterator[tuple[str, str, str]]:
    """(locale, domain, path) of every catalog under a locales folder."""
    if not os.path.isdir(root):
        return
    for lang in sorted(os.listdir(root)):
        folder = os.path.join(root, lang, "LC_MESSAGES")
        if os.path.isdir(folder):
            for name in sorted(os.listdir(folder)):
                if name.endswith(".po"):
                    yield lang, name[:-3], os.path.join(folder, name)


# -- choosing the language and building the translator -----------------------------------------------------
def negotiate(requested: str | None, saved: str | None, accept_language: str | None, offered: tuple[str, ...]) -> str:
    """?locale= for this request, then the user's saved choice, then Accept-Language, then the first offered."""
    for choice in (requested, saved):
        if choice and choice in offered:
            return choice
    if accept_language:
        ranked = []
        for part in accept_language.split(","):
            lang, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            ranked.append((weight, lang.strip().lower().replace("-", "_")))
        for _weight, lang in sorted(ranked, key=lambda x: -x[0]):
            for candidate in (lang, lang.split("_")[0]):
                if candidate in offered:
                    return candidate
    return offered[0] if offered else "en"


def module_catalog_folders(module: Module) -> list[str]:
    """Where a module's catalogs are, overlay first: each module folder's locales/, and the
    repository's locales/ for the reference module."""
    folders = []
    for path in (module.path, *module.extends):
        own = os.path.join(path, "locales")
        folders.append(own if os.path.isdir(own) else ROOT_LOCALES)
    return folders


@cache
def _translator(module_path: str, extends: tuple[str, ...], module_id: str, locale: str, stamp: float) -> Translator:
    if locale == "en":
        return Translator("en")
    interface = load(os.path.join(ROOT_LOCALES, locale, "LC_MESSAGES", f"{INTERFACE_DOMAIN}.po"))
    chain = []
    for path in (module_path, *extends):
        own = os.path.join(path, "locales")
        folder = own if os.path.isdir(own) else ROOT_LOCALES
        lc = os.path.join(folder, locale, "LC_MESSAGES")
        if os.path.isdir(lc):
            for name in sorted(os.listdir(lc)):
                if name.endswith(".po") and name != f"{INTERFACE_DOMAIN}.po":
                    entries = load(os.path.join(lc, name))
                    if entries is not None:
                        chain.append(entries)
    return Translator(locale, interface, tuple(chain))


def translator_for(module: Module, locale: str) -> Translator:
    """The translator for a module in a language, built once (and again when a catalog changes)."""
    stamp = 0.0
    for folder in (*module_catalog_folders(module), ROOT_LOCALES):
        lc = os.path.join(folder, locale, "LC_MESSAGES")
        if os.path.isdir(lc):
            stamp = max([stamp, *(os.path.getmtime(os.path.join(lc, n)) for n in os.listdir(lc))])
    return _translator(module.path, module.extends, module.id, locale, stamp)


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
    from engine.loader import load_module

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
