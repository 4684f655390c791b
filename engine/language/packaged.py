"""What Sanad ships besides code: the reference GBV module (`definitions/`) and the translation
catalogs (`locales/`).

In a source checkout (and an editable install) they are the top-level folders next to `engine/`;
an installed wheel carries them as package data under `engine/bundled/`. Every other module asks
here, so `sanad` works the same from any folder, installed either way.
"""

from __future__ import annotations

import os

_ENGINE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: the folder holding engine/ and renderers/: a checkout, or site-packages
SOURCE_ROOT = os.path.dirname(_ENGINE)


def _folder(name: str) -> str:
    bundled = os.path.join(_ENGINE, "bundled", name)
    return bundled if os.path.isdir(bundled) else os.path.join(SOURCE_ROOT, name)


def definitions_folder() -> str:
    """The folder of the reference modules shipped with Sanad."""
    return _folder("definitions")


def locales_folder() -> str:
    """The interface catalogs (sanad.po) and the reference module's catalogs."""
    return _folder("locales")


def reference_module() -> str:
    """The reference module shipped with Sanad (the one module folder in definitions/): what `sanad`
    serves and checks when no --definitions is given."""
    folder = definitions_folder()
    modules = sorted(n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n, "module.yaml")))
    return os.path.join(folder, modules[0]) if modules else folder
