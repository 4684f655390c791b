"""Translations at run time: the reader's language, and lookups in the gettext catalogs.

Definition strings are identified by a stable path used as `msgctxt` — `gbv:forms/type_of_violence/
fields/gbv_type/label` — with the English text as `msgid`, so translators see real text and a
change of the English text makes the old translation fuzzy instead of wrong. At run time a label
is looked up along the chain overlay catalog → module catalog → English; a translation whose
English no longer matches the definitions is not used.
"""

from __future__ import annotations

import functools
import gettext
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.lists import format_list
from babel.messages.pofile import read_po

from engine.language import packaged
from engine.language.model import Choice, Field, Module

INTERFACE_DOMAIN = "sanad"
_TAG = re.compile(r"<[^<>]*>")
_PERCENT = re.compile(r"%\((\w+)\)[sdif]")
ROOT_LOCALES = packaged.locales_folder()


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


def chosen_codes(f: Field, value: Any) -> list[Any]:
    """The option codes an answer holds: a multiple choice's list; for a calculation with choices
    that joins several codes with spaces (`join(' ', ...)`), each of them; else the answer itself."""
    if isinstance(value, list):
        return value
    if f.type == "calculate" and isinstance(value, str) and " " in value.strip() and f.choices:
        known = {c.value for c in f.choices}
        if value not in known and all(code in known for code in value.split()):
            return value.split()
    return [value]


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


@functools.lru_cache(maxsize=64)
def babel_locale(code: str) -> Locale:
    """Babel's locale data for a language code, parsed once (a page formats dozens of dates and
    lists). Raises UnknownLocaleError or ValueError for a code Babel does not know."""
    return Locale.parse(code)


def locale_direction(locale: str) -> str:
    try:
        return babel_locale(locale).text_direction
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

    def ngettext(self, singular: str, plural: str, n: int, /, **values: Any) -> str:
        values.setdefault("num", n)
        return _format(self.plural_text(singular, plural, n), singular if n == 1 else plural, values)

    def plural_text(self, singular: str, plural: str, n: int) -> str:
        """The form for `n` in this language, placeholders not filled in."""
        if self.interface and self.locale != "en" and singular in self.interface.plurals:
            forms = self.interface.plurals[singular]
            index = self.interface.plural_func(n) if self.interface.plural_func else 0
            if 0 <= index < len(forms) and forms[index]:
                return forms[index]
        return singular if n == 1 else plural

    def join(self, items: list[str]) -> str:
        """Items joined as this language writes a list (CLDR): "A, B and C", "A, B et C", "A وB وC"."""
        if len(items) < 2:
            return "".join(items)
        try:
            return format_list(items, style="standard", locale=babel_locale(self.locale))
        except (UnknownLocaleError, ValueError, KeyError):
            return ", ".join(items)

    def plain_text(self, message: str) -> str:
        """An interface message in this language, placeholders not filled in."""
        translated = self.interface.plain.get(message) if self.interface and self.locale != "en" else None
        return translated or message


def markup(text: str) -> list[str]:
    """The HTML tags in a text, in order."""
    return _TAG.findall(text)


def same_markup(english: str, translation: str) -> bool:
    """Does a translation carry exactly the markup of its English (none, for almost every string)?
    A translation is shown as text otherwise: a catalog must never inject HTML into the pages."""
    return markup(english) == markup(translation)


@functools.lru_cache(maxsize=8192)
def same_placeholders(english: str, translation: str) -> bool:
    return english == translation or set(_PERCENT.findall(english)) == set(_PERCENT.findall(translation))


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
