"""What the importer reports: `FORM.xlsx:sheet:ROW: severity CODE: message`, with codes from
engine.diagnostics.codes.IMPORT_CODES (each documented in docs/codes.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.diagnostics.codes import IMPORT_CODES, Severity


class ImportFailure(Exception):
    """The workbook cannot be imported at all (the findings say why)."""


@dataclass(frozen=True)
class Finding:
    file: str
    sheet: str | None
    row: int | None
    severity: Severity
    code: str
    message: str

    def format(self) -> str:
        where = self.file
        if self.sheet:
            where += f":{self.sheet}"
            if self.row:
                where += f":{self.row}"
        return f"{where}: {self.severity} {self.code}: {self.message}"


@dataclass
class Findings:
    file: str
    items: list[Finding] = field(default_factory=list)

    def add(self, code: str, message: str, sheet: str | None = None, row: int | None = None) -> None:
        if code not in IMPORT_CODES:  # a programming error: every code is registered and documented
            raise KeyError(f"undocumented import code {code!r}")
        self.items.append(Finding(self.file, sheet, row, IMPORT_CODES[code][0], code, message))

    def fail(self, code: str, message: str, sheet: str | None = None, row: int | None = None) -> ImportFailure:
        self.add(code, message, sheet, row)
        return ImportFailure(message)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.items if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.items if f.severity == "warning"]
