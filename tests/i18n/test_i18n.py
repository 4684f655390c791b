"""Translations: extraction, the fallback chain, placeholders, Arabic plurals, language choice, RTL."""

from __future__ import annotations

import gettext
import io
import os
import textwrap
from datetime import UTC
from typing import Any

from babel import Locale
from babel.messages.pofile import read_po

from engine import i18n
from engine.i18n.catalogs import module_target, stale, status
from engine.language.loader import load_module
from tests.conftest import ROOT, MakeModule
from tests.server import PASSWORD, database, server

GBV = os.path.join(ROOT, "definitions", "gbv")


def test_definition_strings_are_extracted_with_paths_notes_and_lines() -> None:
    target = module_target(GBV)
    by_ctx = {m.context: m for m in target.template if m.id}
    label = by_ctx["gbv:forms/type_of_violence/fields/gbv_type/label"]
    assert label.id and label.auto_comments and "form" in label.auto_comments[0]
    ((file, line),) = label.locations
    assert file.endswith("definitions/gbv/forms/type_of_violence.yaml")
    with open(os.path.join(GBV, "forms", "type_of_violence.yaml"), encoding="utf-8") as fh:
        assert label.id.split()[0] in fh.read().splitlines()[line - 1]
    assert "gbv:lookups/gbv_type/choices/rape/label" in by_ctx
    assert any(c.startswith("gbv:workflows/case_workflow/transitions/") for c in by_ctx)
    assert "gbv:roles/caseworker/label" in by_ctx
    assert len(by_ctx) > 700


def test_an_overlay_catalog_holds_only_the_overlays_own_strings() -> None:
    target = module_target(os.path.join(ROOT, "examples", "country-overlay"))
    contexts = {m.context for m in target.template if m.id}
    assert "gbv_arcadia:forms/survivor_information/fields/residence_admin3/label" in contexts
    assert not any("type_of_violence" in c for c in contexts)


def _po(text: str) -> i18n.Entries:
    path = io.BytesIO(textwrap.dedent(text).encode())
    cat = read_po(path)
    out = i18n.Entries(plural_func=gettext.c2py(cat.plural_expr))
    for m in cat:
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy:
            if m.context:
                out.by_path[m.context.split(":", 1)[1]] = (m.id, m.string)
            else:
                out.plain[m.id] = m.string
    return out


def test_fallback_chain_overlay_then_module_then_english() -> None:
    overlay = _po("""
        msgctxt "arc:forms/f/fields/a/label"
        msgid "Age"
        msgstr "Âge (Arcadie)"
    """)
    module = _po("""
        msgctxt "gbv:forms/f/fields/a/label"
        msgid "Age"
        msgstr "Âge"

        msgctxt "gbv:forms/f/fields/b/label"
        msgid "Sex"
        msgstr "Sexe"

        msgctxt "gbv:forms/f/fields/c/label"
        msgid "Old English text"
        msgstr "Ancien texte"
    """)
    tr = i18n.Translator("fr", None, (overlay, module))
    assert tr.text("forms/f/fields/a/label", "Age") == ("Âge (Arcadie)", "fr")
    assert tr.text("forms/f/fields/b/label", "Sex") == ("Sexe", "fr")
    # the English changed since it was translated: the old translation is not used
    assert tr.text("forms/f/fields/c/label", "New English text") == ("New English text", "en")
    assert tr.text("forms/f/fields/zzz/label", "Never translated") == ("Never translated", "en")
    assert i18n.Translator("en", None, (module,)).text("forms/f/fields/b/label", "Sex") == ("Sex", "en")


def test_a_translation_that_breaks_a_placeholder_falls_back_and_is_reported(tmp_path: Any) -> None:
    entries = _po("""
        msgid "Referred to %(user)s."
        msgstr "Orienté vers %(utilisateur)s."
    """)
    tr = i18n.Translator("fr", entries, ())
    assert tr.gettext("Referred to %(user)s.", user="amina") == "Referred to amina."


