"""Finding 13: interface translations were rendered as raw HTML: a msgstr in locales/*/sanad.po
holding <meta http-equiv="refresh" …> redirected every visitor, and `sanad i18n status` did not
notice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.i18n import catalogs, translator
from engine.language import packaged
from tests.security.conftest import World

EVIL = '<meta http-equiv="refresh" content="0;url=https://example.org/phish">'


@pytest.fixture
def evil_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    locales = tmp_path / "locales"
    shutil.copytree(packaged.locales_folder(), locales)
    po = locales / "fr" / "LC_MESSAGES" / "sanad.po"
    text = po.read_text("utf-8")
    marker = 'msgid "Sign in"\nmsgstr "'
    assert marker in text
    start = text.index(marker) + len(marker)
    end = text.index('"\n', start)
    po.write_text(text[:start] + EVIL.replace('"', '\\"') + text[end:], "utf-8")
    monkeypatch.setattr(translator, "ROOT_LOCALES", str(locales))
    translator._translator.cache_clear()
    yield locales
    translator._translator.cache_clear()


def test_a_translation_cannot_inject_markup(world: World, evil_catalog: Path) -> None:
    page = world.client().get("/login?locale=fr").text
    assert "<meta http-equiv" not in page
    assert "&lt;meta http-equiv" in page  # shown as text, harmlessly


def test_i18n_status_reports_markup_the_english_does_not_have(evil_catalog: Path) -> None:
    found = [p for s in catalogs.status([packaged.reference_module()]) for p in s.placeholder_problems]
    assert any("Sign in" in p and "markup" in p for p in found), found
