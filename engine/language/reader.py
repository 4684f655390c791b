"""Reading definition files: YAML with positions, checked against a JSON Schema, and remembering
which files were broken so that their references are not reported a second time."""

from __future__ import annotations

import os

from engine.diagnostics import Position, Report
from engine.language import schema
from engine.language.yamlfile import YamlDoc, read_file


def yaml_files(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith((".yaml", ".yml")))


def stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


class Reader:
    def __init__(self, report: Report, given_root: str) -> None:
        self.given_root = given_root
        self.report = report
        self.broken: set[tuple[str, str]] = set()  # (kind, id or file stem) of files with errors
        self.broken_files: set[str] = set()

    def rel(self, file: str) -> str:
        """A file's name relative to the module folder, for messages that mention another file."""
        return os.path.relpath(file, self.given_root)

    def read_raw(self, path: str) -> YamlDoc | None:
        """Parse a file; None (and the file remembered as broken) if it cannot be read or is empty."""
        doc = read_file(path, self.report)
        if doc is None:
            self.broken_files.add(path)
            return None
        if doc.data is None:
            self.broken_files.add(path)
            self.report.add(
                Position(path),
                "schema.type",
                "the file is empty",
                "see docs/definitions.md for what goes in each file",
            )
            return None
        return doc

    def check(self, doc: YamlDoc, kind: str) -> bool:
        """Check `doc` against the schema of `kind`; a failing file is remembered as broken."""
        if schema.check(doc, kind, self.report):
            return True
        base_kind = kind.removesuffix("_patch")
        self.broken.add((base_kind, stem(doc.file)))
        if isinstance(doc.data, dict) and isinstance(doc.data.get("id"), str):
            self.broken.add((base_kind, doc.data["id"]))
        return False

    def read(self, path: str, kind: str) -> YamlDoc | None:
        doc = self.read_raw(path)
        if doc is None:
            self.broken.add((kind.removesuffix("_patch"), stem(path)))
            return None
        return doc if self.check(doc, kind) else None

    def is_broken(self, kind: str, ident: str) -> bool:
        """Was a file for this id dropped because of an error already reported?"""
        return (kind, ident) in self.broken
