"""The translators' catalogs, kept in step with the sources: templates (.pot) from the interface and
the definitions, .po catalogs updated, compiled and checked (`sanad i18n`)."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from engine.i18n import extraction, translator
from engine.language import packaged
from engine.language.loader import load_module

REPO = packaged.SOURCE_ROOT
INTERFACE_LOCALES = ("fr", "ar", "es")


@dataclass
class Target:
    """One catalog family: a template (.pot) and its .po files under `folder`."""

    domain: str
    folder: str  # the locales folder
    template: Catalog
    locales: tuple[str, ...]


def catalog_folder(module_path: str) -> str:
    """A module's catalogs: its own locales/ folder, or for the reference module the repository's."""
    own = os.path.join(module_path, "locales")
    if os.path.isdir(own) or os.path.abspath(module_path) != os.path.abspath(packaged.reference_module()):
        return own
    return translator.ROOT_LOCALES


def module_target(path: str) -> Target:
    result = load_module(path)
    if result.module is None or result.files is None or result.files.module is None:
        raise SystemExit(f"sanad: {path} has errors; run 'sanad validate {path}' first")
    m = result.module
    overlay_only = path if m.extends else None
    messages = extraction.definition_messages(
        m, result.docs, result.files.module, result.files.roles, only_from=overlay_only
    )
    folder = catalog_folder(path)
    template = extraction.catalog_for(messages, m.id, relative_to=os.path.dirname(folder))
    return Target(m.id, folder, template, tuple(loc for loc in m.locales if loc != "en"))


def interface_target() -> Target:
    cat = Catalog(domain=translator.INTERFACE_DOMAIN, project="Sanad", charset="utf-8")
    method_map = [
        ("engine/**.py", "python"),
        ("renderers/**.py", "python"),
        ("renderers/html/templates/**.html", "jinja2"),
    ]
    options = {"renderers/html/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    for filename, lineno, message, comments, context in extract_from_dir(
        REPO,
        method_map,
        options_map=options,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "isolated": None},
        comment_tags=("NOTE:",),
        strip_comment_tags=True,
    ):
        cat.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return Target(translator.INTERFACE_DOMAIN, translator.ROOT_LOCALES, cat, INTERFACE_LOCALES)


def _po_path(t: Target, locale: str) -> str:
    return os.path.join(t.folder, locale, "LC_MESSAGES", f"{t.domain}.po")


_STAMPS = re.compile(rb'^"(POT-Creation-Date|PO-Revision-Date): [^"]*\\n"$', re.M)


def write(path: str, cat: Catalog) -> bool:
    """Write a catalog; a file that would change only in its dates is left alone (no noise in
    version control). True if written."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    write_po(buf, cat, width=100, sort_by_file=False, include_previous=True, ignore_obsolete=False)
    new = buf.getvalue()
    if os.path.exists(path):
        with open(path, "rb") as fh:
            old = fh.read()
        if _STAMPS.sub(b"", old) == _STAMPS.sub(b"", new):
            return False
    with open(path, "wb") as fh:
        fh.write(new)
    return True


def _new_catalog(t: Target, locale: str) -> Catalog:
    cat = Catalog(locale=locale, domain=t.domain, project="Sanad", charset="utf-8", fuzzy=False)
    if locale.split("_")[0] == "ar":
        _arabic(cat)
    return cat


def _arabic(cat: Catalog) -> None:
    """Babel 2.18.0 writes Arabic plural forms 4 and 5 swapped; set the CLDR rule."""
    setattr(cat, "_num_plurals", 6)  # noqa: B010 - Babel keeps these private
    setattr(cat, "_plural_expr", extraction.ARABIC_PLURAL_FORMS.split("plural=")[1].rstrip(";"))  # noqa: B010


def targets(paths: list[str]) -> list[Target]:
    """The interface catalogs (in every language any of the modules offers) and each module's."""
    modules = [module_target(p) for p in paths]
    interface = interface_target()
    offered = sorted({loc for t in modules for loc in t.locales}) or list(INTERFACE_LOCALES)
    interface.locales = tuple(offered)
    return [interface, *modules]


