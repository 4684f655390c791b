"""Every module shipped in the repository validates cleanly and passes its scenario tests."""

from __future__ import annotations

import glob
import os

import pytest

from engine.runtime.scenarios import Scenario, collect
from tests.conftest import ROOT

MODULES = sorted(
    os.path.dirname(p)
    for pattern in ("examples/*/module.yaml", "definitions/*/module.yaml")
    for p in glob.glob(os.path.join(ROOT, pattern))
)
SUITES = {path: collect(path) for path in MODULES}
SCENARIOS: list[Scenario] = [sc for suite in SUITES.values() for sc in suite.scenarios]


def test_the_quickstart_module_is_there() -> None:
    assert any(p.endswith(os.path.join("examples", "quickstart")) for p in MODULES)


@pytest.mark.parametrize("path", MODULES, ids=[os.path.relpath(p, ROOT) for p in MODULES])
def test_module_has_no_errors_or_warnings(path: str) -> None:
    suite = SUITES[path]
    assert [d.format() for d in suite.report.items] == []
    assert suite.scenarios, "a module must ship scenario tests"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[sc.id for sc in SCENARIOS])
def test_scenario(scenario: Scenario) -> None:
    failures = scenario.run()
    assert not failures, "\n".join(f.format() for f in failures)
