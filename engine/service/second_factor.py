"""The second factor: six-digit codes from an authenticator app (TOTP, RFC 6238, with `pyotp`) and
ten one-time recovery codes for the day the phone is lost.

- Enrolment: a secret is made and kept on the account (pending), shown as text, as an otpauth://
  URI and as a QR code; it is active only once a first code from the app confirmed it. The recovery
  codes are made then, shown once, and kept only as argon2 hashes (the password hasher).
- A code is accepted once: the account keeps the last time step it accepted, and a code of that
  step or an earlier one is refused (`used`), so a code read over a shoulder cannot be replayed.
  One step of clock drift either side is accepted.
- A recovery code works once: its hash is removed when it is used.

The functions here read and change one account's row; signing in, sessions and auditing are in
`accounts`, which calls them.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from engine.service import audit
from engine.storage.models import User

ISSUER = "Sanad"
DIGITS = 6
INTERVAL = 30
DRIFT = 1  # time steps accepted either side of the server's (a phone's clock a little off)
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: easy to copy by hand


# -- codes, without the database -------------------------------------------------------------------------
def new_secret() -> str:
    """A random base32 secret of 160 bits (RFC 4226's recommended length)."""
    return pyotp.random_base32(32)


def step_at(moment: datetime) -> int:
    """The TOTP time step of a moment."""
    return int(moment.timestamp()) // INTERVAL


def code_at(secret: str, step: int) -> str:
    """The code an authenticator app shows during a time step."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).generate_otp(step)


def provisioning_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads (from the QR code, or pasted)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg(uri: str, title: str) -> str:
    """The URI as a QR code, an inline SVG (no script, no style: the pages' CSP allows it)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff", title=title))


def grouped(secret: str) -> str:
    """The secret in groups of four, to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _clean(code: str) -> str:
    return "".join(c for c in code if not c.isspace() and c != "-").lower()


def looks_like_totp(code: str) -> bool:
    cleaned = _clean(code)
    return len(cleaned) == DIGITS and cleaned.isascii() and cleaned.isdigit()


def new_recovery_codes(n: int = RECOVERY_CODES) -> list[str]:
    """`n` codes like 'k7mq2-x9vpt' (about 50 bits each)."""
    return ["-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(2)) for _ in range(n)]


# -- one account --------------------------------------------------------------------------------------------
def secret(user: User) -> str | None:
    """The account's secret (set up or pending): the one place that reads the column."""
    return user.totp_secret


def enabled(user: User) -> bool:
    return user.totp_enabled_at is not None and bool(user.totp_secret)


def recovery_left(user: User) -> int:
    return len(user.recovery_codes or [])


def pending_secret(user: User) -> str:
    """The secret being set up (made the first time it is asked for, then kept until confirmed or
    reset, so a page shown twice shows the same QR code)."""
    if enabled(user):
        raise ValueError("the second factor is already set up")
    if not user.totp_secret:
        user.totp_secret = new_secret()
    return user.totp_secret


@dataclass(frozen=True)
class Verdict:
    """How a code fared: `totp` or `recovery` (accepted), `used` (a code already accepted), `wrong`."""

    outcome: str
    recovery_left: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome in ("totp", "recovery")


def _accept_totp(user: User, secret: str, code: str, now: datetime) -> Verdict:
    cleaned = _clean(code)
    current = step_at(now)
    last = user.totp_last_step if user.totp_last_step is not None else -1
    seen_used = False
    for step in range(current - DRIFT, current + DRIFT + 1):
        if hmac.compare_digest(code_at(secret, step), cleaned):
            if step <= last:
                seen_used = True
                continue
            user.totp_last_step = step
            return Verdict("totp")
    return Verdict("used" if seen_used else "wrong")


def check(ph: PasswordHasher, user: User, code: str, *, recovery: bool = True) -> Verdict:
    """Check a code for an account whose row the caller holds locked (accounts.locked_user): a code
    from the app, else (when `recovery`) one of its recovery codes. An accepted code is spent."""
    key = secret(user)
    if not key:
        return Verdict("wrong")
    if looks_like_totp(code):
        return _accept_totp(user, key, code, audit.now())
    cleaned = _clean(code)
    if not recovery or not cleaned or len(cleaned) > 40:
        return Verdict("wrong")
    hashes = list(user.recovery_codes or [])
    for i, hashed in enumerate(hashes):
        try:
            if ph.verify(hashed, cleaned):
                del hashes[i]
                user.recovery_codes = hashes
                return Verdict("recovery", len(hashes))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            continue
    return Verdict("wrong")


def activate(ph: PasswordHasher, user: User) -> list[str]:
    """Make the confirmed secret active and give the account new recovery codes: the codes, in
    clear, to show once (only their hashes are kept)."""
    codes = new_recovery_codes()
    user.totp_enabled_at = audit.now()
    user.recovery_codes = [ph.hash(_clean(c)) for c in codes]
    return codes


def clear(user: User) -> bool:
    """Remove the second factor (set up or pending) and its recovery codes; whether there was one."""
    had = bool(user.totp_secret)
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.recovery_codes = None
    return had
