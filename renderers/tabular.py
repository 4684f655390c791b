"""Reports as files: CSV (one line per cell, every table, codes and labels) and XLSX (one sheet per
table laid out as a cross-table with its totals, and a first sheet saying what the report is). The
counts are those of the report's result, already suppressed: a file never holds more than the page.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from engine import i18n
from engine.i18n import N_

MAX_KEYS = 4  # dimensions of a table, with the value of a field-per-category dimension
ABOUT, PERIOD, COUNTED, TOTAL = N_("About"), N_("Period"), N_("Records counted"), N_("Total")


def report_file(result: dict[str, Any], kind: str) -> tuple[bytes, str, str]:
    """(content, media type, file suffix) of a report result."""
    if kind == "csv":
        return report_csv(result).encode("utf-8-sig"), "text/csv; charset=utf-8", "csv"
    return report_xlsx(result), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"


def _label(table: dict[str, Any], key: str, code: Any) -> str:
    values = table["labels"]["values"].get(key, {})
    return str(values.get(str(code), code))


def report_csv(result: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    header = ["table", "title"]
    for n in range(1, MAX_KEYS + 1):
        header += [f"dimension_{n}", f"code_{n}", f"label_{n}"]
    header += ["count", "average_days"]
    w.writerow(header)
    for t in result["tables"]:
        for row in t["rows"]:
            line = [t["id"], t["title"]]
            for key in t["dimensions"][:MAX_KEYS]:
                line += [key, row[key], _label(t, key, row[key])]
            line += [""] * (3 * (MAX_KEYS - min(len(t["dimensions"]), MAX_KEYS)))
            line += [row["count"], row.get("average_days", "")]
            w.writerow(line)
    return out.getvalue()


def report_xlsx(result: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    tr = i18n.current()
    rtl = i18n.locale_direction(tr.locale) == "rtl"
    wb = Workbook()
    about = wb.active
    assert about is not None
    about.title = tr.plain_text(ABOUT)[:31]
    bold = Font(bold=True)
    lines = [
        (result["title"], ""),
        (tr.plain_text(PERIOD), f"{result['from'] or '…'} – {result['to'] or '…'}"),
        (tr.plain_text(COUNTED), result["records"]),
    ]
    if result.get("suppress_below"):
        n = result["suppress_below"]
        small = f"<{n}"
        note = tr.gettext(
            "Counts below %(n)s are shown as %(small)s; x hides a count from which a small one could be worked out.",
            n=n,
            small=small,
        )
        lines.append((note, ""))
    for r, (a, b) in enumerate(lines, 1):
        about.cell(r, 1, a).font = bold if r == 1 else Font()
        about.cell(r, 2, b)
    about.column_dimensions["A"].width = 60
    about.sheet_view.rightToLeft = rtl
    used: set[str] = {about.title}
    for t in result["tables"]:
        name = t["id"][:31]
        while name in used:
            name = name[:28] + f"_{len(used)}"
        used.add(name)
        ws = wb.create_sheet(name)
        ws.sheet_view.rightToLeft = rtl
        ws.cell(1, 1, t["title"]).font = bold
        if t.get("measure"):
            ws.cell(2, 1, t["measure"])
        _cross_table(ws, t, start_row=3, bold=bold, wrap=Alignment(wrap_text=True))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cross_table(ws: Any, t: dict[str, Any], start_row: int, bold: Any, wrap: Any) -> None:
    keys = t["dimensions"]
    names = t["labels"]["dimensions"]
    cells = {tuple(str(row[k]) for k in keys): row for row in t["rows"]}
    if not keys:
        ws.cell(start_row, 1, t["rows"][0]["count"] if t["rows"] else 0)
        return
    cats = {k: [str(c) for c in t["categories"].get(k, [])] for k in keys}
    row_keys, col_key = keys[:-1], keys[-1]
    value = "average_days" if t.get("measure") else "count"
    # header
    c = 1
    for k in row_keys:
        ws.cell(start_row, c, names.get(k, k)).font = bold
        c += 1
    ws.cell(start_row, c, names.get(col_key, col_key)).font = bold
    first_col = c
    for j, code in enumerate(cats[col_key]):
        cell = ws.cell(start_row + 1, first_col + j, _label(t, col_key, code))
        cell.font, cell.alignment = bold, wrap
    totals_col = first_col + len(cats[col_key])
    if t.get("additive"):
        ws.cell(start_row + 1, totals_col, i18n.current().plain_text(TOTAL)).font = bold
    # body
    combos: list[tuple[str, ...]] = [()]
    for k in row_keys:
        combos = [(*combo, code) for combo in combos for code in cats[k]]
    row_totals = {tuple(str(r[k]) for k in row_keys): r["count"] for r in t.get("row_totals", [])}
    r = start_row + 2
    for combo in combos:
        for i, code in enumerate(combo):
            ws.cell(r, i + 1, _label(t, row_keys[i], code))
        for j, code in enumerate(cats[col_key]):
            found = cells.get((*combo, code))
            ws.cell(r, first_col + j, found.get(value) if found else 0)
        if t.get("additive"):  # a row's total; a table of one dimension is one row: its total
            total_cell = ws.cell(r, totals_col, row_totals.get(combo, 0) if row_keys else t["total"])
            if not row_keys:
                total_cell.font = bold
        r += 1
    if t.get("additive") and row_keys:
        ws.cell(r, 1, i18n.current().plain_text(TOTAL)).font = bold
        column_totals = {str(x[col_key]): x["count"] for x in t.get("column_totals", [])}
        for j, code in enumerate(cats[col_key]):
            ws.cell(r, first_col + j, column_totals.get(code, cells.get((code,), {}).get("count", 0)))
        ws.cell(r, totals_col, t["total"]).font = bold