def test_arabic_catalogs_have_the_cldr_plural_rule() -> None:
    for name in ("sanad.po", "gbv.po"):
        with open(os.path.join(i18n.ROOT_LOCALES, "ar", "LC_MESSAGES", name), "rb") as fh:
            cat = read_po(fh)
        rule = gettext.c2py(cat.plural_expr)
        order = ["zero", "one", "two", "few", "many", "other"]
        for n in (0, 1, 2, 3, 11, 99, 100, 101):
            assert order[rule(n)] == Locale("ar").plural_form(n), (name, n)


def test_language_negotiation_order() -> None:
    offered = ("en", "fr", "ar", "es")
    assert i18n.negotiate("ar", "fr", "es", offered) == "ar"
    assert i18n.negotiate(None, "fr", "es", offered) == "fr"
    assert i18n.negotiate(None, None, "de-DE,es;q=0.8,fr;q=0.5", offered) == "es"
    assert i18n.negotiate("xx", None, "ar-SA", offered) == "ar"
    assert i18n.negotiate(None, None, None, offered) == "en"


def test_catalogs_are_in_step_with_the_sources() -> None:
    paths = [GBV, os.path.join(ROOT, "examples", "child-protection"), os.path.join(ROOT, "examples", "country-overlay")]
    assert stale(paths) == [], "run 'sanad i18n update' and commit the catalogs"
    assert all(not s.placeholder_problems for s in status(paths))


def test_pages_in_arabic_are_right_to_left(tmp_path: Any) -> None:
    with database("sqlite", tmp_path) as url, server(url, [GBV]) as srv:
        srv.add_user("amina", "caseworker")
        c = srv.client()
        page = c.get("/login", params={"locale": "ar"})
        assert '<html lang="ar" dir="rtl">' in page.text
        c.post("/login", data={"username": "amina", "password": PASSWORD, "next": "/"})
        home = c.get("/", headers={"accept-language": "ar"})
        assert 'dir="rtl"' in home.text
        c.post("/locale", data={"locale": "fr", "back": "/"})
        assert '<html lang="fr" dir="ltr">' in c.get("/").text  # the saved choice wins over Accept-Language


def test_a_fifth_language_needs_no_code_change(make_module: MakeModule, tmp_path: Any) -> None:
    root = make_module(
        {
            "module.yaml": """
        id: mini
        title: Mini module
        version: '1'
        default_locale: en
        locales: [en, sw]
        record_types:
          case:
            title: Case
            forms: [intake, plan]
            workflow: case_flow
    """
        }
    )
    lc = os.path.join(root, "locales", "sw", "LC_MESSAGES")
    os.makedirs(lc)
    with open(os.path.join(lc, "mini.po"), "w", encoding="utf-8") as fh:
        fh.write(
            'msgid ""\nmsgstr ""\n"Language: sw\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
            'msgctxt "mini:forms/intake/fields/sex/label"\nmsgid "Sex"\nmsgstr "Jinsia"\n'
        )
    module = load_module(root).module
    assert module is not None
    tr = i18n.translator_for(module, "sw")
    assert tr.text("forms/intake/fields/sex/label", "Sex") == ("Jinsia", "sw")
    with database("sqlite", tmp_path) as url, server(url, [root]) as srv:
        srv.add_user("amina", "caseworker")
        c = srv.client("amina")
        rid = c.post("/api/v1/records/case", json={"data": {}}).json()["id"]
        page = c.get(f"/records/case/{rid}/forms/intake", params={"locale": "sw"})
        assert '<html lang="sw"' in page.text and "Jinsia" in page.text
        assert 'lang="en"' in page.text  # untranslated labels are marked as English


def test_the_babel_extractor_entry_point_reads_definition_yaml() -> None:
    from babel.messages.extract import extract_from_file

    path = os.path.join(GBV, "forms", "type_of_violence.yaml")
    found = list(extract_from_file("sanad", path, keywords={"pgettext": ((1, "c"), 2)}))
    contexts = {ctx for _line, _msg, _comments, ctx in found}
    assert "gbv:forms/type_of_violence/fields/gbv_type/label" in contexts
    line, message, comments, _ctx = next(f for f in found if f[3] == "gbv:forms/type_of_violence/title")
    assert line > 0 and message and comments == ["Title of a form"]


