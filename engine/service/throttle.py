"""Sign-in throttling that holds under concurrency and across server processes, and that a flood of
wrong passwords cannot turn into a lockout of the account's owner.

Every attempt reserves its place *before* the password is checked, in the database, atomically:
so 100 concurrent attempts are 100 reservations, and only those within the limits are checked.

- per account and address: `per_pair` attempts in the window (a success clears it);
- per address: `per_address` attempts, whatever the account (a success gives one back): one address
  cannot spray many accounts;
- per account, from browsers it has never signed in on: `per_account` attempts (a success gives
  one back). A browser where the account signed in before carries a signed "known device" cookie
  and is exempt, so an attacker flooding an account from many addresses slows down new devices
  only, never the owner's own browser.

The trade-off (docs/operations.md): during such a flood, the owner on a new device waits for the
window to end (or an administrator helps); an office behind one address shares `per_address`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.service.database import Database
from engine.service.errors import TooManyAttempts
from engine.storage import counters


@dataclass(frozen=True)
class Limits:
    per_pair: int = 5
    per_address: int = 20
    per_account: int = 10
    window_s: float = 900.0


@dataclass(frozen=True)
class Reservation:
    pair: str
    address: str
    account: str | None  # None: a known device, not counted per account


class Throttle:
    def __init__(self, database: Database, limits: Limits) -> None:
        self.database, self.limits = database, limits
        self.window = timedelta(seconds=limits.window_s)

    def reserve(self, username: str, ip: str | None, known_device: bool) -> Reservation:
        """Count this attempt, or refuse it (TooManyAttempts, with the seconds to wait)."""
        name = username.strip().lower()[:100]
        where = (ip or "-")[:64]
        res = Reservation(f"pair:{name}|{where}", f"ip:{where}", None if known_device else f"acct:{name}")
        now = datetime.now(UTC)
        checks = [(res.pair, self.limits.per_pair), (res.address, self.limits.per_address)]
        if res.account is not None:
            checks.append((res.account, self.limits.per_account))
        with self.database.transaction() as session:
            wait = 0.0
            for key, limit in checks:
                count, start = counters.bump(session, key, now, self.window)
                if count > limit:
                    start = start if start.tzinfo else start.replace(tzinfo=UTC)
                    wait = max(wait, (start + self.window - now).total_seconds())
        if wait > 0:
            raise TooManyAttempts(
                "Too many failed sign-ins. Wait a few minutes and try again.", retry_after=int(wait) + 1
            )
        return res

    def succeeded(self, res: Reservation) -> None:
        with self.database.transaction() as session:
            counters.clear(session, res.pair)
            counters.give_back(session, res.address)
            if res.account is not None:
                counters.give_back(session, res.account)
