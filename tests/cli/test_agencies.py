"""`sanad agencies`: add an agency with a name and the code it reports under (the Incident
Recorder's reporting agency code), change or remove that code, list them; each change audited, and
one clear line for every mistake."""

from __future__ import annotations

import json

import pytest

from engine.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def url(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> str:
    url = f"sqlite:///{tmp_path}/agencies.db"
    assert run(capsys, "db", "upgrade", "--db", url)[0] == 0
    return url


def test_add_set_and_list(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "agencies", "add", "ngo1", "Hope Relief", "--reporting-code", "HR", "--db", url)
    assert code == 0 and out == "added the agency ngo1 (Hope Relief), reporting code HR\n"
    code, out, _ = run(capsys, "agencies", "add", "ngo2", "--db", url)
    assert code == 0 and "ngo2 (ngo2), no reporting code (exports write its code)" in out
    code, out, _ = run(capsys, "agencies", "set", "ngo1", "--reporting-code", "HR-01", "--name", "Hope", "--db", url)
    assert code == 0 and out == "ngo1 (Hope), reporting code HR-01\n"
    assert run(capsys, "agencies", "set", "ngo2", "--reporting-code", "NG2", "--db", url)[0] == 0
    assert run(capsys, "agencies", "set", "ngo2", "--no-reporting-code", "--db", url)[0] == 0
    code, out, _ = run(capsys, "agencies", "list", "--db", url)
    assert code == 0
    assert out.splitlines()[1:] == [
        "ngo1             HR-01            Hope",
        "ngo2             -                ngo2",
        "2 agencies",
    ]
    code, out, _ = run(capsys, "audit", "list", "--format", "json", "--db", url)
    assert code == 0
    entries = sorted((e for e in json.loads(out) if e["action"].startswith("agency.")), key=lambda e: e["id"])
    assert [(e["action"], e["details"].get("reporting_code")) for e in entries] == [
        ("agency.add", "HR"),
        ("agency.add", None),
        ("agency.update", "HR-01"),
        ("agency.update", "NG2"),
        ("agency.update", None),
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add", "ngo1"], "there is already an agency 'ngo1'"),
        (["add", "ngo 3"], "an agency code is 1 to 64 characters without spaces"),
        (["add", "ngo3", "--reporting-code", "H R"], "a reporting code is 1 to 64 characters without spaces"),
        (["set", "ngo9", "--reporting-code", "X"], "there is no agency 'ngo9'"),
        (["set", "ngo1"], "nothing to change: give --name, --reporting-code or --no-reporting-code"),
    ],
)
def test_mistakes_change_nothing(url: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert run(capsys, "agencies", "add", "ngo1", "--reporting-code", "HR", "--db", url)[0] == 0
    code, _, err = run(capsys, "agencies", *argv, "--db", url)
    assert code == 1 and message in err
    out = run(capsys, "agencies", "list", "--db", url)[1]
    assert out.splitlines()[1:] == ["ngo1             HR               ngo1", "1 agency"]