def test_the_api_answers_in_the_requested_language(tmp_path: Any) -> None:
    with database("sqlite", tmp_path) as url, server(url, [GBV]) as srv:
        srv.add_user("amina", "caseworker")
        c = srv.client("amina")
        rec = c.post("/api/v1/records/case", json={"data": {}}).json()
        en = {t["id"]: t for t in rec["transitions"]}["start_assessment"]
        fr = {
            t["id"]: t
            for t in c.get(f"/api/v1/records/case/{rec['id']}", params={"locale": "fr"}).json()["transitions"]
        }
        assert fr["start_assessment"]["label"] != en["label"] and fr["start_assessment"]["reasons"] != en["reasons"]
        r = c.post(f"/api/v1/records/case/{rec['id']}/transitions/start_assessment?locale=ar", json={})
        assert r.status_code == 422 and not r.json()["error"].isascii()


# -- issue 11: catalogs a field office can use ------------------------------------------------------
MODULES = [GBV, os.path.join(ROOT, "examples", "child-protection"), os.path.join(ROOT, "examples", "country-overlay")]


def test_every_module_is_fully_translated_in_the_languages_it_offers() -> None:
    found = status(MODULES)
    incomplete = [s.path for s in found if s.translated != s.total or s.fuzzy or s.placeholder_problems]
    assert incomplete == []
    for path in MODULES:
        module = load_module(path).module
        assert module is not None
        folder = os.path.relpath(i18n.module_catalog_folders(module)[0])
        for locale in module.locales:
            if locale != "en":
                own = [
                    s
                    for s in found
                    if s.path.startswith(f"{folder}/{locale}/LC_MESSAGES/") and "sanad.po" not in s.path
                ]
                assert own, f"{path} offers {locale} but has no catalog for it"


def test_arabic_catalogs_use_one_word_for_form_and_inclusive_words_for_people() -> None:
    catalogs = [os.path.join(i18n.ROOT_LOCALES, "ar", "LC_MESSAGES", name) for name in ("sanad.po", "gbv.po")] + [
        os.path.join(ROOT, "examples", "child-protection", "locales", "ar", "LC_MESSAGES", "child_protection.po"),
        os.path.join(ROOT, "examples", "country-overlay", "locales", "ar", "LC_MESSAGES", "gbv_arcadia.po"),
    ]
    for path in catalogs:
        with open(path, "rb") as fh:
            texts = [m.string for m in read_po(fh) if m.id and m.string]
        flat = " ".join(t if isinstance(t, str) else " ".join(t) for t in texts)
        assert "استمارة" not in flat and "استمارات" not in flat, path  # one word: نموذج
    with open(os.path.join(i18n.ROOT_LOCALES, "ar", "LC_MESSAGES", "gbv.po"), "rb") as fh:
        options = {m.context: m.string for m in read_po(fh) if m.context}
    for value in ("refugee", "idp", "returnee"):
        label = options[f"gbv:lookups/displacement_status/choices/{value}/label"]
        assert "/ة" in label, label  # the survivor may be a woman or a man


def test_no_two_questions_of_a_form_share_a_label() -> None:
    for path in [*MODULES, os.path.join(ROOT, "examples", "quickstart")]:
        module = load_module(path).module
        assert module is not None
        for form in module.forms.values():
            seen: dict[tuple[str | None, str], str] = {}
            for f in form.walk():
                if f.type == "note":
                    continue
                key = (f.scope.owner.id if f.scope.owner else None, f.label)
                assert key not in seen, f"{path} {form.id}: '{f.label}' for both {seen[key]} and {f.id}"
                seen[key] = f.id


