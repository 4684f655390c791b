"""The words `sanad seed` writes: the module's own (`seed:` in its demo data), else neutral ones."""

from __future__ import annotations

import os
import random
import re

from engine.diagnostics import Report
from engine.language.demo import SeedWords, read_demo
from engine.runtime.registry import Registry
from engine.service.bulk_answers import NOTES, Words
from tests.conftest import ROOT


def test_codes_follow_the_shape_and_are_unique() -> None:
    words = Words(SeedWords(codes={"client_code": "AAA-9999", "file_no": "99/AA"}))
    codes = [words.code("client_code", i) for i in range(30_000)]
    assert all(re.fullmatch(r"[A-Z]{3}-[0-9]{4}", c) for c in codes)
    assert len(set(codes)) == len(codes)
    assert codes[0][:3] != codes[10_000][:3]  # a new letter block every 10,000
    assert re.fullmatch(r"[0-9]{2}/[A-Z]{2}", words.code("file_no", 4_321))


def test_the_gbv_module_gives_its_own_words_and_its_code_shape() -> None:
    module = Registry.load([os.path.join(ROOT, "definitions", "gbv")]).modules["gbv"]
    demo = read_demo(module, Report())
    assert demo is not None and demo.seed is not None
    words = Words(demo.seed)
    assert words.codes == {"survivor_code": "AAA-9999"}
    assert "survivor" in words.step_comment
    notes = {
        words.text_for(module.record_types["case"].scope.fields["plan_summary"], random.Random(i)) for i in range(200)
    }
    assert notes <= set(demo.seed.notes) and len(notes) > 5


def test_without_words_of_its_own_a_module_gets_neutral_ones() -> None:
    module = Registry.load([os.path.join(ROOT, "examples", "child-protection")]).modules["child_protection"]
    demo = read_demo(module, Report())
    assert demo is not None and demo.seed is None
    words = Words(None)
    assert words.codes == {}
    for text in (*NOTES, words.step_comment):
        assert not re.search(r"gbv|survivor|perpetrator", text, re.I)
