"""The engine and the renderers know no module: nothing about GBV is written in their code.

Docstrings, comments and help texts may name the reference module (it is what Sanad ships), but no
identifier, no id-like string (a field, form or module id compared or looked up) and no text a user
reads (templates, scripts) may.
"""

from __future__ import annotations

import io
import os
import re
import tokenize
from pathlib import Path

from tests.conftest import ROOT

DOMAIN = re.compile(r"gbv|survivor|perpetrator", re.IGNORECASE)
ID_LIKE = re.compile(r"""^[rbuf]*(['"])[a-z0-9_./-]*\1$""", re.IGNORECASE)
FOLDERS = [Path(ROOT) / "engine", Path(ROOT) / "renderers"]


def _code_files(suffix: str) -> list[Path]:
    return sorted(p for folder in FOLDERS for p in folder.rglob(f"*{suffix}"))


def test_no_python_identifier_or_id_string_names_the_domain() -> None:
    found: list[str] = []
    for path in _code_files(".py"):
        source = path.read_text(encoding="utf-8")
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NAME or (tok.type == tokenize.STRING and ID_LIKE.match(tok.string)):
                if DOMAIN.search(tok.string):
                    found.append(f"{os.path.relpath(path, ROOT)}:{tok.start[0]}: {tok.string}")
    assert not found, "\n".join(found)


def test_no_template_or_script_shows_the_domain_to_a_user() -> None:
    found = [
        f"{os.path.relpath(path, ROOT)}:{n}: {line.strip()}"
        for suffix in (".html", ".js", ".css")
        for path in _code_files(suffix)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if DOMAIN.search(line)
    ]
    assert not found, "\n".join(found)
