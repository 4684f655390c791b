"""The HTML renderer: Jinja2 templates and static files for the caseworkers' pages.

Templates get only view data prepared by the web layer; autoescaping is always on.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from renderers.html import fieldcache

TEMPLATES = str(resources.files("renderers.html") / "templates")
STATIC = str(resources.files("renderers.html") / "static")

_INPUT_ATTRS = {
    "text": 'type="text" dir="auto"',
    "integer": 'type="text" inputmode="numeric" pattern="[0-9٠-٩۰-۹-]*"',
    "decimal": 'type="text" inputmode="decimal"',
    "date": 'type="date"',
    "datetime": 'type="datetime-local"',
}


def input_attrs(view: Any) -> str:
    return _INPUT_ATTRS.get(view.type, 'type="text"')


#: the names a dict answers as attributes (its methods): `row.items` is the method, as in Jinja
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """Jinja reads `row.name` by trying the attribute, then the key. The web layer hands templates
    dicts, and a dict has no attribute `name`: each read raised and caught an AttributeError, a
    thirtieth of a page's CPU. A dict's key is read first here when the name is not one of the dict's
    own attributes, which is exactly where Jinja would have fallen back to the key anyway."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def environment() -> Environment:
    env = _Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code: no file system check on every render
    )
    env.globals["input_attrs"] = input_attrs
    env.add_extension("jinja2.ext.i18n")
    from engine import i18n

    env.globals["t"] = lambda path, english: i18n.current().text(path, english)[0] if english else english
    env.globals["isolated"] = isolated
    env.globals["cached_field"] = fieldcache.cached_field
    env.filters["join_list"] = join_list
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda message, **kw: _trusted(message, i18n.current().plain_text(message)),
        ngettext=lambda s, p, n, **kw: _trusted(s if n == 1 else p, i18n.current().plural_text(s, p, n)),
        newstyle=True,
    )
    return env


@functools.lru_cache(maxsize=8192)
def _trusted(english: str, translated: str) -> Markup:
    """Jinja marks what gettext returns as safe HTML; a catalog is not trusted that far. A translation
    is escaped, unless its markup is exactly its English's (written in our own templates). Worked out
    once per (English, translation): a page asks for the same few messages many times."""
    from engine.i18n.translator import same_markup, same_placeholders

    if not same_placeholders(english, translated):
        translated = english  # a broken translation must not break the page (i18n status reports it)
    if "<" in english and same_markup(english, translated):
        return Markup(translated)
    return escape(translated)


def isolated(message: str, **values: Any) -> Markup:
    """An interface message whose values (people's names, codes) are data: each is isolated in a
    <bdi>, so a Latin name reads right in an Arabic sentence, and tools can tell data from words."""
    from engine import i18n
    from engine.i18n.translator import same_placeholders

    text = i18n.current().plain_text(message)
    if not same_placeholders(message, text):
        text = message
    # formatted as plain text, every piece escaped first: Markup's own % wraps each value in a helper
    # object, and a home page isolates a name or code in every row it shows
    return Markup(str(escape(text)) % {k: "<bdi>" + str(escape(v)) + "</bdi>" for k, v in values.items()})


_SLOT = re.compile("\x00([0-9]+)\x00")


def join_list(items: Any, wrap: str | None = None) -> Markup:
    """Items joined as the reader's language writes a list ("A, B and C"; in Arabic "A وB وC"),
    each escaped; with `wrap`, each text in a <span class="wrap"> (an item that is markup already,
    such as a translated count, is joined as it is)."""
    from engine import i18n

    parts = [
        Markup('<span class="%s">%s</span>') % (wrap, x) if wrap and not isinstance(x, Markup) else escape(x)
        for x in items
    ]
    joined = i18n.current().join([f"\x00{i}\x00" for i in range(len(parts))])
    pieces = _SLOT.split(joined)
    return Markup("").join(parts[int(x)] if i % 2 else escape(x) for i, x in enumerate(pieces))
