"""Finding 15: 500s on bad input. Each parameter is parsed strictly: a clear 4xx, nothing stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.conftest import World

BIG = "9223372036854775808"  # 2**63, past SQLite's integers
HUGE = "184467440737095518"  # fits, but no page is that far


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/records/case?page=²",
        f"/api/v1/records/case?page={BIG}",
        f"/api/v1/records/case?page={HUGE}",
        "/records/case?page=²",
        f"/records/case?page={BIG}",
        "/records/case?from=9999-12-31",
        "/records/case?to=9999-12-31",
        "/records/case?from=0000-01-01",
        "/records/case?from=%C2%B2",
    ],
)
def test_query_parameters(world: World, path: str) -> None:
    r = world.client("amina").get(path)
    assert r.status_code < 500, (path, r.status_code)


@pytest.mark.parametrize("since", ["²", "yesterday", "2026-13-01", f"{BIG}-01-01"])
def test_a_bad_date_on_the_audit_page_is_refused_not_ignored(world: World, since: str) -> None:
    c = world.client("dpo_a")
    assert c.get("/audit").status_code == 200
    r = c.get("/audit", params={"since": since})
    assert r.status_code == 400, (since, r.status_code)
    assert "since" in r.text and "2026-11-01" in r.text  # says which parameter and what it takes
    assert c.get("/audit", params={"since": "2026-11-01"}).status_code == 200
    assert c.get("/audit", params={"since": "2026-11-01T08:00"}).status_code == 200


@pytest.mark.parametrize("ident", ["²", BIG, "-1", "1e3"])
def test_referral_ids(world: World, ident: str) -> None:
    c = world.client("max")
    assert c.post(f"/api/v1/referrals/{ident}/accept", json={}).status_code in (400, 404)
    assert c.post(f"/referrals/{ident}/accept").status_code < 500


def test_record_versions(world: World) -> None:
    rec = world.case()
    c = world.client("amina")
    for version in (int(BIG), 10**40, -1):
        r = c.patch(f"/api/v1/records/case/{rec['id']}", json={"version": version, "data": {"goal": "x"}})
        assert r.status_code in (400, 409), (version, r.status_code, r.text)
    for raw in ("²", BIG, "1" * 50):
        r = c.post(
            f"/records/case/{rec['id']}/forms/plan", data={"f:goal": "x", "version": raw}, follow_redirects=False
        )
        assert r.status_code < 500, (raw, r.status_code)
    assert c.get(f"/api/v1/records/case/{rec['id']}").json()["version"] == 1


def test_numbers_too_large_for_an_answer(world: World) -> None:
    rec = world.case()
    body = '{"version": 1, "data": {"age": 1' + "0" * 4000 + "}}"
    r = world.client("amina").patch(
        f"/api/v1/records/case/{rec['id']}", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert r.status_code in (400, 422), r.text
    assert world.client("amina").get(f"/api/v1/records/case/{rec['id']}").json()["data"]["age"] == 29


def test_validate_reports_a_huge_literal_as_a_finding(tmp_path: Path) -> None:
    from tests.language.test_codes import make_module

    root = make_module(
        tmp_path, **{"lookups/needs.yaml": "id: needs\nchoices:\n  - {value: a, label: " + "9" * 5001 + "}\n"}
    )
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", "--format", "json", str(root)],
        capture_output=True,
        text=True,
        env={**os.environ, "SANAD_DEBUG": ""},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "internal error" not in done.stderr
    assert any(d["line"] == 3 for d in json.loads(done.stdout))
