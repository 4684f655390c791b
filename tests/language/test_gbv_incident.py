"""The GBV module's incident record (issue 12, items 2 and 4), where its scenario files cannot say it:
every narrative of an incident is a direct identifier — never shared, sealed at rest, never a
report's dimension — and the classification guidance says what the GBVIMS Classification Tool says
(rape and sexual assault are non-consensual, unwanted; gang rape and marital rape are rape; FGM/C is
sexual assault and neither it nor honour killing is physical assault; general poverty is not denial
of resources), in every language of the module. The classification examples themselves are
scenarios: definitions/gbv/tests/incident_classification.yaml."""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from typing import Any

import pytest

from engine import i18n
from engine.language.loader import load_module
from engine.language.model import Field, Module
from tests.conftest import ROOT

GBV = os.path.join(ROOT, "definitions", "gbv")
NARRATIVES = {
    "incident_description": "gbv_incident",
    "non_gbv_explanation": "type_of_violence",
    "previous_incidents_notes": "type_of_violence",
    "perpetrator_notes": "alleged_perpetrators",
    "referral_notes": "incident_referrals",
}


@pytest.fixture(scope="module")
def gbv() -> Module:
    result = load_module(GBV)
    assert result.module is not None, [d.format() for d in result.report.items]
    return result.module


def flat(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def test_every_narrative_of_an_incident_is_a_direct_identifier(gbv: Module) -> None:
    fields = gbv.record_types["incident"].all_fields
    for name, form in NARRATIVES.items():
        assert fields[name].type == "textarea" and fields[name].form_id == form, name
    textareas = {f.id: f.sensitivity for f in fields.values() if f.type == "textarea"}
    assert set(NARRATIVES) <= set(textareas)
    assert textareas == dict.fromkeys(textareas, "direct"), "every free-text account of an incident is direct"


@pytest.mark.parametrize("audience", ["shared", "internal"])
def test_a_report_cannot_count_by_a_narrative(tmp_path: Any, audience: str) -> None:
    root = shutil.copytree(GBV, tmp_path / "gbv")
    dims = [f"perpetrators.{n}" if n == "perpetrator_notes" else n for n in NARRATIVES]
    tables = "\n".join(f"  - {{id: by_{n.split('.')[-1]}, title: By {n}, dimensions: [{n}]}}" for n in dims)
    (root / "reports" / "narratives.yaml").write_text(
        textwrap.dedent(f"""\
            id: narratives
            title: Narratives
            record_type: incident
            audience: {audience}
            tables:
            """)
        + tables
        + "\n",
        encoding="utf-8",
    )
    result = load_module(str(root))
    why = (
        "a shared report never counts by it"
        if audience == "shared"
        else "its answers are encrypted at rest and cannot be counted"
    )
    found = [d for d in result.report.items if d.code == "report.bad-dimension"]
    assert [d.message for d in found] == [f"'{n}' is a direct identifier: {why}" for n in NARRATIVES]
    assert all(d.file.endswith("narratives.yaml") for d in found)


def _texts(gbv: Module) -> dict[str, tuple[str, str]]:
    """(translation path, English) of the classification guidance: the note and the help text of
    the type of violence, and the options' labels."""
    fields = gbv.record_types["incident"].all_fields
    note, gbv_type = fields["classification_note"], fields["gbv_type"]
    out = {
        "note": (f"{i18n.field_path(note)}/label", note.label),
        "hint": (f"{i18n.field_path(gbv_type)}/hint", gbv_type.hint or ""),
    }
    for c in gbv_type.choices or ():
        out[c.value] = (i18n.choice_path(gbv_type, c), c.label)
    return out


def _says(text: str, *phrases: str) -> bool:
    low = flat(text).lower()
    return all(p.lower() in low for p in phrases)


def test_the_classification_guidance(gbv: Module) -> None:
    texts = {k: english for k, (_path, english) in _texts(gbv).items()}
    hint = texts["hint"]
    assert _says(hint, "(1) Rape: non-consensual penetration", "gang rape and marital rape are rape")
    assert _says(
        hint, "(2) Sexual assault: any non-consensual (unwanted) sexual contact", "FGM/C is recorded as sexual assault"
    )
    assert _says(hint, "(3) Physical assault", "does not include FGM/C or honour killing")
    assert _says(hint, "(5) Denial of resources", "general poverty is not recorded as this type")
    assert _says(hint, "choose the FIRST type that applies")
    assert _says(texts["note"], "gang rape", "marital rape", "are both rape")
    assert _says(texts["rape"], "non-consensual")
    assert _says(texts["sexual_assault"], "unwanted", "FGM/C")
    assert _says(texts["physical_assault"], "not FGM/C")
    assert _says(texts["denial_of_resources_opportunities_or_services"], "not general poverty")


@pytest.mark.parametrize("locale", ["fr", "ar", "es"])
def test_the_classification_guidance_is_translated(gbv: Module, locale: str) -> None:
    assert locale in gbv.locales
    tr = i18n.translator_for(gbv, locale)
    untranslated = [k for k, (path, english) in _texts(gbv).items() if tr.text(path, english)[1] != locale]
    assert untranslated == []


def _field(gbv: Module, name: str) -> Field:
    return gbv.record_types["incident"].all_fields[name]


def test_the_narratives_tell_the_caseworker_not_to_press(gbv: Module) -> None:
    account = _field(gbv, "incident_description")
    assert _says(account.hint or "", "does not have to describe what happened", "never leaves the organisation")
    assert account.required is False
