"""Finding 2: group codes were shared across agencies.

`sanad users add x --agency ngo1 --group team_north` silently joined another agency's team_north,
and that group's supervisor then listed the other agency's cases with names."""

from __future__ import annotations

import io
import sys

import pytest

from engine.cli import main
from tests.security.conftest import World


def test_the_cli_refuses_another_agencys_group_and_says_why(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    definitions = world.srv.settings.definitions
    argv = ["users", "add", "xavier", "--role", "supervisor", "--agency", "agency_a", "--group", "team_b1"]
    code = main([*argv, "--password-stdin", "--db", world.srv.url, "--definitions", *definitions])
    err = capsys.readouterr().err
    assert code == 1
    assert "team_b1" in err and "agency_b" in err, err


def test_a_group_code_of_another_agency_gives_no_access_to_its_cases(world: World) -> None:
    rec = world.case(owner="bea")  # a case of agency B, in B's team_b1
    world.srv.add_user("yara", "supervisor", agency="agency_a", groups=("team_a1",))
    listing = world.client("yara").get("/api/v1/records/case").json()
    assert rec["id"] not in {i["id"] for i in listing["items"]}
    assert world.client("yara").get(f"/api/v1/records/case/{rec['id']}").status_code == 404
