"""The in-memory model of a loaded module: immutable once the loader has finished building it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from engine.diagnostics import Position

if TYPE_CHECKING:
    from engine.expressions.compiler import Expression

FieldType = Literal[
    "text",
    "textarea",
    "integer",
    "decimal",
    "date",
    "datetime",
    "select_one",
    "select_multiple",
    "yes_no",
    "note",
    "calculate",
    "subform",
]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
SELECT_TYPES = frozenset({"select_one", "select_multiple", "yes_no"})
Sensitivity = Literal["direct", "quasi", "none"]
Scope = Literal["own", "group", "agency", "all"]

RECORD_ACTIONS = ("create", "read", "write", "assign", "refer", "delete")
MODULE_PERMISSIONS = (
    "reports.read",
    "export",
    "users.manage",
    "audit.read",
    "consent_override",
    "self_approve",
)
YES_NO_CHOICES: tuple[tuple[str, str], ...] = (("yes", "Yes"), ("no", "No"))  # labels translated as interface
# strings; listed here for extraction: N_("Yes") N_("No")


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str
    keys: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lookup:
    id: str
    title: str | None
    choices: tuple[Choice, ...]
    pos: Position
    #: the extra keys its choices carry, declared for a list whose rows are added later (an
    #: XLSForm's external file); lookup() may read these and the keys the choices have
    columns: tuple[str, ...] = ()

    def values(self) -> frozenset[str]:
        return frozenset(c.value for c in self.choices)


@dataclass(eq=False, slots=True)
class Field:
    """One field; `scope` is the FieldScope it belongs to (the record, or a subform's rows)."""

    id: str
    type: str
    label: str
    pos: Position
    form_id: str
    scope: FieldScope
    hint: str | None = None
    required: bool | Expression = False
    required_message: str | None = None
    relevant: Expression | None = None
    constraint: Expression | None = None
    constraint_message: str | None = None
    calculate: Expression | None = None
    choice_filter: Expression | None = None
    default: Any = None
    read_only: bool = False
    choices: tuple[Choice, ...] | None = None
    lookup_id: str | None = None
    sensitivity: str = "none"
    min: Any = None
    max: Any = None
    subform: FieldScope | None = None  # the rows' scope, for type: subform
    section: Section | None = None  # the innermost section the field is written in
    raw: Mapping[str, Any] = field(default_factory=dict)
    yaml_path: tuple[str | int, ...] = ()

    @property
    def choice_values(self) -> frozenset[str] | None:
        if self.choices is None:
            return None
        return frozenset(c.value for c in self.choices)

    @property
    def has_value(self) -> bool:
        return self.type != "note"

    def __repr__(self) -> str:
        return f"Field({self.id!r}, {self.type!r})"


@dataclass(eq=False, slots=True)
class Section:
    """A headed part of a form (`type: section`): it groups questions for the reader, and when its
    `relevant` does not hold, none of its questions apply. Sections nest; they hold no answer."""

    id: str
    label: str
    pos: Position
    form_id: str
    parent: Section | None = None
    relevant: Expression | None = None
    items: tuple[Field | Section, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)
    yaml_path: tuple[str | int, ...] = ()

    def chain(self) -> list[Section]:
        """This section and the ones around it, innermost first."""
        out: list[Section] = []
        s: Section | None = self
        while s is not None:
            out.append(s)
            s = s.parent
        return out

    def fields(self) -> list[Field]:
        """The fields in this section at any depth of sections, in document order."""
        out: list[Field] = []
        for item in self.items:
            out.extend(item.fields() if isinstance(item, Section) else [item])
        return out


@dataclass(eq=False, slots=True)
class FieldScope:
    """The fields that live side by side: a record's top level, or the rows of one subform."""

    parent: FieldScope | None = None
    owner: Field | None = None  # the subform field whose rows this scope describes
    fields: dict[str, Field] = field(default_factory=dict)  # in document order
    order: tuple[Field, ...] = ()  # dependency order for evaluation (set by the loader)

    def chain(self) -> list[FieldScope]:
        out: list[FieldScope] = []
        s: FieldScope | None = self
        while s is not None:
            out.append(s)
            s = s.parent
        return out


@dataclass(eq=False, slots=True)
class Form:
    id: str
    title: str
    record_type: str
    fields: tuple[Field, ...]
    pos: Position
    relevant: Expression | None = None
    description: str | None = None
    layout: tuple[Field | Section, ...] = ()  # the fields and sections as written (fields: every one, flat)

    def sections(self) -> list[Section]:
        """Every section of the form, outer ones first, in document order."""
        out: list[Section] = []

        def visit(items: tuple[Field | Section, ...]) -> None:
            for item in items:
                if isinstance(item, Section):
                    out.append(item)
                    visit(item.items)

        visit(self.layout)
        return out

    def walk(self) -> list[Field]:
        """Every field of the form, subform fields after their subform, in document order."""
        out: list[Field] = []

        def visit(fs: tuple[Field, ...] | list[Field]) -> None:
            for f in fs:
                out.append(f)
                if f.subform is not None:
                    visit(list(f.subform.fields.values()))

        visit(self.fields)
        return out


@dataclass(eq=False, slots=True)
class RecordType:
    id: str
    title: str
    form_ids: tuple[str, ...]
    workflow_id: str | None
    scope: FieldScope
    forms: dict[str, Form] = field(default_factory=dict)
    all_fields: dict[str, Field] = field(default_factory=dict)  # every field at any depth, by id
    steps: tuple[Form | Field, ...] = ()
    list_fields: tuple[str, ...] = ()  # columns of record lists
    recorded_from: tuple[str, ...] = ()  # record types from whose page one of these is recorded (and linked)
    link_action: str | None = None  # the label of that button


@dataclass(frozen=True, slots=True)
class State:
    id: str
    label: str
    final: bool
    pos: Position
    locked_forms: tuple[str, ...] = ()  # forms nobody may change while a record is at this stage ('*': all)

    def locks(self, form_id: str) -> bool:
        return "*" in self.locked_forms or form_id in self.locked_forms


@dataclass(eq=False, slots=True)
class Guard:
    """A condition a transition needs; `override` names a permission that may bypass it with a reason."""

    when: Expression
    message: str | None = None
    override: str | None = None
    path: str = ""  # where the message is translated: workflows/<id>/transitions/<id>/guards/<n>/message


@dataclass(eq=False, slots=True)
class Transition:
    id: str
    label: str
    from_states: tuple[str, ...]
    to: str | None  # None: an action that keeps the record at its stage (e.g. a referral)
    roles: tuple[str, ...]
    pos: Position
    guards: tuple[Guard, ...] = ()
    requires_forms: tuple[str, ...] = ()
    approval: bool = False
    referral: bool = False  # an action that refers the record to another user
    comment: str = "optional"  # 'required': the step is taken only with a comment (e.g. a reason to send back)
    decision: str | None = None  # 'approve' or 'return': how a decision on a request reads, and is shown
    confirm: bool = False  # asked to confirm before it is taken (steps to a final stage)
    organisation_from: str | None = None  # a referral goes only to the organisation this field names


@dataclass(eq=False, slots=True)
class Workflow:
    id: str
    record_type: str
    initial: str
    states: dict[str, State]
    transitions: dict[str, Transition]
    pos: Position


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    label: str
    scope: str
    permissions: frozenset[str]
    forms_read: frozenset[str]  # may contain '*'
    forms_write: frozenset[str]
    sensitivity: frozenset[str]
    aggregate_only: bool
    pos: Position
    #: break the glass: may open a record of its agency outside its scope, read-only, for the module's
    #: `emergency_access_hours`, after giving a reason (runtime.policy, docs/access.md)
    emergency_access: bool = False
    #: `second_factor: required`: its users sign in with a password and a code (TOTP), and set one up
    #: right after their password when they have none (service/second_factor.py, docs/operations.md)
    second_factor_required: bool = False

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def may_read_form(self, form_id: str) -> bool:
        return not self.aggregate_only and ("*" in self.forms_read or form_id in self.forms_read)

    def may_write_form(self, form_id: str) -> bool:
        return not self.aggregate_only and ("*" in self.forms_write or form_id in self.forms_write)


@dataclass(frozen=True, slots=True)
class Dimension:
    """What a report table counts by. `kind`:
    - field: a top-level answer (its option codes);  - row: a column of a subform's rows (each row counted);
    - month: the month of the report's period field; - stage: the workflow stage; - owner: who holds it;
    - flags: several yes/no answers, one category each (a record counts once per 'yes');
    - fields: several answers with the same options, one category per field, its answer in `value_id`."""

    id: str
    kind: str
    label: str | None = None  # for flags / fields / month / stage / owner (a field's own label otherwise)
    field: str | None = None  # field id (field), or the subform column (row)
    subform: str | None = None  # row: the subform
    fields: tuple[str, ...] = ()  # flags / fields
    value_id: str | None = None  # fields: the key of the answer's dimension in a row
    value_label: str | None = None


@dataclass(frozen=True, slots=True)
class Measure:
    """Instead of counting: the days from `start` ('created' or a date field) to the first time the
    transition `until` was taken, averaged."""

    start: str
    until: str
    label: str


@dataclass(eq=False, slots=True)
class ReportTable:
    id: str
    title: str
    dimensions: tuple[Dimension, ...]
    pos: Position
    description: str | None = None
    chart: str = "bar"  # bar | stacked | line | none
    measure: Measure | None = None
    where: Expression | None = None  # in addition to the report's rule
    stages: tuple[str, ...] = ()  # only records at these stages

    @property
    def additive(self) -> bool:
        """Do the cells add up to the totals (each record counted once)?"""
        return self.measure is None and not any(d.kind in ("flags", "fields", "row") for d in self.dimensions)


@dataclass(frozen=True, slots=True)
class Consent:
    """A record is counted only if its consent allows it now: `field` = 'yes' and `withdrawn` not
    'yes'; when `linked_type` is set and the record has a linked record of that type, that record's
    `linked_field` / `linked_withdrawn` decide (the survivor's current consent), and a 'no' in the
    record's own `field` is respected too."""

    field: str
    withdrawn: str | None = None
    linked_type: str | None = None
    linked_field: str | None = None
    linked_withdrawn: str | None = None


@dataclass(eq=False, slots=True)
class ReportDefinition:
    """A report: tables of counts over one record type, declared in reports/<id>.yaml."""

    id: str
    title: str
    record_type: str
    tables: tuple[ReportTable, ...]
    pos: Position
    description: str | None = None
    period: str = "created"  # a date field of the record type, or 'created'
    audience: str = "shared"  # shared (de-identified aggregates, the ISP) | internal
    where: Expression | None = None
    consent: Consent | None = None
    suppress_below: int = 5
    roles: tuple[str, ...] = ()  # who sees it on their dashboard (empty: every role with reports.read)
    filters: tuple[str, ...] = ()  # fields a reader may filter by (their options)


@dataclass(frozen=True, slots=True)
class ExportSource:
    """An answer an export column reads: a top-level field, or a column of a subform (`subform`),
    read in its first row matching the column's `row_where`, else its first row."""

    field_id: str
    subform: str | None = None


@dataclass(frozen=True, slots=True)
class ExportColumn:
    header: str
    sources: tuple[ExportSource, ...] = ()  # the answers it reads (several: combined by `combine`)
    row_where: Mapping[str, str] = field(default_factory=dict)
    value: str | None = None  # agency | agency_reporting_code | consent | stage | record_id | short_id | created
    codes: Mapping[str, Any] = field(default_factory=dict)  # option value -> the layout's code
    #: an option `codes` does not map is written as its code, or (`unmapped: label`) as its label
    unmapped: str = "code"
    labels: Mapping[str, str] = field(default_factory=dict)  # option value -> label, for unmapped: label
    combine: str = "first"  # several sources: the first answered (first), or every answer (join)
    separator: str = " & "  # between several values in one cell (a select_multiple, combine: join)


@dataclass(eq=False, slots=True)
class ExportDefinition:
    """A fixed layout of columns over one record type (exports/<id>.yaml), e.g. the GBVIMS Incident
    Recorder: answers and a few record values, in a given order, with the layout's own codes."""

    id: str
    title: str
    record_type: str
    columns: tuple[ExportColumn, ...]
    pos: Position
    description: str | None = None
    sheet: str | None = None
    where: Expression | None = None
    consent: Consent | None = None
    roles: tuple[str, ...] = ()


@dataclass(eq=False, slots=True, weakref_slot=True)  # weakly held by storage.sealing's register
class Module:
    id: str
    title: str
    version: str
    default_locale: str
    locales: tuple[str, ...]
    path: str
    record_types: dict[str, RecordType]
    forms: dict[str, Form]
    lookups: dict[str, Lookup]
    workflows: dict[str, Workflow]
    roles: dict[str, Role]
    description: str | None = None
    test_files: tuple[str, ...] = ()
    extends: tuple[str, ...] = ()  # for an overlay: the folders of the modules it adapts, nearest first
    settings: Mapping[str, Any] = field(default_factory=dict)  # module.yaml `settings`, read by setting()
    reports: dict[str, ReportDefinition] = field(default_factory=dict)
    exports: dict[str, ExportDefinition] = field(default_factory=dict)

    def workflow_for(self, record_type: str) -> Workflow | None:
        rt = self.record_types.get(record_type)
        return self.workflows.get(rt.workflow_id) if rt and rt.workflow_id else None

    def stats(self) -> dict[str, int]:
        fields = sum(len(rt.all_fields) for rt in self.record_types.values())
        return {
            "record_types": len(self.record_types),
            "forms": len(self.forms),
            "fields": fields,
            "lookups": len(self.lookups),
            "workflows": len(self.workflows),
            "roles": len(self.roles),
            "reports": len(self.reports),
        }


Evaluator = Callable[[Any], Any]
