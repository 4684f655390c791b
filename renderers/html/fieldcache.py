"""A form's questions rendered once and reused: the HTML of a question is kept per (what the question
shows, the page's language).

A form page is mostly the same markup on every record: the label, the hint, the list of options, the
required marker and the attributes of each question depend on the form (as compiled), the language
and what the role may do, not on the record. Rendering them through Jinja's macros is most of the cost
of a form page. Here a question's HTML is kept under a key made of everything the macro reads — its
view (name, label, hint, options with their selection, relevance, errors, whether it may be edited),
the page's language and the template's compiled code — so a kept fragment is always exactly what the
macro would write, and a new definitions version (new labels, new options) or a new translation makes
new keys, never a stale page.

Only a question whose answer is empty or made of option codes is kept: a person's own words (names,
notes, dates, numbers, calculated text) are never held beyond the request that shows them. Subforms
(rows of questions) are rendered each time; their empty "add a row" template is kept like any other
unanswered question.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from engine import i18n

#: fragments kept per process (a few hundred bytes to a few KB each)
SIZE = 8192

_kept: OrderedDict[tuple[Any, ...], Markup] = OrderedDict()
_lock = threading.Lock()
_counts = {"hits": 0, "misses": 0}


def _answer_key(value: Any, coded: bool) -> Any:
    """The answer as part of a key, or None when it must not be kept (a person's own words)."""
    if value in ("", None, []):
        return ""
    if not coded:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def key_of(view: Any) -> tuple[Any, ...] | None:
    """Everything the field macro reads from a question's view, or None if it is not to be kept."""
    if view.widget == "subform" or view.rows or view.template:
        return None
    answer = _answer_key(view.value, bool(view.choices))
    if answer is None:
        return None
    return (
        view.id,
        view.name,
        view.dom_id,
        view.type,
        view.widget,
        view.label,
        view.hint,
        view.label_lang,
        view.hint_lang,
        answer,
        view.relevant,
        view.required,
        view.editable,
        tuple(view.errors),
        tuple((c.value, c.label, c.selected, c.offered, c.lang) for c in view.choices),
    )


@pass_context
def cached_field(context: Context, macro: Callable[[Any], Markup], view: Any) -> Markup:
    """`{{ cached_field(field, item) }}`: what `{{ field(item) }}` writes, kept when it may be."""
    key = key_of(view)
    if key is None:
        return Markup(macro(view))
    func = getattr(macro, "_func", macro)
    full = (id(getattr(func, "__code__", func)), context.get("lang"), i18n.current().locale, *key)
    with _lock:
        found = _kept.get(full)
        if found is not None:
            _kept.move_to_end(full)
            _counts["hits"] += 1
            return found
    html = Markup(macro(view))
    with _lock:
        _counts["misses"] += 1
        _kept[full] = html
        while len(_kept) > SIZE:
            _kept.popitem(last=False)
    return html


def stats() -> dict[str, int]:
    """Hits, misses and fragments kept (tests, benchmarks)."""
    with _lock:
        return {**_counts, "kept": len(_kept)}


def forget() -> None:
    with _lock:
        _kept.clear()
        _counts.update(hits=0, misses=0)