def test_writing_a_catalog_again_changes_nothing_but_what_changed(tmp_path: Any) -> None:
    """`sanad i18n extract` / `update` leave a catalog alone when only its dates would change, so
    running them does not put every catalog in the next commit."""
    from datetime import datetime

    from babel.messages.catalog import Catalog

    from engine.i18n import catalogs

    def template(when: datetime, *ids: str) -> Catalog:
        cat = Catalog(project="Sanad", creation_date=when)
        for i in ids:
            cat.add(i)
        return cat

    pot = tmp_path / "locales" / "sanad.pot"
    assert catalogs.write(str(pot), template(datetime(2026, 12, 1, tzinfo=UTC), "Online"))
    first = pot.read_bytes()
    assert not catalogs.write(str(pot), template(datetime(2026, 12, 5, tzinfo=UTC), "Online"))
    assert pot.read_bytes() == first
    assert catalogs.write(str(pot), template(datetime(2026, 12, 5, tzinfo=UTC), "Online", "Offline"))
    assert b'msgid "Offline"' in pot.read_bytes()


def test_lists_and_counts_follow_the_readers_language() -> None:
    """Lists are joined as each language joins them (CLDR: no Latin comma in Arabic), and messages
    with a count take the count's plural form (Arabic has six)."""
    from markupsafe import Markup

    from engine.i18n import translator
    from engine.service import passwords
    from renderers.html import join_list

    module = load_module(GBV).module
    assert module is not None
    joined = {"en": "A, B, and C", "fr": "A, B et C", "es": "A, B y C", "ar": "A وB وC"}
    for locale, text in joined.items():
        token = i18n.use(i18n.translator_for(module, locale))
        try:
            assert i18n.current().join(["A", "B", "C"]) == text
            assert i18n.current().join(["A"]) == "A" and i18n.current().join([]) == ""
            html = join_list(["<A>", "B", Markup("<i>3</i>")], wrap="change")
            assert html.startswith('<span class="change">&lt;A&gt;</span>') and html.endswith("<i>3</i>")
            if locale == "ar":
                assert "," not in html and " و" in html
        finally:
            translator._current.reset(token)
    token = i18n.use(i18n.translator_for(module, "ar"))
    try:
        assert "10 أحرف" in (passwords.problem("short") or "")  # 3 to 10: the "few" form
        tr = i18n.current()
        one, two, many = (tr.ngettext("%(num)s more answer", "%(num)s more answers", n) for n in (1, 2, 11))
        assert len({one, two, many}) == 3 and "إجابتان" in two
        offline = tr.ngettext(
            "At most %(n)s record can be kept offline.", "At most %(n)s records can be kept offline.", 50, n=50
        )
        assert "50 سجلًا" in offline
    finally:
        translator._current.reset(token)
    fr = i18n.translator_for(module, "fr")
    assert fr.ngettext("%(num)s more answer", "%(num)s more answers", 1) == "1 autre réponse"
    assert fr.gettext("%(action)s: %(changes)s", action="modifié", changes="Nom") == "modifié\u00a0: Nom"


def test_a_messages_values_are_isolated_and_escaped_in_every_language() -> None:
    """`isolated` puts each value of a message (a name, a code) in its own <bdi>, escaped: a name
    typed as HTML shows as text, in English and in Arabic, and markup made by the app stays markup."""
    from markupsafe import Markup

    from engine.i18n import translator
    from renderers.html import isolated

    module = load_module(GBV).module
    assert module is not None
    for locale in ("en", "ar"):
        token = i18n.use(i18n.translator_for(module, locale))
        try:
            html = isolated("Assigned to %(name)s: %(what)s", name="<script>x</script>", what=Markup("<i>1</i>"))
            assert isinstance(html, Markup)
            assert "<bdi>&lt;script&gt;x&lt;/script&gt;</bdi>" in html and "<script>" not in html
            assert "<bdi><i>1</i></bdi>" in html
            assert isolated("100%% & <b> %(n)s", n=None) == "100% &amp; &lt;b&gt; <bdi>None</bdi>"
        finally:
            translator._current.reset(token)
