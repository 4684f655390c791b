"""The seeded demo site the browser tests share: one GBV demo database, one live server and one
headless Chromium for the whole of tests/web (seeding the demo is the slow part).

It ends with the package: Playwright's sync API keeps an event loop running in the main thread
while it lives, and a later test that runs `asyncio.run` in that thread (tests/security/test_09
did, when run after tests/web) failed with "asyncio.run() cannot be called from a running event
loop"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.service import seeding
from engine.service.database import Database
from tests.browser import browser, chromium_or_skip, live
from tests.conftest import ROOT
from tests.server import database, server

GBV = f"{ROOT}/definitions/gbv"


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    chromium_or_skip()
    with database("sqlite", tmp_path_factory.mktemp("browser")) as url, server(url, [GBV]) as srv:
        target = Database.open(url)
        accounts = seeding.seed(target, srv.registry, "gbv", cheap_hashing=True)
        target.dispose()
        by_user = {a.username: a for a in accounts}
        with live(srv.app) as base, browser() as b:
            yield {"base": base, "browser": b, "accounts": by_user, "server": srv}
