"""The password policy, the same for `sanad users add` and `reset-password`, the demo and the
password change page: long enough, not among the 100,000 most common passwords (a bundled list,
data/README.md), and not the user name."""

from __future__ import annotations

import gzip
import os
from functools import cache

from engine import i18n
from engine.i18n import _
from engine.service.errors import Invalid

#: the shortest password accepted (docs/operations.md)
MIN_LENGTH = 10
#: the longest: far beyond any passphrase, and it keeps hashing bounded
MAX_LENGTH = 1000
COMMON_FILE = os.path.join(os.path.dirname(__file__), "data", "common-passwords.txt.gz")


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list, lower-cased, read once (about 0.1 s) the first time a password is checked."""
    with gzip.open(COMMON_FILE, "rt", encoding="utf-8") as fh:
        return frozenset(line.rstrip("\n") for line in fh if line.strip())


def is_common(password: str) -> bool:
    """Is the password (whatever its case, spaces around it aside) among the 100,000 most common?"""
    return password.strip().lower() in common_passwords()


def problem(password: str, username: str | None = None) -> str | None:
    """Why the policy refuses this password (a sentence for the person choosing it), or None."""
    if len(password) < MIN_LENGTH:
        return i18n.current().ngettext(
            "the password must be at least %(num)s character long",
            "the password must be at least %(num)s characters long",
            MIN_LENGTH,
        )
    if len(password) > MAX_LENGTH:
        return i18n.current().ngettext(
            "the password must be at most %(num)s character long",
            "the password must be at most %(num)s characters long",
            MAX_LENGTH,
        )
    if is_common(password):
        return _(
            "this password is among the 100,000 most common passwords, the first ones anybody guessing "
            "tries: choose another, for example several unrelated words"
        )
    name = (username or "").strip().lower()
    if len(name) >= 4 and name in password.lower():
        return _("the password must not contain the user name: choose another")
    return None


def check(password: str, username: str | None = None) -> None:
    """Refuse a password the policy does not allow (Invalid, with the reason)."""
    reason = problem(password, username)
    if reason is not None:
        raise Invalid(reason)
