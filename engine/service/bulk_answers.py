"""Answers for `sanad seed` (service.bulk_seed): valid records of any module, made fast.

Evaluating a record takes about half a millisecond: too slow for a million records. So a few hundred
*templates* per record type are made and checked once, each the way a record gets there in the app:

- a walk along the record type's workflow from its initial stage (a random number of steps, taking
  the steps people take: forward more often than back), which gives the record's stage and history;
- answers to the forms that walk needs (each step's `requires_forms`), the forms holding the list
  fields, and a few more: every field of those forms answered from its type, its options (choice
  filters respected), its limits and the module's own words for the texts (`seed:` in its demo data), then evaluated (`evaluate`)
  and corrected until no answer is invalid, no required answer of those forms is missing and every
  step of the walk is allowed (`check_transition`: its forms complete, its guards true);
- what is stored is what the app stores: the evaluation's answers, calculations included.

Each record then takes a template and makes it its own, cheaply, without changing what the template
was checked for: its identifying answers (codes, names, phone numbers) are new, its dates are moved
to the record's own time (all of them by the same number of days, so every rule comparing two dates
still holds, and calculations from today hold as of the record's last save), and the answers of
*free* fields (choices that no rule, calculation, choice filter or guard reads) are drawn again.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from engine.expressions.compiler import Expression
from engine.language.answers import ROW_ID, new_row_id
from engine.language.demo import SeedWords
from engine.language.model import Field, FieldScope, Module, RecordType, Section, Transition, Workflow
from engine.runtime.evaluation import Evaluation, evaluate
from engine.runtime.workflow import check_transition

# -- words ---------------------------------------------------------------------------------------------
#: neutral words, for a module whose demo data has no `seed:` of its own (demo/*.yaml)
GIVEN = (
    "Amina Fatima Grace Mary Aisha Esther Rose Halima Nadia Sarah Leila Joy Mariam Hawa Zainab Chantal Ines "
    "Yasmin Lucia Ana Beatriz Noor Rania Salma Hoda Awa Fanta Mercy Blessing Agnes Clarisse Josiane Dina "
    "Amal Hiba Maya Layla Rahel Tigist Achieng Wanjiru Nasra Khadija Mona Samira Farida Rukia Neema Imani"
).split()
FAMILY = (
    "Mohamed Hassan Ali Ibrahim Diallo Traore Okafor Mensah Nkurunziza Uwimana Mukamana Abdi Yusuf Omar "
    "Haddad Khalil Nasser Mwangi Otieno Kamau Mbeki Banda Phiri Tesfaye Bekele Girma Alemu Kone Sow Ba "
    "Rahman Karimi Ahmadi Sultani Lopez Garcia Rodriguez Martinez Hernandez Perez Gomez Diaz Torres Ruiz"
).split()
NOTES = (
    "Met today; the options were discussed and the next meeting was agreed.",
    "Follow-up by phone; no new concerns shared.",
    "Needs support with transport to the appointment.",
    "Agreed to meet again next week; prefers mornings.",
    "Information was given, no decision yet.",
)
PLACES = ("Block C, near the market", "Zone 4, house 12", "Camp 2, section B", "North road, near the school")
TIMES = ("mornings", "after 3 pm", "weekdays only")
STEP_COMMENT = "Please go over this again and send it back."


def _letters(n: int, width: int) -> str:
    out = ""
    for _ in range(width):
        n, r = divmod(n, 26)
        out = chr(65 + r) + out
    return out


class Words:
    """What the seeder writes into text answers: the module's `seed:` words (demo data), else
    neutral ones; codes shaped as the module says (A: a capital letter, 9: a digit)."""

    def __init__(self, seed: SeedWords | None = None) -> None:
        seed = seed or SeedWords()
        self.given = seed.given_names or tuple(GIVEN)
        self.family = seed.family_names or tuple(FAMILY)
        self.notes = seed.notes or NOTES
        self.places = seed.places or PLACES
        self.times = seed.times or TIMES
        self.step_comment = seed.step_comment or STEP_COMMENT
        self.codes: dict[str, str] = dict(seed.codes)

    def full_name(self, rng: random.Random) -> str:
        return f"{rng.choice(self.given)} {rng.choice(self.family)}"

    def code(self, fid: str, i: int) -> str:
        """The i-th code of the field `fid`, in its shape: unique while i is below the shape's
        capacity; the letter blocks are permuted so that neighbouring records do not share them."""
        shape = self.codes[fid]
        width = shape.count("9")
        block, number = divmod(i, 10**width)
        letters = iter(_letters((block * 7_919 + 1_013) % 26 ** shape.count("A"), shape.count("A")))
        digits = iter(f"{number:0{width}d}" if width else "")
        return "".join(next(letters) if c == "A" else next(digits) if c == "9" else c for c in shape)

    def capacity(self, fid: str) -> int:
        shape = self.codes[fid]
        return int(26 ** shape.count("A")) * int(10 ** shape.count("9"))

    def text_for(self, f: Field, rng: random.Random) -> str:
        """A text answer for `f`, by what its id says it holds."""
        fid = f.id
        if fid in self.codes:
            return self.code(fid, rng.randrange(self.capacity(fid)))
        if fid in ("name", "caretaker_name", "full_name") or fid.endswith("_name"):
            return self.full_name(rng)
        if fid == "nickname":
            return rng.choice(self.given)[:3]
        if "phone" in fid:
            return f"+{rng.randrange(200, 999)} {rng.randrange(100, 999)} {rng.randrange(100_000, 999_999)}"
        if fid.endswith("_code"):
            return f"{fid[:3].upper()}-{rng.randrange(10_000):04d}"
        if "address" in fid or "place" in fid or "town" in fid:
            return rng.choice(self.places)
        if "time" in fid:
            return rng.choice(self.times)
        if f.type == "textarea":
            return rng.choice(self.notes)
        return rng.choice(("Other", "Not listed", "Community centre", "Relative", "Local NGO"))


# -- which fields a rule reads -------------------------------------------------------------------------------
def _exprs_of_field(f: Field) -> Iterator[Expression]:
    for e in (f.relevant, f.constraint, f.calculate, f.choice_filter):
        if e is not None:
            yield e
    if isinstance(f.required, Expression):
        yield f.required


def _exprs_of_section(s: Section) -> Iterator[Expression]:
    if s.relevant is not None:
        yield s.relevant
    for item in s.items:
        if isinstance(item, Section):
            yield from _exprs_of_section(item)


def read_by_rules(module: Module, rt: RecordType) -> set[str]:
    """Ids of the fields some rule of the record type reads (relevance, constraints, calculations,
    choice filters, required conditions, workflow guards)."""
    exprs: list[Expression] = []

    def visit(scope: FieldScope) -> None:
        for f in scope.fields.values():
            exprs.extend(_exprs_of_field(f))
            if f.subform is not None:
                visit(f.subform)

    visit(rt.scope)
    for form in rt.forms.values():
        if form.relevant is not None:
            exprs.append(form.relevant)
        for item in form.layout:
            if isinstance(item, Section):
                exprs.extend(_exprs_of_section(item))
    wf = module.workflow_for(rt.id)
    if wf is not None:
        exprs.extend(g.when for t in wf.transitions.values() for g in t.guards)
    return {ref.id for e in exprs for ref in e.refs}


# -- one answer of a field ------------------------------------------------------------------------------------
@dataclass
class Answering:
    """How answers are drawn: the day the template is made as of, the random source."""

    today: date
    rng: random.Random
    words: Words

    def value(self, f: Field) -> Any:
        rng = self.rng
        t = f.type
        if t in ("select_one", "yes_no"):
            return rng.choice([c.value for c in f.choices or ()] or ["yes", "no"])
        if t == "select_multiple":
            values = [c.value for c in f.choices or ()]
            return rng.sample(values, k=min(len(values), rng.choice((1, 1, 2, 3)))) if values else ""
        if t in ("text", "textarea"):
            return self.words.text_for(f, rng)
        if t in ("integer", "decimal"):
            lo = int(f.min) if isinstance(f.min, (int, float)) else 0
            hi = int(f.max) if isinstance(f.max, (int, float)) else lo + 60
            if "age" in f.id:
                hi = min(hi, lo + 70)
            return rng.randint(lo, max(lo, hi))
        if t == "date":
            return self.day(f).isoformat()
        if t == "datetime":
            return f"{self.day(f).isoformat()}T{rng.randrange(7, 19):02d}:{rng.choice((0, 15, 30, 45)):02d}"
        return ""

    def day(self, f: Field) -> date:
        if "birth" in f.id:
            return self.today - timedelta(days=self.rng.randrange(3 * 365, 70 * 365))
        return self.today - timedelta(days=self.rng.randrange(0, 120))

    def rows(self, f: Field, want: set[str] | None) -> list[dict[str, Any]]:
        assert f.subform is not None
        most = int(f.max) if isinstance(f.max, (int, float)) else 3
        n = self.rng.choice((1, 1, 1, 2, 2, 3))
        return [{ROW_ID: new_row_id(), **self.fill(f.subform, want, 0.8)} for _ in range(min(n, most))]

    def fill(self, scope: FieldScope, forms: set[str] | None, optional: float) -> dict[str, Any]:
        """An answer to every field of `scope` in `forms` (None: all), optional ones with probability
        `optional`; relevance is left to the evaluation (answers of irrelevant fields are dropped)."""
        out: dict[str, Any] = {}
        for f in scope.fields.values():
            if f.type in ("note", "calculate") or f.read_only or (forms is not None and f.form_id not in forms):
                continue
            if not f.required and self.rng.random() > optional:
                continue
            out[f.id] = self.rows(f, None) if f.subform is not None else self.value(f)
        return out


# -- templates -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    transition: str
    from_stage: str | None
    to_stage: str | None
    roles: tuple[str, ...]
    comment: bool  # the step needs a comment


@dataclass
class Template:
    """Answers valid for a record type, the walk that took a record to its stage, and where its
    dates and free answers are (to make a copy its own)."""

    record_type: str
    answers: dict[str, Any]
    stage: str | None
    steps: tuple[Step, ...]
    saved_forms: list[str]
    dates: list[tuple[str, int]] = field(default_factory=list)  # top-level date fields: (id, ordinal)
    row_dates: list[tuple[str, int, str, int]] = field(default_factory=list)  # (subform, row, field, ordinal)
    latest: int = 0  # the latest date answered (ordinal), 0 if none


class TemplateError(Exception):
    """No valid answers could be made for a record type (a module whose rules the generator cannot meet)."""


def _walk(wf: Workflow | None, rng: random.Random, most: int) -> tuple[str | None, list[Transition]]:
    if wf is None:
        return None, []
    stage = wf.initial
    path: list[Transition] = []
    seen = {stage}
    for _ in range(rng.randint(0, most)):
        moves = [
            t
            for t in wf.transitions.values()
            if stage in t.from_states and t.to is not None and not t.referral and t.roles
        ]
        if not moves:
            break
        weights = [1.0 if t.to not in seen else 0.12 for t in moves]
        t = rng.choices(moves, weights)[0]
        assert t.to is not None
        path.append(t)
        stage = t.to
        seen.add(stage)
        if wf.states[stage].final and rng.random() < 0.85:
            break
    return stage, path


class Templates:
    """The templates of one record type, made once (`make`), and copies of them for records (`copy`)."""

    def __init__(self, module: Module, rt: RecordType, today: date, seed: int, words: Words | None = None) -> None:
        self.module, self.rt, self.today = module, rt, today
        self.rng = random.Random(seed)
        self.answering = Answering(today, self.rng, words or Words())
        self.wf = module.workflow_for(rt.id)
        ruled = read_by_rules(module, rt)
        self.free = [
            f
            for f in rt.scope.fields.values()
            if f.type in ("select_one", "yes_no", "select_multiple")
            and f.id not in ruled
            and f.choice_filter is None
            and f.constraint is None
            and not f.read_only
            and f.choices
        ]
        #: identifying or coded texts drawn again for each record
        self.personal = [
            f
            for f in rt.scope.fields.values()
            if f.type == "text" and f.id not in ruled and f.constraint is None and not f.read_only
        ]
        self.list_forms = {rt.scope.fields[fid].form_id for fid in rt.list_fields if fid in rt.scope.fields}
        self.items: list[Template] = []

    # -- making -------------------------------------------------------------------------------------
    def make(self, n: int) -> list[Template]:
        failures = 0
        while len(self.items) < n:
            made = self._one()
            if made is None:
                failures += 1
                if failures > 20 * n + 50:
                    raise TemplateError(
                        f"could not make valid answers for the record type '{self.rt.id}' of '{self.module.id}'"
                    )
                continue
            self.items.append(made)
        return self.items

    def _one(self) -> Template | None:
        rng = self.rng
        stage, path = _walk(self.wf, rng, most=9)
        forms = set(self.list_forms) | {f for t in path for f in t.requires_forms}
        if self.rt.form_ids:
            forms.add(self.rt.form_ids[0])
        for fid in self.rt.form_ids:
            if rng.random() < 0.15 + 0.06 * len(path):
                forms.add(fid)
        answers = self.answering.fill(self.rt.scope, forms, 0.75)
        for _round in range(14):
            ev = evaluate(self.rt, answers, self.today.isoformat())
            todo = self._problems(ev, forms, stage, path)
            if not todo:
                return self._template(ev, stage, path, forms)
            for f, also in todo:
                self._redo(answers, f, also, ev)
        return None

    def _problems(
        self, ev: Evaluation, forms: set[str], stage: str | None, path: list[Transition]
    ) -> list[tuple[Field, tuple[Field, ...]]]:
        out: list[tuple[Field, tuple[Field, ...]]] = []
        for e in ev.errors:
            if e.code == "required" and (e.field.form_id not in forms or not ev.forms_relevant.get(e.field.form_id)):
                continue
            also = tuple(e.field.constraint.refs) if e.code == "constraint" and e.field.constraint else ()
            out.append((e.field, also))
        if out or self.wf is None:
            return out
        at = self.wf.initial
        for t in path:
            role = self.module.roles.get(t.roles[0])
            check = check_transition(self.wf, t, ev, role, at, today=self.today.isoformat())
            if not check.allowed:
                failed = [ref for g in t.guards for ref in g.when.refs]
                if not failed:
                    none: tuple[Field, ...] = ()
                    return [(f, none) for f in self.rt.scope.fields.values() if f.form_id in t.requires_forms][:1]
                return [(self.rng.choice(failed), tuple(failed))]
            assert t.to is not None
            at = t.to
        return out

    def _redo(self, answers: dict[str, Any], f: Field, also: tuple[Field, ...], ev: Evaluation) -> None:
        """Answer `f` again (and, half the time, the fields its failed rule reads)."""
        top = _top(f)
        targets = [top] + ([_top(a) for a in also] if self.rng.random() < 0.5 else [])
        for g in targets:
            if g.type in ("note", "calculate") or g.read_only:
                continue
            if g.subform is not None:
                answers[g.id] = self.answering.rows(g, None)
            elif not g.required and self.rng.random() < 0.3:
                answers.pop(g.id, None)
            else:
                answers[g.id] = self.answering.value(g)

    def _template(self, ev: Evaluation, stage: str | None, path: list[Transition], forms: set[str]) -> Template:
        answers = ev.answers()
        rt = self.rt
        saved = {rt.scope.fields[k].form_id for k in answers if k in rt.scope.fields} | forms
        t = Template(
            rt.id,
            answers,
            stage,
            tuple(Step(x.id, None, x.to, tuple(x.roles), x.comment == "required") for x in path),
            [fid for fid in rt.form_ids if fid in saved],
        )
        # the walk's stages, for the history
        at = self.wf.initial if self.wf is not None else None
        steps = []
        for s in t.steps:
            steps.append(Step(s.transition, at, s.to_stage, s.roles, s.comment))
            at = s.to_stage
        t.steps = tuple(steps)
        latest = 0
        for k, v in answers.items():
            f = rt.scope.fields.get(k)
            if f is None:
                continue
            if f.type == "date" and isinstance(v, str):
                o = date.fromisoformat(v).toordinal()
                t.dates.append((k, o))
                latest = max(latest, o)
            elif f.subform is not None and isinstance(v, list):
                for i, row in enumerate(v):
                    for c, x in row.items():
                        inner = f.subform.fields.get(c)
                        if inner is not None and inner.type == "date" and isinstance(x, str):
                            o = date.fromisoformat(x).toordinal()
                            t.row_dates.append((k, i, c, o))
                            latest = max(latest, o)
        t.latest = latest
        return t

    # -- copying --------------------------------------------------------------------------------------
    def copy(self, t: Template, rng: random.Random, day: date, own: dict[str, Any]) -> dict[str, Any]:
        """The template's answers made a record's own, as saved on `day`: dates moved by the days from
        the template's today to `day`, identifying texts and free choices drawn again, and the
        answers of `own` (e.g. its code)."""
        data = dict(t.answers)
        if t.latest:
            shift = day.toordinal() - self.today.toordinal()
            for k, o in t.dates:
                data[k] = date.fromordinal(o + shift).isoformat()
            if t.row_dates:
                copied: dict[str, list[dict[str, Any]]] = {}
                for k, i, c, o in t.row_dates:
                    rows = copied.get(k)
                    if rows is None:
                        rows = copied[k] = [dict(r) for r in data[k]]
                    rows[i][c] = date.fromordinal(o + shift).isoformat()
                data.update(copied)
        for f in self.free:
            if f.id in data:
                data[f.id] = self.answering.value(f) if f.type == "select_multiple" else rng.choice(f.choices).value  # type: ignore[arg-type]
        for f in self.personal:
            if f.id in data:
                data[f.id] = self.answering.words.text_for(f, rng)
        data.update(own)
        return data


def _top(f: Field) -> Field:
    """The top-level field holding `f` (itself, or the subform whose rows hold it)."""
    while f.scope.owner is not None:
        f = f.scope.owner
    return f
