"""Charts of report tables as inline SVG: horizontal bars (one dimension), stacked bars (two), small
multiples of stacked bars (three or more: one chart per category of the leading dimensions), and a
monthly line. Every chart is an image with a title and a description (its numbers) for screen
readers; the numbers are always in the table that follows it, which is the accessible version.

A suppressed count (`<5`, or `x` for one hidden so that a small one cannot be worked out) has no
length: it is never drawn as 0 nor added into a bar. It is drawn as a hatched, outlined box of a
fixed width that carries its text, after the counts that are known. In a right-to-left page the
bars grow from the right. Colours are the Okabe-Ito palette, told apart by people with
colour-vision deficiencies."""

from __future__ import annotations

from itertools import product
from typing import Any

from markupsafe import Markup, escape

from engine.i18n import _

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WIDTH = 640
BAR = 22
GAP = 8
LABEL = 220  # room for the category labels
HIDDEN = 30  # the width of the box of a suppressed count
TEXT = "#1f2933"


def _label(table: dict[str, Any], key: str, code: Any) -> str:
    return str(table["labels"]["values"].get(key, {}).get(str(code), code))


def _short(text: str, limit: int = 30) -> str:
    """A category's name that fits beside its bar (the whole name is in the bar's tooltip and the table)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _text(x: float, y: float, anchor: str, content: str, size: int = 13, number: bool = False) -> str:
    """A text of the chart, placed by `anchor`: words are laid out in their own direction, numbers
    (and '<5') always left to right."""
    bidi = 'direction="ltr" unicode-bidi="embed"' if number else 'unicode-bidi="plaintext"'
    return (
        f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" font-size="{size}" fill="{TEXT}" {bidi}>{content}</text>'
    )


def _known(value: Any) -> bool:
    """A count or an average that may be drawn (a suppressed one is a text: '<5', 'x')."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def chart(table: dict[str, Any], rtl: bool = False) -> Markup:
    """The chart the table asks for ('' when none fits: no dimension, a measure, nothing counted)."""
    dims = table["dimensions"]
    if table.get("chart") == "none" or not dims or not table["rows"]:
        return Markup("")
    if table.get("measure"):
        return _bars(table, dims[0], "average_days", rtl) if len(dims) == 1 else Markup("")
    if table.get("chart") == "line" and len(dims) == 1:
        return _line(table, dims[0])
    if len(dims) >= 3:
        return _small_multiples(table, rtl)
    if len(dims) == 2:
        return _stacked(table, table["rows"], dims[0], dims[1], rtl)
    return _bars(table, dims[0], "count", rtl)


def _svg(title: str, height: int, body: str, desc: str = "") -> Markup:
    name = escape(title)
    return Markup(
        f'<svg class="chart" role="img" aria-label="{name}" viewBox="0 0 {WIDTH} {height}" direction="ltr" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{name}</title>" + (f"<desc>{escape(desc)}</desc>" if desc else "") + f"{body}</svg>"
    )


def _hatch(pattern_id: str, colour: str) -> str:
    """A pattern of diagonal stripes in `colour`, the fill of a suppressed count's box."""
    return (
        f'<pattern id="{escape(pattern_id)}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{colour}" stroke-width="3" stroke-opacity=".45"/></pattern>'
    )


def _hidden_box(x: float, y: float, pattern_id: str, colour: str, shown: str, title: str, with_text: bool) -> str:
    """A suppressed count: a hatched box with an outline of a fixed width, its text inside (when
    `with_text`) and in its tooltip; never a bar whose length would say how many."""
    text = (
        f'<rect x="{x + 4:.1f}" y="{y + 5}" width="{HIDDEN - 8}" height="{BAR - 10}" fill="#fff"/>'
        + _text(x + HIDDEN / 2, y + BAR * 0.72, "middle", str(escape(shown)), 11, number=True)
        if with_text
        else ""
    )
    return (
        f'<g class="suppressed" data-count="{escape(shown)}"><title>{escape(title)}</title>'
        f'<rect x="{x:.1f}" y="{y}" width="{HIDDEN}" height="{BAR}" fill="url(#{escape(pattern_id)})" '
        f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 2"/>{text}</g>'
    )


