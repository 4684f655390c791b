"""The stable diagnostic codes an implementer or translator can meet.

Every code is documented in docs/codes.md with an example and its fix; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Final, Literal

Severity = Literal["error", "warning"]

#: code -> (default severity, one-line summary)
CODES: Final[dict[str, tuple[Severity, str]]] = {
    # reading files
    "file.unreadable": ("error", "a definition file cannot be read or is not UTF-8 text"),
    "module.not-found": ("error", "the path is not a module folder (no module.yaml)"),
    "module.unexpected-file": ("warning", "a file in a module folder that Sanad does not read"),
    "yaml.syntax": ("error", "the file is not valid YAML"),
    "yaml.duplicate-key": ("error", "a key appears twice in the same mapping"),
    "yaml.truthy": ("warning", "an unquoted yes/no/on/off that other YAML tools read as a boolean"),
    "yaml.unsupported": ("error", "a YAML feature Sanad does not accept (tags, complex keys)"),
    # JSON Schema
    "schema.required": ("error", "a required key is missing"),
    "schema.unknown-key": ("error", "a key that is not part of the file format"),
    "schema.type": ("error", "a value of the wrong kind (text, number, list, true/false…)"),
    "schema.enum": ("error", "a value that is not one of the allowed words"),
    "schema.pattern": ("error", "an id or value that does not have the required shape"),
    "schema.invalid": ("error", "any other breach of the file format"),
    # ids and references
    "ref.duplicate-id": ("error", "two things of the same kind share an id"),
    "ref.id-mismatch": ("warning", "a file's id differs from its file name"),
    "ref.unknown-form": ("error", "a form id that no form file defines"),
    "ref.unknown-field": ("error", "a field id (outside expressions) that the record type does not have"),
    "ref.unknown-lookup": ("error", "a lookup id that no lookup file defines"),
    "ref.unknown-record-type": ("error", "a record type that module.yaml does not define"),
    "ref.unknown-workflow": ("error", "a workflow id that no workflow file defines"),
    "ref.unknown-state": ("error", "a workflow state that the workflow does not define"),
    "ref.unknown-role": ("error", "a role id that roles.yaml does not define"),
    "ref.unknown-permission": ("error", "a permission that Sanad does not know"),
    "ref.form-record-type": ("error", "a form is listed under a record type other than its own"),
    "ref.unused-form": ("warning", "a form file that no record type lists"),
    "ref.unused-lookup": ("warning", "a lookup that no field uses"),
    # module-level
    "module.locale": ("error", "default_locale is not among the module's locales"),
    # fields
    "field.choices-missing": ("error", "a select field without choices"),
    "field.key-not-allowed": ("error", "a key that does not apply to this field type"),
    "field.calculate-missing": ("error", "a calculate field without a calculate expression"),
    "field.subform-empty": ("error", "a subform without fields"),
    "field.section-empty": ("error", "a section without fields"),
    "field.section-in-subform": ("error", "a section inside a subform's rows"),
    "field.bad-default": ("error", "a default that is not a valid answer for the field"),
    "field.bad-limit": ("error", "a min/max of the wrong kind, or min above max"),
    "label.empty": ("error", "a label or title that is empty"),
    # expressions
    "expr.syntax": ("error", "an expression that cannot be read"),
    "expr.too-complex": ("error", "an expression longer or deeper than the limits"),
    "expr.unknown-field": ("error", "an expression refers to a field that does not exist"),
    "expr.scope": ("error", "a field used outside its subform, or `..` above the top"),
    "expr.dot-outside-constraint": ("error", "`.` used outside a constraint"),
    "expr.bare-name": ("error", "a bare name used outside choice_filter, or not a choice key"),
    "expr.unknown-function": ("error", "a function Sanad does not have"),
    "expr.unknown-setting": ("error", "setting('name') names a setting module.yaml does not have"),
    "expr.unknown-column": ("error", "lookup() names a column its option list does not have"),
    "expr.arity": ("error", "a function called with the wrong number of arguments"),
    "expr.unknown-choice": ("error", "a text compared with a select field that is not one of its choices"),
    "expr.not-multi": ("error", "selected()/count-selected() on a field that is not select_multiple"),
    "expr.not-subform": ("error", "count()/sum()/any()/all() on a field that is not a subform"),
    "expr.type-mismatch": ("error", "values of incompatible kinds compared or combined"),
    "expr.bad-regex": (
        "error",
        "an invalid regex() pattern, or one that needs backtracking (look-around, back-references)",
    ),
    "expr.slow-regex": ("warning", "a regex() pattern that repeats a repetition: slow in browsers on long answers"),
    "expr.bad-date": ("error", "a date() literal that is not a real calendar date"),
    "expr.cycle": ("error", "calculations or skip logic that depend on themselves"),
    # overlays
    "overlay.base-not-found": ("error", "`extends` points at a folder that holds no module"),
    "overlay.cycle": ("error", "overlays that extend each other in a circle"),
    "overlay.unknown-target": (
        "error",
        "an overlay changes a form, field, choice, state, transition, role or scenario the base does not have",
    ),
    # workflows
    "workflow.unreachable-state": ("error", "a state no transition leads to"),
    "workflow.dead-end": ("error", "a non-final state with no transition out"),
    "workflow.record-type": ("error", "a workflow attached to a record type other than its own"),
    "workflow.no-roles": ("warning", "a transition no role may take"),
    "workflow.decision-without-stage": ("error", "a decision (approve or return) that moves the record nowhere"),
    # reports and exports
    "report.bad-dimension": (
        "error",
        "a report table counts by something it cannot (no options, a direct identifier, …)",
    ),
    "report.bad-measure": ("error", "a report table measures the days until a step its workflow does not have"),
    "report.not-in-database": ("error", "a report's rule uses what cannot run in the database"),
    "export.unmapped-code": (
        "warning",
        "a layout column's codes leave out options of its field, which would be written as Sanad's codes",
    ),
    # scenario tests
    "test.unknown-field": ("error", "a scenario names a field the form does not have"),
    "test.unknown-transition": ("error", "a scenario names a transition the workflow does not have"),
    "test.no-workflow": ("error", "a scenario expects transitions but the record type has no workflow"),
    "test.missing-context": ("error", "a scenario expects transitions but names no role"),
    # demo data
    "demo.incomplete": ("error", "the demo data lacks its agency, groups, paths or people"),
    "demo.bad-step": ("error", "a demo path step with no action, several actions, or keys of another action"),
    "demo.unknown-path": (
        "error",
        "a person or a path names a demo path that does not exist (or leads back to itself)",
    ),
    "demo.unknown-transition": ("error", "a demo path step names a transition the workflow does not have"),
    "demo.step-not-possible": ("error", "a demo path step the workflow does not allow at that stage, or for that role"),
    "demo.wrong-stage": ("error", "a demo path whose steps end at another stage than the one it names"),
    "demo.unknown-account": ("error", "a demo step or person names a role or group that does not exist"),
    "demo.bad-answer": ("error", "a demo answer that is not valid for its field"),
    "demo.unused-answers": ("warning", "more demo answer sets for a form than the person's path fills"),
}


#: `sanad import-xlsform`: code -> (severity, one-line summary). Kept apart from CODES because these
#: are reported against a spreadsheet (FILE:sheet:ROW), not a definition file; documented in
#: docs/codes.md (section "Importing XLSForms") and tested in tests/xlsform/.
IMPORT_CODES: Final[dict[str, tuple[Severity, str]]] = {
    "xlsform.unreadable": ("error", "the file cannot be read as an XLSForm workbook"),
    "xlsform.format": ("error", "a file format the importer does not read (save it as .xlsx)"),
    "xlsform.no-survey": ("error", "the workbook has no survey sheet, or it is empty"),
    "xlsform.missing-column": ("error", "the survey sheet lacks the type or name column"),
    "xlsform.module": ("error", "the target module cannot take the form (broken, or the form exists)"),
    "xlsform.unknown-type": ("warning", "a question type the importer does not know; the row is left out"),
    "xlsform.unsupported-type": (
        "warning",
        "a question type Sanad cannot represent; mapped to the nearest one or left out",
    ),
    "xlsform.unknown-list": ("warning", "a select names a choice list the choices sheet does not have"),
    "xlsform.choice": ("warning", "a choices row without a list or name, or a value repeated in its list"),
    "xlsform.renamed": ("warning", "a name that is not a valid Sanad id, or already used, was renamed"),
    "xlsform.unsupported-expression": (
        "warning",
        "an expression uses something Sanad lacks; the row is kept without it",
    ),
    "xlsform.invalid-expression": (
        "warning",
        "an expression Sanad's checker refuses (unknown field, type, choice…); left out",
    ),
    "xlsform.unsupported-column": ("warning", "a column or appearance Sanad has no equivalent for; ignored"),
    "xlsform.structure": ("warning", "an unbalanced or empty group or repeat, or a group inside a repeat"),
    "xlsform.bad-default": ("warning", "a default that is not a plain answer of the question; left out"),
    "xlsform.external-data": (
        "warning",
        "pulldata() or instance() reads a file the workbook does not hold; its list waits for its options",
    ),
    "xlsform.language": ("warning", "a language column whose language code cannot be told; left out"),
}


def severity_of(code: str) -> Severity:
    return CODES[code][0]
