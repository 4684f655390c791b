"""A stored record's evaluation, computed once per version and kept for the pages that read it.

Opening a record's page, one of its forms or checking a step evaluates every calculation, skip
rule and check of its record type. A stored record does not change until its version does, so the
result is kept per (record, version, record type as compiled, day, language): the day because
calculations read today's date (ages, days since), the language because error messages are in the
reader's. A save makes a new version, a new definitions version compiles a new record type; neither
ever meets an old evaluation.

The cache is per server process and small (it holds answers: the least that helps a caseworker
moving between a case and its forms). Callers must treat an evaluation as read-only; an answer being
edited (a form posted back with errors) is evaluated afresh, never from here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date
from typing import Any

from sqlalchemy import inspect

from engine import i18n
from engine.language.model import RecordType
from engine.runtime.evaluation import Evaluation, evaluate
from engine.storage.models import Record

#: evaluations kept per process
SIZE = 256

_kept: OrderedDict[tuple[str, int, int, str, str], tuple[RecordType, Evaluation]] = OrderedDict()
_lock = threading.Lock()


def evaluated(rt: RecordType, rec: Record | Any) -> Evaluation:
    """The evaluation of a record's stored answers: a `Record` (evaluated afresh when the unit of
    work has changed it and not yet written it: its version moves on the write) or a record opened
    for the form pages (`records.Opened`, a copy of what is stored)."""
    today = date.today().isoformat()
    if isinstance(rec, Record) and (rec.version is None or inspect(rec).modified):
        return evaluate(rt, rec.data, today)
    data: dict[str, Any] = rec.data
    key = (str(rec.id), int(rec.version), id(rt), today, i18n.current().locale)
    with _lock:
        found = _kept.get(key)
        if found is not None and found[0] is rt:
            _kept.move_to_end(key)
            return found[1]
    ev = evaluate(rt, data, today)
    with _lock:
        _kept[key] = (rt, ev)
        while len(_kept) > SIZE:
            _kept.popitem(last=False)
    return ev


def forget() -> None:
    """Drop every kept evaluation (tests; a process that reloads its definitions)."""
    with _lock:
        _kept.clear()
