"""Generate realistic, valid Sanad modules of any size for the speed benchmarks.

    python -m tests.benchmarks.generate DEST N [--seed S] [--force]

writes a module with exactly N fields (subform fields included, as `sanad validate` counts them)
for the record type `case`, spread over forms of about 50 fields each. The first form holds a
registration block with well-known field ids (registration_date, client_code, full_name, dob, age,
age_group, consent, needs, region, district, the `household` subform and calculations over it) that
the expression benchmark refers to; every other field is `f<n>`. The module mixes every field type,
lookups (one with a filter key) and inline choices, skip logic on about 30% of the fields reading
earlier fields, required flags and expressions, constraints, min/max limits, defaults,
calculations (age(), if(), coalesce(), days-between(), sum()/count() over a subform, ...), a subform
in every form, a 5-state workflow with guards and approvals, and 3 roles.

`generate_answers(record_type, count, seed)` makes raw answer dicts for a loaded record type, as a
caseworker would submit them (about a quarter of the questions left unanswered).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

TODAY = "2026-11-24"
RECORD_TYPE = "case"
FORM_SIZE = 50
MIN_FIELDS = 35  # the registration block and its form's subform take 31

# ---------------------------------------------------------------------------------------------
# Option lists
# ---------------------------------------------------------------------------------------------

_NAMED_LOOKUPS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "needs": (
        "Needs and services",
        [
            ("safe_shelter", "Safe shelter"),
            ("health", "Health care"),
            ("psychosocial", "Psychosocial support"),
            ("legal", "Legal help"),
            ("cash", "Cash or material help"),
            ("food", "Food"),
            ("education", "Education"),
            ("livelihoods", "Work and livelihoods"),
            ("other", "Something else"),
        ],
    ),
    "regions": ("Regions", [("north", "Northern region"), ("central", "Central region"), ("south", "Southern region")]),
    "risk_levels": ("Risk levels", [("low", "Low"), ("medium", "Medium"), ("high", "High")]),
    "languages": (
        "Languages",
        [
            ("ar", "Arabic"),
            ("en", "English"),
            ("fr", "French"),
            ("es", "Spanish"),
            ("ku", "Kurdish"),
            ("so", "Somali"),
            ("ti", "Tigrinya"),
            ("fa", "Dari or Farsi"),
            ("ps", "Pashto"),
            ("sw", "Swahili"),
            ("other", "Another language"),
        ],
    ),
    "relationships": (
        "Relationships",
        [
            ("child", "Their child"),
            ("partner", "Partner or spouse"),
            ("parent", "Parent"),
            ("sibling", "Brother or sister"),
            ("other_relative", "Other relative"),
            ("other", "Someone else"),
        ],
    ),
    "frequency": (
        "How often",
        [
            ("never", "Never"),
            ("once", "Once"),
            ("sometimes", "Sometimes"),
            ("often", "Often"),
            ("always", "All the time"),
        ],
    ),
}
_DISTRICTS = [
    ("riverside", "Riverside", "north"),
    ("hillview", "Hillview", "north"),
    ("pine_ridge", "Pine Ridge", "north"),
    ("lakeside", "Lakeside", "central"),
    ("old_town", "Old Town", "central"),
    ("market_quarter", "Market Quarter", "central"),
    ("coastal", "Coastal", "south"),
    ("palm_valley", "Palm Valley", "south"),
]
_WORDS = (
    "safety",
    "support",
    "family",
    "housing",
    "income",
    "school",
    "health",
    "contact",
    "travel",
    "work",
    "documents",
    "community",
    "services",
    "consent",
    "follow-up",
    "referral",
    "needs",
    "risk",
    "plan",
    "visit",
)
_LETTERS = "abcdefghijklmno"


def _lookups(n_fields: int, rng: random.Random) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for lid, (title, items) in _NAMED_LOOKUPS.items():
        out[lid] = {"id": lid, "title": title, "choices": [{"value": v, "label": lab} for v, lab in items]}
    out["districts"] = {
        "id": "districts",
        "title": "Districts",
        "choices": [{"value": v, "label": lab, "region": r} for v, lab, r in _DISTRICTS],
    }
    for k in range(1, max(2, n_fields // 300) + 1):
        lid = f"list_{k:02d}"
        size = rng.randint(4, 12)
        out[lid] = {
            "id": lid,
            "title": f"Option list {k}",
            "choices": [{"value": c, "label": f"Option {c.upper()} of list {k}"} for c in _LETTERS[:size]],
        }
    return out


# ---------------------------------------------------------------------------------------------
# Fields
# ---------------------------------------------------------------------------------------------

# (type, weight) of the ordinary fields that fill the forms
_TYPE_WEIGHTS = [
    ("text", 12),
    ("textarea", 4),
    ("integer", 10),
    ("decimal", 5),
    ("date", 8),
    ("datetime", 3),
    ("select_one", 14),
    ("select_multiple", 8),
    ("yes_no", 16),
    ("note", 3),
    ("calculate", 5),
]
RELEVANT_SHARE = 0.33  # of the ordinary fields; the fixed blocks bring the total to about 30%


def _count(fields: list[dict[str, Any]]) -> int:
    return sum(1 + _count(f.get("fields", [])) for f in fields)


def _walk(fields: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for f in fields:
        yield f
        yield from _walk(f.get("fields", []))


class _Ref:
    """An earlier top-level field that skip logic and calculations may read."""

    __slots__ = ("choices", "id", "type")

    def __init__(self, fid: str, ftype: str, choices: list[str] | None = None) -> None:
        self.id, self.type, self.choices = fid, ftype, choices


class _Gen:
    def __init__(self, n_fields: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n_fields = n_fields
        self.lookups = _lookups(n_fields, self.rng)
        self.counter = 0
        self.refs: list[_Ref] = []  # earlier top-level fields with a value
        self.generic_lookups = [lid for lid in self.lookups if lid not in ("needs", "regions", "districts")]
        self.rng.shuffle(self.generic_lookups)
        self._lookup_cycle = self._cycle(self.generic_lookups)
        self.with_relevant = 0

    @staticmethod
    def _cycle(items: list[str]) -> Iterator[str]:
        while True:
            yield from items

    def new_id(self) -> str:
        self.counter += 1
        return f"f{self.counter}"

    def choices_of(self, lid: str) -> list[str]:
        return [c["value"] for c in self.lookups[lid]["choices"]]

    def pick_ref(self, types: tuple[str, ...]) -> _Ref | None:
        # mostly a recent field (the same part of the form), sometimes one from much earlier
        pool = self.refs[-30:] if self.rng.random() < 0.8 else self.refs
        cands = [r for r in pool if r.type in types] or [r for r in self.refs if r.type in types]
        return self.rng.choice(cands) if cands else None

    # -- expressions ----------------------------------------------------------------------------
    def condition(self) -> str | None:
        """A skip-logic condition over one earlier field."""
        rng = self.rng
        r = self.pick_ref(("yes_no", "select_one", "select_multiple", "integer", "decimal", "text", "date"))
        if r is None:
            return None
        x = f"${{{r.id}}}"
        if r.type == "yes_no":
            return rng.choice([f"{x} = 'yes'", f"{x} = 'yes'", f"{x} != 'no'", f"{x} = 'no'"])
        if r.type == "select_one":
            assert r.choices
            return rng.choice(
                [f"{x} = '{rng.choice(r.choices)}'", f"{x} != ''", f"{x} = '{r.choices[0]}' or {x} = '{r.choices[-1]}'"]
            )
        if r.type == "select_multiple":
            assert r.choices
            v = rng.choice(r.choices[:3])
            return rng.choice(
                [
                    f"selected({x}, '{v}')",
                    f"selected({x}, '{v}')",
                    f"count-selected({x}) >= 2",
                    f"not(selected({x}, '{v}'))",
                ]
            )
        if r.type == "integer":
            return rng.choice([f"{x} >= 18", f"{x} > 0", f"{x} < 5", f"{x} >= 1 and {x} <= 10"])
        if r.type == "decimal":
            return rng.choice([f"{x} > 100", f"{x} >= 0.5"])
        if r.type == "text":
            return f"{x} != ''"
        return rng.choice([f"{x} != ''", f"days-between({x}, today()) > 30", f"{x} >= date('2020-01-01')"])

    def relevant(self) -> str | None:
        a = self.condition()
        if a is None:
            return None
        roll = self.rng.random()
        if roll < 0.15:
            b = self.condition()
            return f"{a} and {b}" if b else a
        if roll < 0.25:
            b = self.condition()
            return f"({a}) or ({b})" if b else a
        return a

    def calculation(self) -> str:
        rng = self.rng
        options: list[str] = []
        yn = [r for r in self.refs[-40:] if r.type == "yes_no"]
        if len(yn) >= 2:
            a, b = rng.sample(yn, 2)
            options.append(f"if(${{{a.id}}} = 'yes', 1, 0) + if(${{{b.id}}} = 'yes', 1, 0)")
        texts = [r for r in self.refs[-40:] if r.type == "text"]
        if len(texts) >= 2:
            a, b = rng.sample(texts, 2)
            options.append(f"coalesce(${{{a.id}}}, ${{{b.id}}}, 'unknown')")
            options.append(f"concat(${{{a.id}}}, ' / ', ${{{b.id}}})")
        dates = [r for r in self.refs[-40:] if r.type == "date"]
        if dates:
            options.append(f"days-between(${{{rng.choice(dates).id}}}, today())")
        nums = [r for r in self.refs[-40:] if r.type in ("integer", "decimal")]
        if len(nums) >= 2:
            a, b = rng.sample(nums, 2)
            options.append(f"max(${{{a.id}}}, ${{{b.id}}})")
            options.append(f"round(${{{a.id}}} * 1.5 + ${{{b.id}}}, 1)")
            options.append(f"if(${{{a.id}}} > ${{{b.id}}}, 'first', 'second')")
        multi = [r for r in self.refs[-40:] if r.type == "select_multiple"]
        if multi:
            options.append(f"count-selected(${{{rng.choice(multi).id}}})")
        options.append("if(${age} >= 18, 'adult', 'child')")
        return rng.choice(options)

    # -- one ordinary field ---------------------------------------------------------------------
    def field(self, with_relevant: bool = True) -> dict[str, Any]:
        rng = self.rng
        ftype = rng.choices([t for t, _ in _TYPE_WEIGHTS], [w for _, w in _TYPE_WEIGHTS])[0]
        fid = self.new_id()
        word = rng.choice(_WORDS)
        label = f"Computed value {fid[1:]} ({word})" if ftype == "calculate" else f"Question {fid[1:]} about {word}"
        f: dict[str, Any] = {"id": fid, "type": ftype, "label": label}
        if ftype != "calculate" and rng.random() < 0.3:
            f["hint"] = f"Ask gently; the person may skip this question about {word}."
        choices: list[str] | None = None
        if ftype in ("select_one", "select_multiple"):
            if rng.random() < 0.7:
                lid = next(self._lookup_cycle)
                f["choices"] = lid
                choices = self.choices_of(lid)
            else:
                choices = list(_LETTERS[: rng.randint(3, 6)])
                f["choices"] = [{"value": c, "label": f"Answer {c.upper()}"} for c in choices]
        if ftype == "calculate":
            f["calculate"] = self.calculation()
        elif ftype != "note":
            self.answer_rules(f, ftype, choices)
        if with_relevant and ftype != "calculate" and rng.random() < RELEVANT_SHARE:
            rel = self.relevant()
            if rel:
                f["relevant"] = rel
                self.with_relevant += 1
        if ftype in ("text", "textarea") and rng.random() < 0.3:
            f["sensitivity"] = "direct"
        elif ftype in ("date", "integer") and rng.random() < 0.3:
            f["sensitivity"] = "quasi"
        if ftype not in ("note", "textarea", "datetime", "calculate"):
            self.refs.append(_Ref(fid, ftype, choices))
        return f

    def answer_rules(self, f: dict[str, Any], ftype: str, choices: list[str] | None) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.15:
            f["required"] = True
        elif roll < 0.2:
            r = self.pick_ref(("yes_no",))
            if r is not None:
                f["required"] = f"${{{r.id}}} = 'yes'"
                f["required_message"] = "Please answer this when the earlier question was answered yes."
        if rng.random() < 0.3:
            if ftype == "integer":
                if rng.random() < 0.5:
                    f["min"], f["max"] = 0, rng.choice([20, 120, 1000])
                else:
                    f["constraint"] = ". >= 0 and . <= 120"
                    f["constraint_message"] = "Enter a number from 0 to 120."
            elif ftype == "decimal":
                f["constraint"] = ". >= 0"
            elif ftype == "date":
                earlier = self.pick_ref(("date",))
                if earlier is not None and rng.random() < 0.5:
                    f["constraint"] = f"${{{earlier.id}}} = '' or . >= ${{{earlier.id}}}"
                    f["constraint_message"] = "This date should not be before the earlier one."
                else:
                    f["constraint"] = ". <= today()"
                    f["constraint_message"] = "The date cannot be in the future."
            elif ftype == "datetime":
                f["min"] = "2000-01-01"
            elif ftype == "text":
                f["constraint"] = rng.choice(["string-length(.) <= 200", "regex(., '^[A-Z]{3}-[0-9]{4}$')"])
            elif ftype == "select_multiple" and choices:
                f["constraint"] = f"not(selected(., '{choices[-1]}') and count-selected(.) > 1)"
                f["constraint_message"] = f"'{choices[-1]}' cannot be combined with other answers."
        if rng.random() < 0.05:
            if ftype == "yes_no":
                f["default"] = "no"
            elif ftype == "integer":
                f["default"] = 0
            elif ftype == "select_one" and choices:
                f["default"] = choices[0]

    # -- subforms -------------------------------------------------------------------------------
    def subform(self, form_index: int) -> tuple[list[dict[str, Any]], int]:
        """A subform and the calculations over it; returns (fields, how many fields that is)."""
        kind = form_index % 3
        sid = self.new_id()
        rng = self.rng
        if kind == 0:
            a, n, r, s = (self.new_id() for _ in range(4))
            inner = [
                {"id": n, "type": "text", "label": "Name", "sensitivity": "direct"},
                {"id": a, "type": "integer", "label": "Age in years", "min": 0, "max": 120, "sensitivity": "quasi"},
                {"id": r, "type": "select_one", "label": "Relationship", "choices": "relationships"},
                {"id": s, "type": "yes_no", "label": "Goes to school", "relevant": f"${{{a}}} >= 5 and ${{{a}}} < 18"},
            ]
            sub = {"id": sid, "type": "subform", "label": "People in the household", "max": 30, "fields": inner}
            calc = {
                "id": self.new_id(),
                "type": "calculate",
                "label": "Children under 18",
                "calculate": f"sum(${{{sid}}}, if(${{{a}}} < 18, 1, 0))",
            }
        elif kind == 1:
            svc, ref, when, note = (self.new_id() for _ in range(4))
            inner = [
                {"id": svc, "type": "select_one", "label": "Service", "choices": "needs", "required": True},
                {"id": ref, "type": "yes_no", "label": "Agreed to be referred", "required": True},
                {
                    "id": when,
                    "type": "date",
                    "label": "Date of referral",
                    "relevant": f"${{{ref}}} = 'yes'",
                    "required": True,
                    "constraint": ". <= today()",
                },
                {"id": note, "type": "textarea", "label": "Notes", "sensitivity": "direct"},
            ]
            sub = {"id": sid, "type": "subform", "label": "Services discussed", "fields": inner}
            calc = {
                "id": self.new_id(),
                "type": "calculate",
                "label": "Referrals made",
                "calculate": f"sum(${{{sid}}}, if(${{{ref}}} = 'yes', 1, 0))",
            }
        else:
            d, t, cost, parent = (self.new_id() for _ in range(4))
            yn = self.pick_ref(("yes_no",))
            inner = [
                {"id": d, "type": "date", "label": "Date", "constraint": ". <= today()", "sensitivity": "quasi"},
                {
                    "id": t,
                    "type": "select_one",
                    "label": "Kind of expense",
                    "choices": [
                        {"value": v, "label": v.capitalize()} for v in ("rent", "food", "transport", "medical")
                    ],
                },
                {"id": cost, "type": "decimal", "label": "Amount", "constraint": ". >= 0"},
                {
                    "id": parent,
                    "type": "text",
                    "label": "Receipt number",
                    **({"relevant": f"${{../{yn.id}}} = 'yes'"} if yn is not None and rng.random() < 0.7 else {}),
                },
            ]
            sub = {"id": sid, "type": "subform", "label": "Expenses", "fields": inner}
            calc = {
                "id": self.new_id(),
                "type": "calculate",
                "label": "Total spent",
                "calculate": f"sum(${{{sid}}}, ${{{cost}}})",
            }
        count = {"id": self.new_id(), "type": "calculate", "label": "Rows", "calculate": f"count(${{{sid}}})"}
        fields = [sub, calc, count]
        self.refs.append(_Ref(calc["id"], "integer"))
        return fields, _count(fields)

    # -- forms ----------------------------------------------------------------------------------
    def registration_block(self) -> tuple[list[dict[str, Any]], int]:
        fields: list[dict[str, Any]] = [
            {
                "id": "intro",
                "type": "note",
                "label": "Explain why we ask these questions, who will see the answers, and that any question can be skipped.",
            },
            {
                "id": "registration_date",
                "type": "date",
                "label": "Date of registration",
                "required": True,
                "constraint": ". <= today()",
                "constraint_message": "The registration date cannot be in the future.",
                "sensitivity": "quasi",
            },
            {
                "id": "client_code",
                "type": "text",
                "label": "Case code",
                "required": True,
                "hint": "Three capital letters, a dash and four digits, for example KAB-0042.",
                "constraint": "regex(., '^[A-Z]{3}-[0-9]{4}$')",
                "constraint_message": "The case code should look like KAB-0042.",
                "sensitivity": "quasi",
            },
            {
                "id": "full_name",
                "type": "text",
                "label": "Name the person would like us to use",
                "sensitivity": "direct",
            },
            {"id": "nickname", "type": "text", "label": "Nickname", "sensitivity": "direct"},
            {
                "id": "dob",
                "type": "date",
                "label": "Date of birth",
                "min": "1900-01-01",
                "constraint": ". <= today()",
                "sensitivity": "quasi",
            },
            {"id": "age", "type": "calculate", "label": "Age in years", "calculate": "age(${dob})"},
            {
                "id": "age_group",
                "type": "calculate",
                "label": "Age group",
                "calculate": "if(${age} = '', '', if(${age} < 18, 'child', 'adult'))",
            },
            {
                "id": "caregiver_name",
                "type": "text",
                "label": "Name of a trusted caregiver",
                "relevant": "${age_group} = 'child'",
                "required": True,
                "sensitivity": "direct",
            },
            {
                "id": "consent",
                "type": "yes_no",
                "label": "Does the person agree to receive services?",
                "required": True,
            },
            {
                "id": "needs",
                "type": "select_multiple",
                "label": "What would the person like help with?",
                "choices": "needs",
                "relevant": "${consent} = 'yes'",
            },
            {
                "id": "needs_other",
                "type": "text",
                "label": "Other help",
                "relevant": "selected(${needs}, 'other')",
                "required": True,
            },
            {"id": "region", "type": "select_one", "label": "Region", "choices": "regions"},
            {
                "id": "district",
                "type": "select_one",
                "label": "District",
                "choices": "districts",
                "choice_filter": "region = ${region}",
                "relevant": "${region} != ''",
                "sensitivity": "quasi",
            },
            {
                "id": "household",
                "type": "subform",
                "label": "People living with the person",
                "max": 30,
                "fields": [
                    {"id": "member_name", "type": "text", "label": "Name", "sensitivity": "direct"},
                    {
                        "id": "member_age",
                        "type": "integer",
                        "label": "Age",
                        "min": 0,
                        "max": 120,
                        "sensitivity": "quasi",
                    },
                    {"id": "member_income", "type": "decimal", "label": "Monthly income", "constraint": ". >= 0"},
                    {
                        "id": "member_relationship",
                        "type": "select_one",
                        "label": "Relationship",
                        "choices": "relationships",
                    },
                    {
                        "id": "member_in_school",
                        "type": "yes_no",
                        "label": "Goes to school",
                        "relevant": "${member_age} >= 5 and ${member_age} < 18 and ${../consent} = 'yes'",
                    },
                ],
            },
            {
                "id": "household_size",
                "type": "calculate",
                "label": "People in the household",
                "calculate": "count(${household}) + 1",
            },
            {
                "id": "household_income",
                "type": "calculate",
                "label": "Household income",
                "calculate": "sum(${household}, ${member_income})",
            },
            {
                "id": "children_count",
                "type": "calculate",
                "label": "Children in the household",
                "calculate": "sum(${household}, if(${member_age} < 18, 1, 0))",
            },
            {
                "id": "income_per_person",
                "type": "calculate",
                "label": "Income per person",
                "calculate": "round(${household_income} div ${household_size}, 2)",
            },
        ]
        self.with_relevant += 5
        self.refs += [
            _Ref("registration_date", "date"),
            _Ref("client_code", "text"),
            _Ref("full_name", "text"),
            _Ref("nickname", "text"),
            _Ref("dob", "date"),
            _Ref("age", "integer"),
            _Ref("consent", "yes_no"),
            _Ref("needs", "select_multiple", self.choices_of("needs")),
            _Ref("region", "select_one", self.choices_of("regions")),
            _Ref("household_size", "integer"),
            _Ref("children_count", "integer"),
        ]
        return fields, _count(fields)

    def form(self, index: int, size: int) -> dict[str, Any]:
        fields: list[dict[str, Any]] = []
        used = 0
        if index == 1:
            block, n = self.registration_block()
            fields += block
            used += n
        sub, sub_n = self.subform(index)
        # the subform goes about two thirds of the way down the form
        at = max(used, (size - sub_n) * 2 // 3)
        while used < at:
            fields.append(self.field())
            used += 1
        if used + sub_n <= size:
            fields += sub
            used += sub_n
        while used < size:
            fields.append(self.field())
            used += 1
        form: dict[str, Any] = {
            "id": f"form_{index:03d}",
            "title": f"Section {index}: {self.rng.choice(_WORDS)}",
            "record_type": RECORD_TYPE,
            "fields": fields,
        }
        if index > 2 and self.rng.random() < 0.1:
            form["relevant"] = "${consent} = 'yes'"
        if index == 1:
            form["description"] = "Fill this in together with the person, at their pace."
        return form


def _workflow(form_ids: list[str]) -> dict[str, Any]:
    second = form_ids[1] if len(form_ids) > 1 else form_ids[0]
    return {
        "id": "case_workflow",
        "record_type": RECORD_TYPE,
        "initial": "open",
        "states": [
            {"id": "open", "label": "Open"},
            {"id": "assessment", "label": "Assessment"},
            {"id": "follow_up", "label": "In follow-up"},
            {"id": "closure_requested", "label": "Closure requested"},
            {"id": "closed", "label": "Closed", "final": True},
        ],
        "transitions": [
            {
                "id": "start_assessment",
                "label": "Start the assessment",
                "from": ["open"],
                "to": "assessment",
                "roles": ["caseworker", "supervisor"],
                "requires_forms": [form_ids[0]],
                "when": "${consent} = 'yes'",
            },
            {
                "id": "start_follow_up",
                "label": "Start follow-up",
                "from": ["assessment"],
                "to": "follow_up",
                "roles": ["caseworker"],
                "requires_forms": [second],
                "when": "${age_group} != '' and (${age} >= 18 or ${caregiver_name} != '')",
            },
            {
                "id": "request_closure",
                "label": "Ask to close the case",
                "from": ["follow_up"],
                "to": "closure_requested",
                "roles": ["caseworker"],
            },
            {
                "id": "approve_closure",
                "label": "Approve closing the case",
                "from": ["closure_requested"],
                "to": "closed",
                "roles": ["supervisor"],
            },
            {
                "id": "reject_closure",
                "label": "Keep the case open",
                "from": ["closure_requested"],
                "to": "follow_up",
                "roles": ["supervisor"],
            },
            {
                "id": "reopen",
                "label": "Reopen the case",
                "from": ["closed"],
                "to": "follow_up",
                "roles": ["supervisor"],
            },
        ],
    }


def _roles(form_ids: list[str]) -> dict[str, Any]:
    return {
        "roles": [
            {
                "id": "caseworker",
                "label": "Caseworker",
                "scope": "own",
                "permissions": ["case.create", "case.read", "case.write"],
                "forms": {"read": ["*"], "write": ["*"]},
                "sensitivity": ["direct", "quasi", "none"],
            },
            {
                "id": "supervisor",
                "label": "Case management supervisor",
                "scope": "group",
                "permissions": ["case.read", "case.write", "case.assign", "case.refer"],
                "forms": {"read": ["*"], "write": form_ids[1:4] or form_ids[:1]},
                "sensitivity": ["direct", "quasi", "none"],
            },
            {
                "id": "manager",
                "label": "Programme manager",
                "scope": "agency",
                "permissions": ["case.read", "reports.read", "export"],
                "forms": {"read": ["*"], "write": []},
                "sensitivity": ["quasi", "none"],
            },
        ]
    }


# ---------------------------------------------------------------------------------------------
# A small YAML writer: block style like hand-written modules, flow style for short items
# ---------------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_ ,.()/-]*")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    s = str(v)
    if _PLAIN.fullmatch(s) and s.lower() not in _RESERVED and not s.endswith(" "):
        return s
    if "'" not in s and "\n" not in s:
        return f"'{s}'"
    return json.dumps(s, ensure_ascii=False)


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool))


def _flow(v: Any) -> str | None:
    """A one-line flow form for a list of scalars or a mapping of scalars, if short enough."""
    if isinstance(v, list) and all(_is_scalar(x) for x in v):
        text = "[" + ", ".join(_scalar(x) for x in v) + "]"
    elif isinstance(v, dict) and all(_is_scalar(x) for x in v.values()):
        text = "{" + ", ".join(f"{k}: {_scalar(x)}" for k, x in v.items()) + "}"
    else:
        return None
    return text if len(text) <= 100 else None


def _emit(v: Any, indent: int, out: list[str]) -> None:
    pad = " " * indent
    if isinstance(v, dict):
        for k, x in v.items():
            if _is_scalar(x):
                out.append(f"{pad}{k}: {_scalar(x)}")
            elif (flow := _flow(x)) is not None:
                out.append(f"{pad}{k}: {flow}")
            else:
                out.append(f"{pad}{k}:")
                _emit(x, indent + 2, out)
    else:
        for x in v:
            if _is_scalar(x) or (isinstance(x, dict) and "type" not in x and (flow := _flow(x)) is not None):
                out.append(f"{pad}- {_scalar(x) if _is_scalar(x) else flow}")
                continue
            item: list[str] = []
            _emit(x, indent + 2, item)
            item[0] = f"{pad}- {item[0][indent + 2 :]}"
            out.extend(item)
            if isinstance(x, dict) and "type" in x:
                out.append("")  # a blank line between fields, as people write them


def to_yaml(data: dict[str, Any]) -> str:
    out: list[str] = []
    _emit(data, 0, out)
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def build_module(n_fields: int, seed: int = 0) -> dict[str, dict[str, Any]]:
    """The module as {relative path: data}."""
    if n_fields < MIN_FIELDS:
        raise ValueError(f"a generated module needs at least {MIN_FIELDS} fields")
    gen = _Gen(n_fields, seed)
    n_forms = max(1, round(n_fields / FORM_SIZE))
    sizes = [n_fields // n_forms + (1 if i < n_fields % n_forms else 0) for i in range(n_forms)]
    if sizes[0] < MIN_FIELDS:  # the registration block needs room
        n_forms = 1
        sizes = [n_fields]
    forms = [gen.form(i + 1, size) for i, size in enumerate(sizes)]
    form_ids = [f["id"] for f in forms]
    files: dict[str, dict[str, Any]] = {
        "module.yaml": {
            "id": f"bench_{n_fields}",
            "title": f"Benchmark module with {n_fields} fields",
            "version": "1.0",
            "description": "Generated by tests/benchmarks/generate.py for the speed benchmarks.",
            "default_locale": "en",
            "locales": ["en", "fr", "ar", "es"],
            "record_types": {RECORD_TYPE: {"title": "Protection case", "forms": form_ids, "workflow": "case_workflow"}},
        },
        "roles.yaml": _roles(form_ids),
        "workflows/case_workflow.yaml": _workflow(form_ids),
    }
    used = {c for form in forms for f in _walk(form["fields"]) if isinstance(c := f.get("choices"), str)}
    for lid, lk in gen.lookups.items():
        if lid in used:  # an unused option list would only draw a warning
            files[f"lookups/{lid}.yaml"] = lk
    for f in forms:
        files[f"forms/{f['id']}.yaml"] = f
    return files


def generate_module(dest_dir: str, n_fields: int, seed: int = 0) -> str:
    """Write a valid module with exactly `n_fields` fields to `dest_dir`; returns `dest_dir`."""
    for rel, data in build_module(n_fields, seed).items():
        path = os.path.join(dest_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(to_yaml(data))
    return dest_dir


def _random_value(f: Any, rng: random.Random) -> Any:
    t = f.type
    if t == "text" or t == "textarea":
        if f.id == "client_code":
            return f"{''.join(rng.choices('ABCDEFGHJKLMNPRSTUVWXYZ', k=3))}-{rng.randint(0, 9999):04d}"
        return " ".join(rng.choices(_WORDS, k=rng.randint(1, 3 if t == "text" else 12)))
    if t == "integer":
        lo = f.min if isinstance(f.min, int) else 0
        hi = f.max if isinstance(f.max, int) else 100
        return rng.randint(lo, min(hi, 90))
    if t == "decimal":
        return round(rng.uniform(0, 500), 2)
    if t in ("date", "datetime"):
        days = rng.randint(0, 30_000) if f.id == "dob" else rng.randint(0, 2_000)
        d = (date.fromisoformat(TODAY) - timedelta(days=days)).isoformat()
        return d if t == "date" else f"{d}T{rng.randint(8, 18):02d}:{rng.choice(('00', '15', '30', '45'))}"
    if t == "yes_no":
        return rng.choice(("yes", "no"))
    if t == "select_one":
        return rng.choice(f.choices).value
    if t == "select_multiple":
        return [c.value for c in rng.sample(f.choices, rng.randint(1, min(3, len(f.choices))))]
    return None


def _random_answers(scope: Any, rng: random.Random, fill: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in scope.fields.values():
        if f.type in ("note", "calculate"):
            continue
        if f.subform is not None:
            out[f.id] = [_random_answers(f.subform, rng, fill) for _ in range(rng.choice((0, 1, 2, 3, 4, 6)))]
            continue
        if rng.random() < fill:
            v = _random_value(f, rng)
            if f.id == "district" and "region" in out and rng.random() < 0.9:
                v = rng.choice([c.value for c in f.choices if c.keys.get("region") == out["region"]])
            out[f.id] = v
    return out


def generate_answers(record_type: Any, count: int, seed: int = 0, fill: float = 0.75) -> list[dict[str, Any]]:
    """`count` raw answer dicts for a loaded RecordType (about `fill` of the questions answered)."""
    rng = random.Random(seed)
    return [_random_answers(record_type.scope, rng, fill) for _ in range(count)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.benchmarks.generate", description=__doc__.split("\n\n")[0])
    ap.add_argument("dest", help="the folder to write the module to")
    ap.add_argument("n_fields", type=int, help=f"how many fields (at least {MIN_FIELDS})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="replace a module already in DEST")
    args = ap.parse_args(argv)
    if args.n_fields < MIN_FIELDS:
        ap.error(f"n_fields must be at least {MIN_FIELDS}")
    if os.path.isdir(args.dest) and os.listdir(args.dest):
        if not args.force:
            ap.error(f"{args.dest} is not empty (use --force to replace the module in it)")
        for sub in ("forms", "lookups", "workflows"):
            folder = os.path.join(args.dest, sub)
            if os.path.isdir(folder):
                for name in os.listdir(folder):
                    if name.endswith(".yaml"):
                        os.remove(os.path.join(folder, name))
    generate_module(args.dest, args.n_fields, args.seed)
    print(f"wrote a {args.n_fields}-field module to {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
