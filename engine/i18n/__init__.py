"""Translations. At run time (`translator`): the reader's language and catalog lookups, used by every
layer above the definitions language. For translators (`extraction`, `catalogs`): extracting the
strings of the definitions and the interface into gettext catalogs, updating and checking them.

The run-time names are exported here, so `from engine.i18n import _` reads as it does everywhere
else in Python."""

from engine.i18n.translator import (
    INTERFACE_DOMAIN,
    N_,
    ROOT_LOCALES,
    Entries,
    Translator,
    _,
    babel_locale,
    choice_path,
    chosen_codes,
    current,
    field_path,
    locale_direction,
    module_catalog_folders,
    negotiate,
    translator_for,
    use,
)

__all__ = [
    "INTERFACE_DOMAIN",
    "N_",
    "ROOT_LOCALES",
    "Entries",
    "Translator",
    "_",
    "babel_locale",
    "choice_path",
    "chosen_codes",
    "current",
    "field_path",
    "locale_direction",
    "module_catalog_folders",
    "negotiate",
    "translator_for",
    "use",
]