def update(paths: list[str]) -> list[str]:
    """Write the templates and bring every .po file in step with them; returns what changed."""
    written = []
    for t in targets(paths):
        pot = os.path.join(t.folder, f"{t.domain}.pot")
        if write(pot, t.template):
            written.append(pot)
        for locale in t.locales:
            path = _po_path(t, locale)
            if os.path.exists(path):
                with open(path, "rb") as fh:
                    cat = read_po(fh, locale=locale)
            else:
                cat = _new_catalog(t, locale)
            cat.update(t.template, update_header_comment=False, update_creation_date=False)
            _tidy_previous(cat)
            if locale.split("_")[0] == "ar":
                _arabic(cat)
            if write(path, cat):
                written.append(path)
    return written


def _tidy_previous(cat: Catalog) -> None:
    """The previous English of a changed string helps while the translation is fuzzy; once it is
    reviewed, drop it (and the '| msgid' comment Babel leaves of it when it reads a file back)."""
    for m in cat:
        if not m.id or m.fuzzy:
            continue
        m.previous_id = []
        m.user_comments = [c for c in m.user_comments if not c.startswith("| msgid")]


def stale(paths: list[str]) -> list[str]:
    """Catalogs that lack a string the sources now have (someone forgot 'sanad i18n update')."""
    problems = []
    for t in targets(paths):
        wanted = {(m.context, m.id) for m in t.template if m.id}
        for locale in t.locales:
            path = _po_path(t, locale)
            if not os.path.exists(path):
                problems.append(f"{os.path.relpath(path)}: missing (run 'sanad i18n update')")
                continue
            with open(path, "rb") as fh:
                have = {(m.context, m.id) for m in read_po(fh) if m.id}
            missing = wanted - have
            if missing:
                problems.append(
                    f"{os.path.relpath(path)}: {len(missing)} strings of the sources are not in it "
                    "(run 'sanad i18n update')"
                )
    return problems


def compile_all(paths: list[str]) -> list[str]:
    out = []
    for t in targets(paths):
        for locale in t.locales:
            path = _po_path(t, locale)
            if not os.path.exists(path):
                continue
            with open(path, "rb") as fh:
                cat = read_po(fh, locale=locale)
            mo = path[:-3] + ".mo"
            with open(mo, "wb") as fh:
                write_mo(fh, cat)
            out.append(mo)
    return out


@dataclass
class Status:
    path: str
    total: int
    translated: int
    fuzzy: int
    missing: list[str]
    placeholder_problems: list[str]

    @property
    def percent(self) -> float:
        return 100.0 * self.translated / self.total if self.total else 100.0


def status(paths: list[str]) -> list[Status]:
    out = []
    for t in targets(paths):
        for locale in t.locales:
            path = _po_path(t, locale)
            if not os.path.exists(path):
                out.append(Status(os.path.relpath(path), len(t.template), 0, 0, ["(no catalog yet)"], []))
                continue
            with open(path, "rb") as fh:
                cat = read_po(fh, locale=locale)
            total = translated = fuzzy = 0
            missing: list[str] = []
            bad: list[str] = []
            for m in cat:
                if not m.id:
                    continue
                total += 1
                strings = (
                    tuple(str(x) for x in m.string) if isinstance(m.string, (tuple, list)) else (str(m.string or ""),)
                )
                if m.fuzzy:
                    fuzzy += 1
                elif all(strings):
                    translated += 1
                    ids = tuple(str(x) for x in m.id) if isinstance(m.id, (tuple, list)) else (str(m.id),)
                    want = {a or b for a, b in extraction.PLACEHOLDER.findall(" ".join(ids))}
                    for s in strings:
                        got = {a or b for a, b in extraction.PLACEHOLDER.findall(s)}
                        if got != want:
                            bad.append(
                                f"{m.context or ''} {ids[0]!r}: placeholders {sorted(want)} became {sorted(got)}"
                            )
                            break
                        if not translator.same_markup(ids[0], s):
                            bad.append(
                                f"{m.context or ''} {ids[0]!r}: markup {translator.markup(ids[0])} became "
                                f"{translator.markup(s)} (it is shown as text, not HTML)"
                            )
                            break
                else:
                    missing.append(
                        f"{m.context + ' ' if m.context else ''}{m.id if isinstance(m.id, str) else m.id[0]}"
                    )
            out.append(Status(os.path.relpath(path), total, translated, fuzzy, missing, bad))
    return out
