"""`sanad users reset-password`: a new password (asked twice or from stdin), the same policy as
`users add`, the user's sessions ended, an audit entry, and one clear line for every mistake."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator

import pytest

from engine.cli import main
from engine.service import accounts
from engine.service.database import Database
from tests.conftest import ROOT

GBV = os.path.join(ROOT, "definitions", "gbv")
OLD = "the first password"
NEW = "a brand new password"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def url(tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database with the user amina (password OLD)."""
    url = f"sqlite:///{tmp_path}/reset.db"
    assert run(capsys, "db", "upgrade", "--db", url)[0] == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(OLD + "\n"))
    code, _, err = run(
        capsys, "users", "add", "amina", "--role", "caseworker", "--agency", "ngo1", "--password-stdin", "--db", url,
        "--definitions", GBV,
    )  # fmt: skip
    assert code == 0, err
    yield url


def _sessions(url: str, n: int) -> list[str]:
    db = Database.open(url)
    try:
        with db.transaction() as session:
            user = accounts.find_user(session, "amina")
            assert user is not None
            return [accounts.start_session(session, user, "10.0.0.1") for _ in range(n)]
    finally:
        db.dispose()


def _state(url: str, sids: list[str]) -> tuple[bool, bool, list[bool], bool]:
    """(the old password works, the new one works, which sessions are live, disabled)."""
    db = Database.open(url)
    try:
        with db.reading() as session:
            user = accounts.find_user(session, "amina")
            assert user is not None
            ph = accounts.hasher()
            live = [accounts.session_user(session, sid) is not None for sid in sids]
            return accounts.verify_password(ph, user, OLD), accounts.verify_password(ph, user, NEW), live, user.disabled
    finally:
        db.dispose()


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def _terminal(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """A terminal where getpass answers `answers` in turn; the prompts shown."""
    tty = io.StringIO("")
    tty.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stdin", tty)
    given = list(answers)
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        if not given:
            raise EOFError
        return given.pop(0)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    return prompts


def test_reset_from_stdin_sets_the_password_ends_sessions_and_is_audited(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sids = _sessions(url, 3)
    db = Database.open(url)
    try:
        with db.transaction() as session:
            accounts.sign_out(session, sids[0], None)  # one already ended: not counted again
    finally:
        db.dispose()
    _stdin(monkeypatch, NEW + "\n")
    code, out, err = run(capsys, "users", "reset-password", "amina", "--password-stdin", "--db", url)
    assert code == 0, err
    assert out.strip() == "Password reset for amina; 2 sessions ended."
    assert _state(url, sids) == (False, True, [False, False, False], False)
    code, out, _ = run(capsys, "audit", "list", "--db", url, "--format", "json")
    entry = json.loads(out)[0]
    assert entry["action"] == "user.password_reset" and entry["user"] == "(command line)"
    assert entry["details"] == {"target": "amina", "sessions_ended": 2}
    assert NEW not in out


def test_reset_at_the_terminal_asks_twice(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts = _terminal(monkeypatch, NEW, NEW)
    code, out, err = run(capsys, "users", "reset-password", "amina", "--db", url)
    assert code == 0, err
    assert out.strip() == "Password reset for amina; 0 sessions ended."
    assert prompts == ["New password for amina (10 characters or more): ", "Same password again: "]
    assert _state(url, [])[:2] == (False, True)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ((NEW, NEW + "x"), "the two passwords differ; nothing was changed"),
        ((NEW,), "no password given; nothing was changed"),
        (("short", "short"), "the password must be at least 10 characters long; nothing was changed"),
    ],
)
def test_a_bad_password_at_the_terminal_changes_nothing(
    url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answers: tuple[str, ...],
    message: str,
) -> None:
    sids = _sessions(url, 1)
    _terminal(monkeypatch, *answers)
    code, out, err = run(capsys, "users", "reset-password", "amina", "--db", url)
    assert (code, out) == (1, "")
    assert err == f"sanad: {message}\n"
    assert _state(url, sids) == (True, False, [True], False)


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "no password on standard input: --password-stdin reads the password from its first line"),
        ("\n", "no password on standard input"),
        ("too short\n", "the password must be at least 10 characters long; nothing was changed"),
    ],
)
def test_a_bad_password_from_stdin_changes_nothing(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stdin: str, message: str
) -> None:
    sids = _sessions(url, 1)
    _stdin(monkeypatch, stdin)
    code, out, err = run(capsys, "users", "reset-password", "amina", "--password-stdin", "--db", url)
    assert (code, out) == (1, "")
    assert err.startswith(f"sanad: {message}") and err.count("\n") == 1 and "Traceback" not in err
    assert _state(url, sids) == (True, False, [True], False)


def test_an_unknown_user_is_named_before_any_password_is_asked(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts = _terminal(monkeypatch, NEW, NEW)
    code, out, err = run(capsys, "users", "reset-password", "amna", "--db", url)
    assert (code, out, prompts) == (1, "", [])
    assert err == "sanad: there is no user 'amna'; 'sanad users list' shows the accounts\n"
    code, out, _ = run(capsys, "audit", "list", "--db", url, "--action", "user.password_reset")
    assert out.strip() == "0 entries"


def test_a_disabled_account_stays_disabled(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, "users", "disable", "amina", "--db", url)[0] == 0
    _stdin(monkeypatch, NEW + "\n")
    code, out, _ = run(capsys, "users", "reset-password", "amina", "--password-stdin", "--db", url)
    assert code == 0
    assert out.startswith("Password reset for amina; 0 sessions ended.") and "stays so" in out
    assert _state(url, []) == (False, True, [], True)


def test_users_add_refuses_an_empty_stdin_plainly(
    tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/add.db"
    _stdin(monkeypatch, "")
    code, _, err = run(
        capsys, "users", "add", "sam", "--role", "caseworker", "--password-stdin", "--db", url, "--definitions", GBV
    )
    assert code == 1 and "no password on standard input" in err