def _bars(table: dict[str, Any], key: str, value: str, rtl: bool) -> Markup:
    rows = [r for r in table["rows"] if key in r]
    top = max((r[value] for r in rows if _known(r.get(value))), default=0) or 1
    span = WIDTH - LABEL - 60
    pattern_id = f"hatch-{table['id']}"
    parts = []
    described = []
    for i, r in enumerate(rows):
        y = i * (BAR + GAP)
        v = r.get(value)
        known = _known(v)
        full = _label(table, key, r[key])
        name = escape(_short(full))
        shown = str(v if known else r["count"])
        described.append(f"{full}: {shown}")
        length = (v / top) * span if known else HIDDEN
        if rtl:  # labels on the right, bars growing to the left
            label_x, label_anchor = WIDTH - LABEL + 8, "start"
            bar_x, num_x, num_anchor = WIDTH - LABEL - length, WIDTH - LABEL - length - 6, "end"
        else:
            label_x, label_anchor = LABEL - 8, "end"
            bar_x, num_x, num_anchor = LABEL, LABEL + length + 6, "start"
        base = y + BAR * 0.72
        bar = (
            f'<rect x="{bar_x:.1f}" y="{y}" width="{length:.1f}" height="{BAR}" fill="{PALETTE[0]}"/>'
            if known
            else _hidden_box(bar_x, y, pattern_id, PALETTE[0], shown, f"{full}: {shown}", with_text=False)
        )
        parts.append(
            f"<g><title>{escape(full)}: {escape(shown)}</title>"
            + _text(label_x, base, label_anchor, str(name))
            + bar
            + _text(num_x, base, num_anchor, str(escape(shown)), number=True)
            + "</g>"
        )
    defs = f"<defs>{_hatch(pattern_id, PALETTE[0])}</defs>" if any(not _known(r.get(value)) for r in rows) else ""
    return _svg(table["title"], max(len(rows), 1) * (BAR + GAP), defs + "".join(parts), "; ".join(described))


def _categories(table: dict[str, Any], key: str, rows: list[dict[str, Any]]) -> list[str]:
    """The categories of a dimension in display order (any the rows hold that are not listed, last)."""
    order = [str(c) for c in table["categories"].get(key, [])]
    return order + sorted({str(r[key]) for r in rows} - set(order))


def _small_multiples(table: dict[str, Any], rtl: bool) -> Markup:
    """A table of three or more dimensions: one stacked chart (the last two dimensions) for every
    category of the ones before them — every category, one with nothing counted saying so — so no
    count is ever summed over a dimension the chart does not show."""
    dims = table["dimensions"]
    lead, row_key, col_key = dims[:-2], dims[-2], dims[-1]
    panels = []
    for n, combo in enumerate(product(*(_categories(table, k, table["rows"]) for k in lead))):
        rows = [r for r in table["rows"] if all(str(r[k]) == c for k, c in zip(lead, combo, strict=True))]
        name = " · ".join(_label(table, k, c) for k, c in zip(lead, combo, strict=True))
        title = f"{table['title']} — {name}"
        if rows:
            svg = _stacked(table, rows, row_key, col_key, rtl, title=title, panel=n)
        else:
            nothing = _("Nothing to count in this period.")
            text = _text(WIDTH - 4 if rtl else 4, 17, "end" if rtl else "start", str(escape(nothing)))
            svg = _svg(title, 24, text, nothing)
        panels.append(f'<figure class="chart-panel"><figcaption>{escape(name)}</figcaption>{svg}</figure>')
    return Markup(f'<div class="chart-panels">{"".join(panels)}</div>')


