"""Import XLSForms (`sanad import-xlsform`): `reader` reads the workbook's sheets into rows that
remember where they were, `expressions` translates XPath expressions, `convert` builds the form,
lookups and translations, `writer` writes the module folder and its catalogs and checks the result.
Every finding names FILE:sheet:ROW and has a stable code (engine.diagnostics.codes.IMPORT_CODES)."""

from engine.xlsform.findings import Finding, Findings, ImportFailure
from engine.xlsform.writer import ImportResult, import_xlsform

__all__ = ["Finding", "Findings", "ImportFailure", "ImportResult", "import_xlsform"]
