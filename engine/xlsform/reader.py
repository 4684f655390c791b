"""Read an XLSForm workbook into rows that remember their sheet and row number.

Column headers are normalised the way pyxform reads them (`list name` → `list_name`,
`bind::relevant` → `relevant`, `jr:constraintMsg` → `constraint_message`); a header with a language,
`label::Français (fr)`, becomes (`label`, `Français (fr)`). The `sanad::<key>` columns of an exported
form keep their prefix (`sanad::description::Français (fr)` becomes (`sanad::description`,
`Français (fr)`)). Cell values become text.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Any

from engine.xlsform.findings import Findings

_ALIASES = {
    "list_name": "list_name",
    "listname": "list_name",
    "list name": "list_name",
    "calculate": "calculation",
    "constraint message": "constraint_message",
    "jr:constraintmsg": "constraint_message",
    "required message": "required_message",
    "jr:requiredmsg": "required_message",
    "read only": "read_only",
    "readonly": "read_only",
    "choice filter": "choice_filter",
    "repeat count": "repeat_count",
    "jr:count": "repeat_count",
    "caption": "label",
    "default_value": "default",
    "relevance": "relevant",
}
_PREFIXES = ("bind::", "body::", "control::")
#: columns `sanad::<key>` that `sanad export-xlsform` writes: what XLSForm cannot say, for Sanad
SANAD_PREFIX = "sanad::"


@dataclass
class Row:
    number: int  # the spreadsheet row (1 = the header)
    cells: dict[str, str]  # normalised column -> text
    translations: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> language -> text

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


@dataclass
class Sheet:
    name: str  # as written in the workbook
    columns: list[str]
    rows: list[Row]
    languages: list[str]  # language headers seen in `column::language` columns, in order


@dataclass
class Workbook:
    path: str
    sheets: dict[str, Sheet]  # lower-cased sheet name -> sheet


def normalise_header(raw: str) -> tuple[str, str | None]:
    """('label', 'Français (fr)') for 'label::Français (fr)'; ('relevant', None) for 'bind::relevant'."""
    text = raw.strip()
    low = text.lower()
    if low.startswith(SANAD_PREFIX):  # sanad::relevant, sanad::description::Français (fr)
        key, _, lang = text[len(SANAD_PREFIX) :].partition("::")
        return SANAD_PREFIX + key.strip().lower(), lang.strip() or None
    for prefix in _PREFIXES:
        if low.startswith(prefix):
            text = text[len(prefix) :]
            low = low[len(prefix) :]
    language: str | None = None
    if "::" in text:
        base, _, language = text.partition("::")
        text = base.strip()
        language = language.strip()
        low = text.lower()
        if low in ("media", "image", "audio", "video", "big-image") and "::" in language:
            language = language.split("::", 1)[1].strip()
            text = f"media::{low}"
            low = text
    low = _ALIASES.get(low, low)
    low = _ALIASES.get(low.replace(" ", "_"), low.replace(" ", "_"))
    return low, language


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def read_workbook(path: str, findings: Findings) -> Workbook:
    """The sheets of an .xlsx XLSForm; raises ImportFailure (with a finding) when it cannot be read."""
    ext = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise findings.fail("xlsform.unreadable", f"there is no file '{path}'")
    if ext == ".xls":
        return _read_xls(path, findings)
    if ext in (".csv", ".ods", ".xml"):
        raise findings.fail(
            "xlsform.format",
            f"'{ext}' files are not read: open the form in a spreadsheet program and save it as .xlsx "
            "(Excel Workbook), then import that file",
        )
    if not zipfile.is_zipfile(path):
        raise findings.fail(
            "xlsform.unreadable", "the file is not an .xlsx workbook (it is not a zip archive); save it as .xlsx"
        )
    import openpyxl  # here, so `sanad --help` does not pay for it

    try:
        with warnings.catch_warnings():  # openpyxl warns about styles and properties it skips
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for broken files
        raise findings.fail(
            "xlsform.unreadable", f"the workbook cannot be read ({type(exc).__name__}: {exc})"
        ) from None
    sheets: dict[str, Sheet] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for ws in wb.worksheets:
                key = ws.title.strip().lower()
                if key in sheets:
                    continue
                sheets[key] = _read_sheet(ws.title, _rows(ws))
    except Exception as exc:
        raise findings.fail(
            "xlsform.unreadable", f"the workbook cannot be read ({type(exc).__name__}: {exc})"
        ) from None
    finally:
        wb.close()
    return Workbook(path, sheets)


def _read_xls(path: str, findings: Findings) -> Workbook:
    """The sheets of an Excel 97-2003 (.xls) XLSForm, through xlrd (which reads only that format)."""
    import xlrd  # here, so `sanad --help` does not pay for it

    try:
        book = xlrd.open_workbook(path)
    except Exception as exc:  # xlrd raises many kinds for broken files
        raise findings.fail(
            "xlsform.unreadable", f"the .xls workbook cannot be read ({type(exc).__name__}: {exc}); save it as .xlsx"
        ) from None
    sheets: dict[str, Sheet] = {}
    try:
        for ws in book.sheets():
            key = ws.name.strip().lower()
            if key in sheets:
                continue
            rows = ([_xls_value(book, ws.cell(r, c)) for c in range(ws.ncols)] for r in range(ws.nrows))
            sheets[key] = _read_sheet(ws.name, rows)
    finally:
        book.release_resources()
    return Workbook(path, sheets)


def _xls_value(book: Any, cell: Any) -> Any:
    import xlrd

    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)
        except Exception:
            return cell.value
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    return cell.value


BLANK_ROWS_ENDING_A_SHEET = 1000


def _rows(ws: Any) -> Any:
    """The rows of a worksheet, only as wide as its header, ending after a long run of blank rows
    (spreadsheets often claim a million formatted rows)."""
    width = 0
    for raw in ws.iter_rows(min_row=1, max_row=20, values_only=True):
        texts = [cell_text(v) for v in raw[:1000]]
        if any(texts):
            width = max(i for i, t in enumerate(texts) if t) + 1
            break
    if not width:
        return
    blank = 0
    for raw in ws.iter_rows(values_only=True, max_col=width):
        if any(v is not None and str(v).strip() for v in raw):
            blank = 0
        else:
            blank += 1
            if blank > BLANK_ROWS_ENDING_A_SHEET:
                return
        yield raw


def _read_sheet(name: str, rows: Any) -> Sheet:
    it = iter(rows)
    header: list[tuple[str, str | None]] = []
    number = 0
    for raw in it:  # the first row with any text is the header
        number += 1
        texts = [cell_text(v) for v in raw]
        if any(texts):
            header = [normalise_header(t) if t else ("", None) for t in texts]
            break
    columns: list[str] = []
    languages: list[str] = []
    for base, lang in header:
        if base and lang is None and base not in columns:
            columns.append(base)
        if base and lang is not None:
            if base not in columns:
                columns.append(base)
            if lang not in languages and not base.startswith("media::"):
                languages.append(lang)
    out: list[Row] = []
    for raw in it:
        number += 1
        cells: dict[str, str] = {}
        translations: dict[str, dict[str, str]] = {}
        for i, value in enumerate(raw):
            if i >= len(header):
                break
            base, lang = header[i]
            text = cell_text(value)
            if not base or not text:
                continue
            if lang is None:
                cells.setdefault(base, text)
            else:
                translations.setdefault(base, {}).setdefault(lang, text)
        if cells or translations:
            out.append(Row(number, cells, translations))
    return Sheet(name, columns, out, languages)