def _stacked(
    table: dict[str, Any],
    rows: list[dict[str, Any]],
    row_key: str,
    col_key: str,
    rtl: bool,
    title: str | None = None,
    panel: int | None = None,
) -> Markup:
    """One bar per category of `row_key`, stacked by the categories of `col_key`: the known counts
    in proportion, then a hatched box for each suppressed one. `rows` hold one count per pair."""
    rows_order = _categories(table, row_key, rows)
    cols_order = _categories(table, col_key, rows)
    cell: dict[tuple[str, str], Any] = {}
    for r in rows:
        k = (str(r[row_key]), str(r[col_key]))
        if k in cell:  # two counts for one segment: a table this chart cannot show without adding them up
            return Markup("")
        cell[k] = r["count"]
    known = {rk: sum(v for (r, _c), v in cell.items() if r == rk and _known(v)) for rk in rows_order}
    hidden = {rk: sum(1 for (r, _c), v in cell.items() if r == rk and not _known(v)) for rk in rows_order}
    rows_order = [rk for rk in rows_order if known[rk] or hidden[rk]]
    top = max(known.values(), default=0) or 1
    span = WIDTH - LABEL - 20 - max(hidden.values(), default=0) * (HIDDEN + 2)
    prefix = f"hatch-{table['id']}" + (f"-{panel}" if panel is not None else "")
    used: dict[int, None] = {}
    parts = []
    described = []
    for i, rk in enumerate(rows_order):
        y = i * (BAR + GAP)
        full = _label(table, row_key, rk)
        text_x, anchor = (WIDTH - LABEL + 8, "start") if rtl else (LABEL - 8, "end")
        parts.append(_text(text_x, y + BAR * 0.72, anchor, str(escape(_short(full)))))
        offset = 0.0
        said = []
        for j, ck in enumerate(cols_order):  # the known counts first, in the legend's order…
            v = cell.get((rk, ck), 0)
            if not _known(v) or not v:
                continue
            length = v / top * span
            x = WIDTH - LABEL - offset - length if rtl else LABEL + offset
            what = _label(table, col_key, ck)
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{BAR}" fill="{PALETTE[j % len(PALETTE)]}">'
                f"<title>{escape(what)}: {v}</title></rect>"
            )
            said.append(f"{what} {v}")
            offset += length
        for j, ck in enumerate(cols_order):  # …then the suppressed ones, each a box of the same width
            v = cell.get((rk, ck), 0)
            if _known(v):
                continue
            offset += 2
            x = WIDTH - LABEL - offset - HIDDEN if rtl else LABEL + offset
            what = _label(table, col_key, ck)
            colour = PALETTE[j % len(PALETTE)]
            used[j] = None
            parts.append(_hidden_box(x, y, f"{prefix}-{j}", colour, str(v), f"{what}: {v}", with_text=True))
            said.append(f"{what} {v}")
            offset += HIDDEN
        described.append(f"{full}: {', '.join(said)}")
    defs = "".join(_hatch(f"{prefix}-{j}", PALETTE[j % len(PALETTE)]) for j in used)
    legend_y = len(rows_order) * (BAR + GAP) + 8
    keys = [(PALETTE[j % len(PALETTE)], _label(table, col_key, ck), False) for j, ck in enumerate(cols_order)]
    if used:
        marks = sorted({str(v) for v in cell.values() if not _known(v)})
        keys.append(("#52606d", f"{_('hidden')} (\u2066{', '.join(marks)}\u2069)", True))  # the marks left to right
    x, line = 0.0, 0
    for colour, text, hatched in keys:
        width = 30 + 7 * len(text)
        if x and x + width > WIDTH:  # a legend wider than the chart goes on to the next line
            x, line = 0.0, line + 1
        lx = WIDTH - x - 14 if rtl else x
        ly = legend_y + line * 18
        fill = (
            f'fill="#fff" stroke="{colour}" stroke-width="1.5" stroke-dasharray="3 2"'
            if hatched
            else f'fill="{colour}"'
        )
        parts.append(
            f'<rect x="{lx:.0f}" y="{ly}" width="12" height="12" {fill}/>'
            f'<text x="{lx - 4 if rtl else lx + 16:.0f}" y="{ly + 11}" text-anchor="{"end" if rtl else "start"}" '
            f'font-size="12" fill="{TEXT}" unicode-bidi="plaintext">{escape(text)}</text>'
        )
        x += width
    return _svg(
        title or table["title"],
        legend_y + 24 + line * 18,
        (f"<defs>{defs}</defs>" if defs else "") + "".join(parts),
        "; ".join(described),
    )


def _line(table: dict[str, Any], key: str) -> Markup:
    """Months along the axis; a suppressed month is a hollow mark on the axis, and the line is
    broken there rather than drawn through a number nobody may read."""
    points = sorted((str(r[key]), r["count"]) for r in table["rows"])
    if not points:
        return Markup("")
    top = max((v for _k, v in points if isinstance(v, int)), default=0) or 1
    height, pad = 200, 30
    step = (WIDTH - 2 * pad) / max(len(points) - 1, 1)
    parts = [f'<line x1="{pad}" y1="{height - pad}" x2="{WIDTH - pad}" y2="{height - pad}" stroke="#7b8794"/>']
    segment: list[str] = []
    described = []
    for i, (k, v) in enumerate(points):
        described.append(f"{k}: {v}")
        x = pad + i * step
        if isinstance(v, int):
            y = height - pad - v / top * (height - 2 * pad)
            segment.append(f"{'M' if not segment else 'L'}{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{PALETTE[0]}"><title>{escape(k)}: {v}</title></circle>'
            )
        else:
            if len(segment) > 1:
                parts.append(f'<path d="{" ".join(segment)}" fill="none" stroke="{PALETTE[0]}" stroke-width="2.5"/>')
            segment = []
            parts.append(
                f'<circle cx="{x:.1f}" cy="{height - pad}" r="4" fill="#fff" stroke="{PALETTE[0]}" stroke-width="1.5">'
                f"<title>{escape(k)}: {escape(str(v))}</title></circle>"
            )
        parts.append(_text(x, height - 10, "middle", str(escape(k)), 11, number=True))
    if len(segment) > 1:
        parts.append(f'<path d="{" ".join(segment)}" fill="none" stroke="{PALETTE[0]}" stroke-width="2.5"/>')
    return _svg(table["title"], height, "".join(parts), "; ".join(described))
