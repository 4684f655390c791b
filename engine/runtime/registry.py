"""The definitions a deployment serves: each module loaded, checked and compiled once."""

from __future__ import annotations

from dataclasses import dataclass

from engine.language.loader import load_module
from engine.language.model import Module
from engine.runtime.policy import Policy


class DefinitionsError(Exception):
    """The definitions have errors; `lines` are the findings as `sanad validate` prints them."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass
class Registry:
    modules: dict[str, Module]
    policies: dict[str, Policy]

    @classmethod
    def load(cls, paths: list[str]) -> Registry:
        modules: dict[str, Module] = {}
        problems: list[str] = []
        for path in paths:
            result = load_module(path)
            if result.module is None:
                problems.extend(d.format() for d in result.report.sorted() if d.severity == "error")
                problems.append(f"{path}: the module has errors; run 'sanad validate {path}' for details")
                continue
            if result.module.id in modules:
                problems.append(f"{path}: a module with the id '{result.module.id}' is already loaded")
                continue
            modules[result.module.id] = result.module
        if problems:
            raise DefinitionsError(problems)
        return cls(modules, {mid: Policy(m) for mid, m in modules.items()})

    def module(self, module_id: str) -> Module | None:
        return self.modules.get(module_id)
