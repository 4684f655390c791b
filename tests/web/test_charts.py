"""The dashboard charts (issue 12): a suppressed count is never drawn as a zero-length bar nor added
into one — it is a hatched box of its own that carries its text (`<5`, `x`) — and a table of three
dimensions is drawn as small multiples, one stacked chart for every category of its first dimension,
never summed over it. Every chart is an image with a name and a description, left to right or right
to left."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from markupsafe import Markup

from renderers.html import charts

SVG = "{http://www.w3.org/2000/svg}"

TYPES = {"rape": "Rape", "sexual_assault": "Sexual assault", "forced_marriage": "Forced marriage"}
SEXES = {"female": "Female", "male": "Male"}
AGES = {"0_11": "0 to 11", "12_17": "12 to 17", "18_plus": "18 or older"}


def three_way() -> dict[str, Any]:
    """Type × sex × age, as a report's result gives it: rape has counts and suppressed cells, sexual
    assault only suppressed cells, forced marriage nothing at all."""
    rows = [
        ("rape", "female", "18_plus", 12),
        ("rape", "female", "12_17", "<5"),
        ("rape", "male", "18_plus", "x"),
        ("rape", "male", "0_11", 6),
        ("sexual_assault", "female", "18_plus", "<5"),
    ]
    return {
        "id": "by_type_sex_age",
        "title": "Incidents by type, sex and age",
        "dimensions": ["gbv_type", "survivor_sex", "age_group"],
        "rows": [{"gbv_type": t, "survivor_sex": s, "age_group": a, "count": n} for t, s, a, n in rows],
        "total": 30,
        "additive": True,
        "chart": "stacked",
        "labels": {
            "dimensions": {"gbv_type": "Type", "survivor_sex": "Sex", "age_group": "Age"},
            "values": {"gbv_type": TYPES, "survivor_sex": SEXES, "age_group": AGES},
        },
        "categories": {"gbv_type": list(TYPES), "survivor_sex": list(SEXES), "age_group": list(AGES)},
    }


def one_way() -> dict[str, Any]:
    return {
        "id": "by_type",
        "title": "Incidents by type",
        "dimensions": ["gbv_type"],
        "rows": [{"gbv_type": "rape", "count": 18}, {"gbv_type": "sexual_assault", "count": "<5"}],
        "total": 21,
        "additive": True,
        "chart": "bar",
        "labels": {"dimensions": {"gbv_type": "Type"}, "values": {"gbv_type": TYPES}},
        "categories": {"gbv_type": list(TYPES)},
    }


def parse(markup: Markup) -> ET.Element:
    assert markup, "no chart"
    return ET.fromstring(f"<root>{markup}</root>")


def svgs(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}svg"))


def hidden_boxes(svg: ET.Element) -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if g.get("class") == "suppressed"]


def bar_rects(svg: ET.Element) -> list[ET.Element]:
    """The rectangles of known counts (not the legend's squares, not the suppressed boxes)."""
    boxes = {id(r) for g in hidden_boxes(svg) for r in g.iter(f"{SVG}rect")}
    return [r for r in svg.iter(f"{SVG}rect") if id(r) not in boxes and r.get("height") == str(charts.BAR)]


def accessible(svg: ET.Element) -> tuple[str, str]:
    assert svg.get("role") == "img"
    title = svg.find(f"{SVG}title")
    desc = svg.find(f"{SVG}desc")
    assert title is not None and title.text and svg.get("aria-label") == title.text
    assert desc is not None and desc.text
    return title.text, desc.text


def test_a_three_way_table_is_a_chart_for_every_category_of_its_first_dimension() -> None:
    root = parse(charts.chart(three_way()))
    panels = list(root.iter("figure"))
    assert [p.findtext("figcaption") for p in panels] == list(TYPES.values())
    names = [accessible(svg)[0] for svg in svgs(root)]
    assert names == [f"Incidents by type, sex and age — {label}" for label in TYPES.values()]
    rape, assault, marriage = (p.find(f"{SVG}svg") for p in panels)
    assert rape is not None and assault is not None and marriage is not None
    # each chart holds its own category's counts only: rape's known counts, nothing of the others
    assert sorted(r.findtext(f"{SVG}title") for r in bar_rects(rape)) == ["0 to 11: 6", "18 or older: 12"]
    assert bar_rects(assault) == [] and len(hidden_boxes(assault)) == 1
    # a category with nothing counted still has its chart, which says so
    assert "Nothing to count in this period." in "".join(marriage.itertext())
    assert hidden_boxes(marriage) == [] and bar_rects(marriage) == []


def test_a_suppressed_count_is_a_box_of_its_own_never_zero_and_never_added() -> None:
    root = parse(charts.chart(three_way()))
    rape = svgs(root)[0]
    boxes = hidden_boxes(rape)
    assert sorted(g.get("data-count") or "" for g in boxes) == ["<5", "x"]
    for g in boxes:
        rect = g.find(f"{SVG}rect")
        assert rect is not None and float(rect.get("width") or 0) == charts.HIDDEN > 0
        assert float(rect.get("height") or 0) == charts.BAR
        assert (rect.get("fill") or "").startswith("url(#hatch-") and rect.get("stroke")  # hatched, outlined
        assert g.get("data-count") in "".join(g.itertext())  # its text, in the box and in its tooltip
    assert not re.search(r'<rect[^>]* width="0(\.0)?"', str(charts.chart(three_way())))  # nothing drawn as 0
    # the known counts are in proportion to each other: 12 and 6, whatever is hidden next to them
    widths = {r.findtext(f"{SVG}title"): float(r.get("width") or 0) for r in bar_rects(rape)}
    assert abs(widths["18 or older: 12"] - 2 * widths["0 to 11: 6"]) < 0.2
    # the description says what is hidden, as the table does
    _name, desc = accessible(rape)
    assert "Female: 18 or older 12, 12 to 17 <5" in desc and "Male: 0 to 11 6, 18 or older x" in desc
    # the hatch patterns the boxes use are defined, once per chart, with ids unique on the page
    ids = [p.get("id") for svg in svgs(root) for p in svg.iter(f"{SVG}pattern")]
    assert len(ids) == len(set(ids)) and all(
        (g.find(f"{SVG}rect").get("fill") or "")[5:-1] in ids  # type: ignore[union-attr]
        for svg in svgs(root)
        for g in hidden_boxes(svg)
    )


def test_a_suppressed_bar_is_a_box_too() -> None:
    svg = svgs(parse(charts.chart(one_way())))[0]
    [box] = hidden_boxes(svg)
    rect = box.find(f"{SVG}rect")
    assert box.get("data-count") == "<5" and rect is not None and float(rect.get("width") or 0) == charts.HIDDEN
    assert accessible(svg) == ("Incidents by type", "Rape: 18; Sexual assault: <5")


def test_right_to_left_bars_grow_from_the_right() -> None:
    for table in (one_way(), three_way()):
        svg = svgs(parse(charts.chart(table, rtl=True)))[0]
        edge = charts.WIDTH - charts.LABEL
        for r in bar_rects(svg) + [g.find(f"{SVG}rect") for g in hidden_boxes(svg)]:
            assert r is not None
            assert float(r.get("x") or 0) + float(r.get("width") or 0) <= edge + 0.1
        assert any(abs(float(r.get("x") or 0) + float(r.get("width") or 0) - edge) < 0.1 for r in bar_rects(svg))


def test_a_two_way_table_is_one_stacked_chart() -> None:
    table = three_way()
    table["dimensions"] = ["survivor_sex", "age_group"]
    table["rows"] = [{k: v for k, v in r.items() if k != "gbv_type"} for r in table["rows"] if r["gbv_type"] == "rape"]
    root = parse(charts.chart(table))
    [svg] = svgs(root)
    assert list(root.iter("figure")) == [] and len(hidden_boxes(svg)) == 2 and len(bar_rects(svg)) == 2
    assert accessible(svg)[0] == "Incidents by type, sex and age"
