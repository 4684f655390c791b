"""Charts of report tables as inline SVG: horizontal bars (one dimension), stacked bars (two), and a
monthly line. Every chart is an image with a title for screen readers; the numbers are always in
the table that follows it, which is the accessible version. Suppressed counts are not drawn (they
are written, `<5` or `x`). In a right-to-left page the bars grow from the right. Colours are the
Okabe-Ito palette, told apart by people with colour-vision deficiencies."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WIDTH = 640
BAR = 22
GAP = 8
LABEL = 220  # room for the category labels
TEXT = "#1f2933"


def _n(value: Any) -> int:
    return value if isinstance(value, int) else 0


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


def chart(table: dict[str, Any], rtl: bool = False) -> Markup:
    """The chart the table asks for ('' when none fits: no dimension, a measure, nothing counted)."""
    dims = table["dimensions"]
    if table.get("chart") == "none" or not dims or not table["rows"]:
        return Markup("")
    if table.get("measure"):
        return _bars(table, dims[0], "average_days", rtl) if len(dims) == 1 else Markup("")
    if table.get("chart") == "line" and len(dims) == 1:
        return _line(table, dims[0])
    if len(dims) >= 2:
        return _stacked(table, dims[-2], dims[-1], rtl)
    return _bars(table, dims[0], "count", rtl)


def _svg(table: dict[str, Any], height: int, body: str) -> Markup:
    title = escape(table["title"])
    return Markup(
        f'<svg class="chart" role="img" aria-label="{title}" viewBox="0 0 {WIDTH} {height}" direction="ltr" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{title}</title>{body}</svg>"
    )


def _bars(table: dict[str, Any], key: str, value: str, rtl: bool) -> Markup:
    rows = [r for r in table["rows"] if key in r]
    top = max((r[value] for r in rows if isinstance(r.get(value), (int, float))), default=0) or 1
    span = WIDTH - LABEL - 60
    parts = []
    for i, r in enumerate(rows):
        y = i * (BAR + GAP)
        v = r.get(value)
        length = (v / top) * span if isinstance(v, (int, float)) else 0
        full = _label(table, key, r[key])
        name = escape(_short(full))
        shown = escape(str(v if v is not None else r["count"]))
        if rtl:  # labels on the right, bars growing to the left
            label_x, label_anchor = WIDTH - LABEL + 8, "start"
            bar_x, num_x, num_anchor = WIDTH - LABEL - length, WIDTH - LABEL - length - 6, "end"
        else:
            label_x, label_anchor = LABEL - 8, "end"
            bar_x, num_x, num_anchor = LABEL, LABEL + length + 6, "start"
        base = y + BAR * 0.72
        parts.append(
            f"<g><title>{escape(full)}: {shown}</title>"
            + _text(label_x, base, label_anchor, str(name))
            + f'<rect x="{bar_x:.1f}" y="{y}" width="{length:.1f}" height="{BAR}" fill="{PALETTE[0]}"/>'
            + _text(num_x, base, num_anchor, str(shown), number=True)
            + "</g>"
        )
    return _svg(table, max(len(rows), 1) * (BAR + GAP), "".join(parts))


def _stacked(table: dict[str, Any], row_key: str, col_key: str, rtl: bool) -> Markup:
    rows_order = [str(c) for c in table["categories"].get(row_key, [])]
    cols_order = [str(c) for c in table["categories"].get(col_key, [])]
    cell: dict[tuple[str, str], int] = {}
    for r in table["rows"]:
        k = (str(r[row_key]), str(r[col_key]))
        cell[k] = cell.get(k, 0) + _n(r["count"])
    totals = {rk: sum(cell.get((rk, ck), 0) for ck in cols_order) for rk in rows_order}
    rows_order = [rk for rk in rows_order if totals[rk]]
    top = max(totals.values(), default=0) or 1
    span = WIDTH - LABEL - 20
    parts = []
    for i, rk in enumerate(rows_order):
        y = i * (BAR + GAP)
        name = escape(_short(_label(table, row_key, rk)))
        text_x, anchor = (WIDTH - LABEL + 8, "start") if rtl else (LABEL - 8, "end")
        parts.append(_text(text_x, y + BAR * 0.72, anchor, str(name)))
        offset = 0.0
        for j, ck in enumerate(cols_order):
            v = cell.get((rk, ck), 0)
            if not v:
                continue
            length = v / top * span
            x = WIDTH - LABEL - offset - length if rtl else LABEL + offset
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{BAR}" fill="{PALETTE[j % len(PALETTE)]}">'
                f"<title>{escape(_label(table, col_key, ck))}: {v}</title></rect>"
            )
            offset += length
    legend_y = len(rows_order) * (BAR + GAP) + 8
    x = 0.0
    for j, ck in enumerate(cols_order):
        text = escape(_label(table, col_key, ck))
        lx = WIDTH - x - 14 if rtl else x
        parts.append(
            f'<rect x="{lx:.0f}" y="{legend_y}" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>'
            f'<text x="{lx - 4 if rtl else lx + 16:.0f}" y="{legend_y + 11}" text-anchor="{"end" if rtl else "start"}" '
            f'font-size="12" fill="{TEXT}">{text}</text>'
        )
        x += 30 + 7 * len(str(text))
    return _svg(table, legend_y + 24, "".join(parts))


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
    for i, (k, v) in enumerate(points):
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
    return _svg(table, height, "".join(parts))
