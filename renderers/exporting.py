"""Writing exports: CSV or XLSX, line by line, so a large export never sits in memory (XLSX in
openpyxl's write-only mode), and, when a passphrase is given, the file inside an AES-256 encrypted
ZIP (pyzipper: opened with 7-Zip, or the archive tools of macOS and most Linux desktops)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

OnLine = Callable[[int], None]
MIN_PASSPHRASE = 12


def write_csv(
    out: IO[bytes], header: Sequence[str], lines: Iterable[Sequence[Any]], on_line: OnLine | None = None
) -> int:
    """CSV in UTF-8 with a byte-order mark (so spreadsheet programs read Arabic right); how many lines."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    w = csv.writer(text)
    w.writerow(header)
    n = 0
    for line in lines:
        w.writerow([_safe(v) for v in line])
        n += 1
        if on_line is not None:
            on_line(n)
    text.flush()
    text.detach()
    return n


def write_xlsx(
    out: IO[bytes] | str,
    sheet: str,
    header: Sequence[str],
    lines: Iterable[Sequence[Any]],
    rtl: bool = False,
    on_line: OnLine | None = None,
) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet[:31] or "Records")
    ws.sheet_view.rightToLeft = rtl
    bold = Font(bold=True)
    heads = []
    for h in header:
        cell = WriteOnlyCell(ws, value=h)
        cell.font = bold
        heads.append(cell)
    ws.append(heads)
    n = 0
    for line in lines:
        ws.append([_safe(v) for v in line])
        n += 1
        if on_line is not None:
            on_line(n)
    wb.save(out)
    return n


def _safe(value: Any) -> Any:
    """A cell value that a spreadsheet never runs as a formula (a text starting with '=', '+', …)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _number_like(value):
        return "'" + value
    return value


def _number_like(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValueError(f"the passphrase must be at least {MIN_PASSPHRASE} characters long")


def encrypt(src: str, inner_name: str, dest: str, passphrase: str) -> None:
    """Put the file `src` into the AES-256 encrypted ZIP `dest` as `inner_name`, then remove `src`."""
    import pyzipper

    check_passphrase(passphrase)
    with pyzipper.AESZipFile(dest, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(passphrase.encode("utf-8"))
        zf.setencryption(pyzipper.WZ_AES, nbits=256)
        zf.write(src, inner_name)
    os.remove(src)
