"""The password policy's bundled list, and the second factor's codes, without a server."""

from __future__ import annotations

import fnmatch
import gzip
import os
import time
import tomllib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest

from engine.service import passwords, second_factor
from engine.service.accounts import hasher
from engine.service.errors import Invalid
from tests.conftest import ROOT


def test_the_list_holds_the_100000_most_common_passwords_lower_cased() -> None:
    with gzip.open(passwords.COMMON_FILE, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == len(set(lines)) == 100_000
    assert lines[:4] == ["123456", "password", "12345678", "qwerty"]  # most common first
    assert all(line == line.lower() and line == line.strip() and line for line in lines)
    assert passwords.common_passwords() == frozenset(lines)


@pytest.mark.parametrize("password", ["password123", "Password123", "QWERTYUIOP", " 1q2w3e4r5t ", "Basketball"])
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert passwords.is_common(password)
    with pytest.raises(Invalid, match="among the 100,000 most common passwords"):
        passwords.check(password)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 10 characters"),
        ("x" * 1001, "at most 1000 characters"),
        ("my name is amina!", "must not contain the user name"),
    ],
)
def test_the_other_rules(password: str, reason: str) -> None:
    assert reason in (passwords.problem(password, "Amina") or "")


def test_good_passwords_pass_and_checking_is_fast() -> None:
    passwords.common_passwords()  # loaded once
    start = time.perf_counter()
    for _ in range(10_000):
        assert passwords.problem("correct horse battery staple", "amina") is None
    assert time.perf_counter() - start < 0.5


def test_the_list_and_its_readme_ship_in_the_wheel() -> None:
    """pyproject.toml's package data names them (tests/packaging builds the wheel itself)."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        config = tomllib.load(fh)
    patterns = config["tool"]["setuptools"]["package-data"]["engine"]
    for name in ("service/data/common-passwords.txt.gz", "service/data/README.md"):
        assert any(fnmatch.fnmatch(name, p) for p in patterns), (name, patterns)
        assert os.path.isfile(os.path.join(ROOT, "engine", name))


# -- the second factor ------------------------------------------------------------------------------------------
def _account(secret: str) -> Any:
    """Just the columns second_factor reads and writes."""
    return SimpleNamespace(
        totp_secret=secret, totp_enabled_at=datetime.now(UTC), totp_last_step=None, recovery_codes=None
    )


def test_a_code_is_accepted_once_with_a_step_of_drift() -> None:
    secret = second_factor.new_secret()
    assert len(secret) == 32
    user = _account(secret)
    app = pyotp.TOTP(secret)
    ph = hasher(cheap=True)
    assert second_factor.check(ph, user, app.now()).outcome == "totp"
    assert second_factor.check(ph, user, app.now()).outcome == "used"
    assert second_factor.check(ph, user, app.at(datetime.now(UTC) + timedelta(seconds=30))).outcome == "totp"
    assert second_factor.check(ph, user, app.at(datetime.now(UTC) + timedelta(seconds=120))).outcome == "wrong"
    assert second_factor.check(ph, user, "12345").outcome == "wrong"


def test_recovery_codes_are_hashed_and_work_once() -> None:
    ph = hasher(cheap=True)
    user = _account(second_factor.new_secret())
    codes = second_factor.activate(ph, user)
    assert len(codes) == len(set(codes)) == second_factor.RECOVERY_CODES
    assert all(len(c) == 11 and c[5] == "-" for c in codes)
    assert not any(c in "".join(user.recovery_codes) for c in codes)  # only hashes are kept
    assert second_factor.check(ph, user, f" {codes[3].upper()} ").outcome == "recovery"
    assert second_factor.check(ph, user, codes[3]).outcome == "wrong"
    assert second_factor.recovery_left(user) == 9
    assert second_factor.check(ph, user, codes[4], recovery=False).outcome == "wrong"


def test_the_uri_and_the_qr_code() -> None:
    secret = second_factor.new_secret()
    uri = second_factor.provisioning_uri(secret, "amina")
    assert uri.startswith("otpauth://totp/Sanad:amina?") and f"secret={secret}" in uri and "issuer=Sanad" in uri
    svg = second_factor.qr_svg(uri, "scan <me>")
    assert svg.startswith("<svg") and "<title>scan &lt;me&gt;</title>" in svg
    assert "<script" not in svg and "style=" not in svg
    assert second_factor.grouped("ABCDEFGHIJ") == "ABCD EFGH IJ"
