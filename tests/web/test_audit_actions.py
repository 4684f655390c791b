"""The audit page's action filter offers every action the service writes to the log."""

from __future__ import annotations

import re
from pathlib import Path

from engine.web.pages.audit import AUDIT_ACTIONS
from tests.conftest import ROOT

RECORDED = re.compile(r'audit\.record\(\s*[^,()]+,\s*"([a-z_]+(?:\.[a-z_]+)?)"')


def test_every_action_written_to_the_log_can_be_filtered_on() -> None:
    written = {
        m.group(1)
        for path in (Path(ROOT) / "engine").rglob("*.py")
        for m in RECORDED.finditer(path.read_text(encoding="utf-8"))
    }
    assert len(written) > 20  # the pattern still finds the service's actions
    assert written <= set(AUDIT_ACTIONS), sorted(written - set(AUDIT_ACTIONS))
