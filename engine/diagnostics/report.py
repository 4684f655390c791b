"""Findings about definition files: where, how bad, which code, what to do."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from engine.diagnostics.codes import CODES, Severity


@dataclass(frozen=True, order=True)
class Position:
    """A place in a file; line and column are 1-based."""

    file: str
    line: int = 1
    column: int = 1


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    column: int
    severity: Severity
    code: str
    message: str
    hint: str | None = None

    def format(self, relative_to: str | None = None) -> str:
        path = display_path(self.file, relative_to)
        text = f"{path}:{self.line}:{self.column}: {self.severity} {self.code}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def as_json(self, relative_to: str | None = None) -> dict[str, object]:
        data = asdict(self)
        data["file"] = display_path(self.file, relative_to)
        return data


def display_path(path: str, relative_to: str | None = None) -> str:
    base = relative_to if relative_to is not None else os.getcwd()
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith(".." + os.sep + "..") else rel


@dataclass
class Report:
    """Collects diagnostics while a module loads; never raises for bad input."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, pos: Position, code: str, message: str, hint: str | None = None) -> None:
        if code not in CODES:  # a programming error: every code must be registered and documented
            raise KeyError(f"undocumented diagnostic code {code!r}")
        self.items.append(Diagnostic(pos.file, pos.line, pos.column, CODES[code][0], code, message, hint))

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self.items.extend(other)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=lambda d: (d.file, d.line, d.column, d.code))


def to_json(diagnostics: Iterable[Diagnostic], relative_to: str | None = None) -> str:
    return json.dumps([d.as_json(relative_to) for d in diagnostics], ensure_ascii=False, indent=2)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean' hint for the closest candidate within a small edit distance."""
    best: tuple[int, str] | None = None
    limit = max(2, len(name) // 3)
    for cand in candidates:
        dist = _levenshtein(name, cand, limit)
        if dist <= limit and (best is None or (dist, cand) < best):
            best = (dist, cand)
    return f"did you mean '{best[1]}'?" if best else None


def _levenshtein(a: str, b: str, limit: int) -> int:
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
