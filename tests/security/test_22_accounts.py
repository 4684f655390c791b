"""Issue 14, accounts: a password policy (long enough, not among the 100,000 most common), a second
factor (TOTP) that a role can require, over the pages and the API, throttled like passwords, with
one-time recovery codes, and every session ended when a password changes, is reset, or the account
is disabled. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest

from engine.cli import main
from engine.service import accounts, audit
from engine.service.database import Database
from engine.service.errors import Invalid
from tests.conftest import MakeModule
from tests.security.conftest import MODULE, PASSWORD, USERS, World
from tests.server import server

SUPERVISOR_PERMISSIONS = "permissions: [case.read, case.write, case.assign, case.refer, consent_override]"
# the protection module, its supervisors signing in with a second factor
ROLES = MODULE["roles.yaml"] or ""
assert SUPERVISOR_PERMISSIONS in ROLES
REQUIRED = {
    **MODULE,
    "roles.yaml": ROLES.replace(
        SUPERVISOR_PERMISSIONS, SUPERVISOR_PERMISSIONS + "\n" + " " * 12 + "second_factor: required"
    ),
}
COMMON = ["Password123", "QWERTYUIOP", "1q2w3e4r5t", "basketball"]  # all in the bundled list, any case


@pytest.fixture
def world(db_url: str, make_module: MakeModule) -> Iterator[World]:
    root = make_module(REQUIRED)
    with server(db_url, [root]) as srv:
        for name, (role, agency, groups) in USERS.items():
            srv.add_user(name, role, agency=agency, groups=groups)
        yield World(srv)


def plain(world: World, ip: str = "testclient") -> Any:
    """A client that does not complete second steps by itself."""
    return world.srv.client(ip=ip, second_factor=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def actions(world: World, action: str) -> list[dict[str, Any]]:
    db = Database.open(world.srv.url)
    try:
        with db.reading() as session:
            return audit.search(session, action=action, limit=100)
    finally:
        db.dispose()


def error_text(html: str) -> str:
    found = re.search(r'role="alert"[^>]*><p>([^<]*)</p>', html)
    return found.group(1) if found else ""


def enrol_on_the_pages(world: World, username: str, ip: str = "testclient") -> tuple[Any, str, list[str]]:
    """Sign in with the password, set up the second factor on the page it leads to: the signed-in
    client, the secret and the recovery codes shown."""
    c = plain(world, ip)
    r = c.post("/login", data={"username": username, "password": PASSWORD, "next": "/records/case"})
    assert r.url.path == "/sign-in/second-factor", r.url
    secret = re.search(r'id="totp-secret">([^<]+)<', r.text)
    uri = re.search(r'id="totp-uri">([^<]+)<', r.text)
    assert secret is not None and uri is not None and "<svg" in r.text
    key = secret.group(1).replace(" ", "")
    assert uri.group(1).startswith("otpauth://totp/") and f"secret={key}" in uri.group(1)
    r = c.post("/sign-in/second-factor", data={"code": pyotp.TOTP(key).now()})
    assert r.status_code == 200 and "sanad_session" in c.cookies, r.text[:500]
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", r.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    return c, key, codes


def next_code(secret: str) -> str:
    """The app's next code: the current one was spent setting it up (a code is accepted once), and
    one step of drift is accepted."""
    return pyotp.TOTP(secret).at(time.time() + 30)


# -- the password policy -------------------------------------------------------------------------------------
@pytest.mark.parametrize("password", COMMON)
def test_a_common_password_is_refused_by_the_service(world: World, password: str) -> None:
    db = Database.open(world.srv.url)
    try:
        with db.transaction() as session, pytest.raises(Invalid, match="100,000 most common"):
            accounts.reset_password(session, accounts.hasher(cheap=True), "amina", password)
    finally:
        db.dispose()


def test_common_and_short_passwords_are_refused_on_the_command_line(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, definitions = world.srv.url, world.srv.settings.definitions[0]
    for password, reason in (
        ("Password123", "among the 100,000 most common passwords"),
        ("short", "at least 10 characters"),
        ("{name}-is-my-name", "must not contain the user name"),
    ):
        monkeypatch.setattr(sys, "stdin", io.StringIO(password.format(name="nadia") + "\n"))
        code, _, err = run(
            capsys, "users", "add", "nadia", "--role", "caseworker", "--password-stdin", "--db", url,
            "--definitions", definitions,
        )  # fmt: skip
        assert code == 1 and reason in err, err
        monkeypatch.setattr(sys, "stdin", io.StringIO(password.format(name="Amina") + "\n"))
        code, _, err = run(capsys, "users", "reset-password", "amina", "--password-stdin", "--db", url)
        assert code == 1 and reason in err and "nothing was changed" in err, err
    assert accounts.MIN_PASSWORD_LENGTH >= 10


def test_the_password_change_page_applies_the_policy(world: World) -> None:
    c = world.srv.client()
    c.post("/login", data={"username": "amina", "password": PASSWORD, "next": "/"})
    for new, status, reason in (
        ("1q2w3e4r5t", 422, "100,000 most common"),
        ("BASKETBALL", 422, "100,000 most common"),
        ("short", 422, "at least 10 characters"),
        (PASSWORD, 422, "must differ from the current one"),
    ):
        r = c.post("/account/password", data={"current": PASSWORD, "new": new, "again": new})
        assert r.status_code == status and reason in error_text(r.text), (new, r.status_code, error_text(r.text))
    r = c.post("/account/password", data={"current": PASSWORD, "new": "one good phrase", "again": "another phrase"})
    assert r.status_code == 400 and "differ" in error_text(r.text)
    r = c.post(
        "/account/password", data={"current": "not it at all", "new": "a fine new phrase", "again": "a fine new phrase"}
    )
    assert r.status_code == 422 and "current password is not right" in error_text(r.text)
    assert c.get("/api/v1/me").status_code == 200  # nothing changed, still signed in


# -- the second factor: required by a role -----------------------------------------------------------------------
def test_a_required_second_factor_is_set_up_before_anything_else(world: World) -> None:
    c = plain(world)
    r = c.post("/login", data={"username": "sara", "password": PASSWORD, "next": "/records/case"})
    assert r.url.path == "/sign-in/second-factor" and "sanad_session" not in c.cookies
    # no session: every other page and the API send the user to sign in
    assert c.get("/records/case").url.path == "/login"
    assert c.get("/api/v1/me").status_code == 401
    assert c.get("/account").url.path == "/login"
    # the API refuses the password alone, and says why
    r = plain(world).post("/api/v1/login", json={"username": "sara", "password": PASSWORD})
    assert r.status_code == 403 and r.json()["second_factor"] == "enrol"
    r = c.post("/sign-in/second-factor", data={"code": "000000"})
    assert r.status_code == 400 and "not right" in error_text(r.text) and "sanad_session" not in c.cookies
    c, secret, _codes = enrol_on_the_pages(world, "sara")
    assert c.get("/records/case").status_code == 200 and c.get("/api/v1/me").json()["user"]["username"] == "sara"
    assert [e["user"] for e in actions(world, "second_factor.enrol")] == ["sara"]
    assert actions(world, "second_factor.enrol_failure")
    # from now on: the password, then the code
    other = plain(world)
    r = other.post("/login", data={"username": "sara", "password": PASSWORD, "next": "/records/case"})
    assert r.url.path == "/sign-in/code" and "sanad_session" not in other.cookies
    assert other.get("/api/v1/me").status_code == 401
    r = other.post("/sign-in/code", data={"code": next_code(secret)})
    assert r.url.path == "/records/case" and other.get("/api/v1/me").status_code == 200


def test_the_api_asks_for_the_code(world: World) -> None:
    _, secret, _ = enrol_on_the_pages(world, "sara")
    c = plain(world)
    r = c.post("/api/v1/login", json={"username": "sara", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["second_factor"] == "code" and "sanad_session" not in c.cookies
    r = c.post("/api/v1/login", json={"username": "sara", "password": PASSWORD, "code": 123456})
    assert r.status_code == 400
    r = c.post("/api/v1/login", json={"username": "sara", "password": "wrong password", "code": next_code(secret)})
    assert r.status_code == 401 and "second_factor" not in r.json()  # the code is not looked at
    r = c.post("/api/v1/login", json={"username": "sara", "password": PASSWORD, "code": next_code(secret)})
    assert r.status_code == 200 and r.json()["user"]["username"] == "sara"
    # the same code again: refused (a code is accepted once)
    r = plain(world).post("/api/v1/login", json={"username": "sara", "password": PASSWORD, "code": next_code(secret)})
    assert r.status_code == 401 and "already used" in r.json()["error"]
    assert {e["details"]["reason"] for e in actions(world, "login.second_factor_failure")} == {"used"}


def test_an_optional_second_factor_is_asked_once_set_up(world: World) -> None:
    """A caseworker (the role does not require it) may set one up on their account page."""
    c = world.srv.client("amina")
    page = c.get("/account/second-factor")
    secret = re.search(r'id="totp-secret">([^<]+)<', page.text)
    assert page.status_code == 200 and secret is not None
    key = secret.group(1).replace(" ", "")
    assert c.get("/account/second-factor").text.count(secret.group(1)) == 1  # the same key, shown again
    # the password too: an open session alone cannot tie the account to another phone
    r = c.post("/account/second-factor", data={"code": pyotp.TOTP(key).now(), "password": "not the password"})
    assert r.status_code == 400 and "current password is not right" in error_text(r.text)
    r = c.post("/account/second-factor", data={"code": pyotp.TOTP(key).now(), "password": PASSWORD})
    assert r.status_code == 200 and len(re.findall(r"<li><code>", r.text)) == 10
    r = plain(world).post("/api/v1/login", json={"username": "amina", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["second_factor"] == "code"
    # the password-only sign-in of the service refuses it too
    db = Database.open(world.srv.url)
    try:
        with db.transaction() as session:
            assert accounts.sign_in(session, accounts.hasher(True), "amina", PASSWORD, None, lambda m: True) is None
    finally:
        db.dispose()


# -- wrong codes: refused and throttled like passwords ---------------------------------------------------------------
def test_wrong_codes_are_throttled_like_passwords(world: World) -> None:
    _, secret, _ = enrol_on_the_pages(world, "sara")
    c = plain(world, ip="10.0.0.9")
    r = c.post("/login", data={"username": "sara", "password": PASSWORD, "next": "/"})
    assert r.url.path == "/sign-in/code"
    statuses = [c.post("/sign-in/code", data={"code": f"{n:06d}"}).status_code for n in range(5)]
    assert statuses == [401] * 5
    r = c.post("/sign-in/code", data={"code": next_code(secret)})  # even the right code: wait first
    assert r.status_code == 429 and "sanad_session" not in c.cookies
    r = plain(world, ip="10.0.0.9").post(
        "/api/v1/login", json={"username": "sara", "password": PASSWORD, "code": next_code(secret)}
    )
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    failures = actions(world, "login.second_factor_failure")
    assert len(failures) == 5 and {e["ip"] for e in failures} == {"10.0.0.9"}
    # the owner's own browser elsewhere is not locked out
    r = plain(world, ip="198.51.100.4").post(
        "/api/v1/login", json={"username": "sara", "password": PASSWORD, "code": next_code(secret)}
    )
    assert r.status_code == 200, r.text


# -- recovery codes -------------------------------------------------------------------------------------------------
def test_a_recovery_code_works_once(world: World) -> None:
    _, _secret, codes = enrol_on_the_pages(world, "sara")
    c = plain(world)
    c.post("/login", data={"username": "sara", "password": PASSWORD, "next": "/records/case"})
    r = c.post("/sign-in/code", data={"code": codes[0].upper().replace("-", " ")})  # as typed from paper
    assert r.url.path == "/records/case" and "9 recovery codes are left" in r.text
    again = plain(world)
    again.post("/login", data={"username": "sara", "password": PASSWORD, "next": "/"})
    r = again.post("/sign-in/code", data={"code": codes[0]})
    assert r.status_code == 401 and "sanad_session" not in again.cookies
    r = plain(world).post("/api/v1/login", json={"username": "sara", "password": PASSWORD, "code": codes[1]})
    assert r.status_code == 200
    used = actions(world, "login.recovery_code")
    assert [e["details"]["recovery_codes_left"] for e in reversed(used)] == [9, 8]
    assert "8 recovery codes left" in world.srv.client("sara").get("/account").text


# -- half-finished sign-ins ---------------------------------------------------------------------------------------------
def test_a_half_finished_sign_in_cannot_be_forged_or_outlive_a_password_reset(world: World) -> None:
    _, secret, _ = enrol_on_the_pages(world, "sara")
    forged = plain(world)
    forged.cookies.set("sanad_signin", "eyJ1IjoxfQ.forged.signature")
    assert forged.get("/sign-in/code").url.path == "/login"
    c = plain(world)
    c.post("/login", data={"username": "sara", "password": PASSWORD, "next": "/"})
    db = Database.open(world.srv.url)
    try:
        with db.transaction() as session:
            accounts.reset_password(session, accounts.hasher(cheap=True), "sara", "a brand new passphrase")
    finally:
        db.dispose()
    r = c.post("/sign-in/code", data={"code": next_code(secret)})
    assert r.url.path == "/login" and "sanad_session" not in c.cookies


# -- sessions end on a password change, a reset, a disabled account, a second factor reset -------------------------------
def test_changing_ones_password_ends_the_other_sessions(world: World) -> None:
    here, elsewhere = world.srv.client("amina"), world.srv.client("amina", ip="10.0.0.2")
    r = here.post(
        "/account/password", data={"current": PASSWORD, "new": "a fine new phrase", "again": "a fine new phrase"}
    )
    assert r.url.path == "/account" and "1 other session of yours was ended" in r.text
    assert here.get("/api/v1/me").status_code == 200
    assert elsewhere.get("/api/v1/me").status_code == 401
    c = plain(world)
    assert c.post("/api/v1/login", json={"username": "amina", "password": PASSWORD}).status_code == 401
    assert c.post("/api/v1/login", json={"username": "amina", "password": "a fine new phrase"}).status_code == 200
    [entry] = actions(world, "user.password_change")
    assert entry["user"] == "amina" and entry["details"]["sessions_ended"] == 1


def test_reset_disable_and_second_factor_reset_end_every_session(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = world.srv.url
    sessions = [world.srv.client("amina"), world.srv.client("amina", ip="10.0.0.2")]
    monkeypatch.setattr(sys, "stdin", io.StringIO("a brand new passphrase\n"))
    assert run(capsys, "users", "reset-password", "amina", "--password-stdin", "--db", url)[0] == 0
    assert [s.get("/api/v1/me").status_code for s in sessions] == [401, 401]

    sessions = [world.srv.client("adil"), world.srv.client("adil", ip="10.0.0.2")]
    assert run(capsys, "users", "disable", "adil", "--db", url)[0] == 0
    assert [s.get("/api/v1/me").status_code for s in sessions] == [401, 401]

    c, _, _ = enrol_on_the_pages(world, "sara")
    code, out, _ = run(capsys, "users", "list", "--db", url, "--definitions", world.srv.settings.definitions[0])
    row = {line.split()[0]: line.split() for line in out.splitlines()[1:-2]}
    assert row["sara"][-2] == "on" and row["bo"][-2] == "missing" and row["amina"][-2] == "off", out
    code, out, _ = run(capsys, "users", "reset-2fa", "sara", "--db", url)
    assert code == 0 and "Second factor removed for sara" in out and "1 session ended" in out, out
    assert c.get("/api/v1/me").status_code == 401
    # the role requires one: the next sign-in sets up a new one
    r = plain(world).post("/login", data={"username": "sara", "password": PASSWORD, "next": "/"})
    assert r.url.path == "/sign-in/second-factor"
    [entry] = actions(world, "user.second_factor_reset")
    assert entry["details"] == {"target": "sara", "had_second_factor": True, "sessions_ended": 1}
    assert run(capsys, "users", "reset-2fa", "nobody", "--db", url)[0] == 1


def test_a_session_from_before_the_role_required_a_second_factor_stops_working(
    db_url: str, make_module: MakeModule
) -> None:
    """A module that starts requiring a second factor for a role: sessions of its users who have
    none, opened before, are refused at once (not when they happen to end), and signing in again
    leads to setting one up."""
    with server(db_url, [make_module(MODULE)]) as before:
        before.add_user("sara", "supervisor", agency="agency_a", groups=("team_a1",))
        c = before.client("sara", second_factor=False)
        cookies = dict(c.cookies)
        assert c.get("/api/v1/me").status_code == 200
    with server(db_url, [make_module(REQUIRED)]) as after:  # the same database, the new definitions
        c = after.client(second_factor=False)
        c.cookies.update(cookies)
        r = c.get("/api/v1/me")
        assert r.status_code == 401 and "second factor" in r.json()["error"]
        r = c.post("/api/v1/login", json={"username": "sara", "password": PASSWORD})
        assert r.status_code == 403 and r.json().get("second_factor") == "enrol"
