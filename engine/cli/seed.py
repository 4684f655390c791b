"""`sanad seed`: fill a database with realistic test data at scale, for benchmarks (service.bulk_seed).

    sanad seed --cases 50000 --incidents 100000 --audit 1000000 [--db URL] [--agencies 50] [--users 2000]
               [--groups-per-agency 4] [--linked 0.6] [--module definitions/gbv] [--seed 1]
               [--password P] [--totp-secret BASE32] [--append] [--json]

The summary goes to stdout (with --json: one JSON object, for scripts); progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from engine.cli.common import CliError, say
from engine.service.bulk_seed import DEFAULT_PASSWORD, DEFAULT_TOTP_SECRET, SeedError, SeedSummary, seed
from engine.service.database import resolve_url


class Bar:
    """A progress bar on stderr: done/total, rows per second, time left. Redrawn in place on a
    terminal (at most ten times a second); elsewhere a line every ten seconds."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.phase: str | None = None
        self.started = 0.0
        self.last = 0.0
        self.finished: set[str] = set()

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase in self.finished:
            return
        if phase != self.phase:
            self.end()
            self.phase, self.started, self.last = phase, now, 0.0
        final = done >= total
        if not final and now - self.last < (0.1 if self.tty else 10.0):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        left = (total - done) / rate if rate > 0 else 0.0
        share = done / total if total else 1.0
        width = 30
        bar = "#" * int(share * width) + "-" * (width - int(share * width))
        line = f"{phase:8} [{bar}] {done:>12,}/{total:,} {share:6.1%}  {rate:>10,.0f} rows/s  " + (
            f"{elapsed:6.0f} s" if final else f"ETA {_clock(left)}"
        )
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        if final:
            self.phase = None
            self.finished.add(phase)

    def end(self) -> None:
        if self.phase is not None and self.tty:
            self.stream.write("\n")
            self.stream.flush()
        self.phase = None


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def cmd_seed(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    bar = Bar()
    try:
        summary = seed(
            url,
            cases=args.cases,
            incidents=args.incidents,
            audit=args.audit,
            agencies=args.agencies,
            users=args.users,
            groups_per_agency=args.groups_per_agency,
            module=args.module,
            seed=args.seed,
            password=args.password,
            totp_secret=args.totp_secret,
            linked=args.linked,
            append=args.append,
            key_file=args.key_file,
            templates=args.templates,
            progress=None if args.quiet else bar,
            announce=None if args.quiet else say,
        )
    except SeedError as exc:
        raise CliError(str(exc)) from None
    finally:
        bar.end()
    if args.json:
        print(json.dumps(as_json(summary), indent=2))
    else:
        print(describe(summary))
    return 0


def as_json(s: SeedSummary) -> dict[str, Any]:
    return {
        "database": s.url,
        "module": s.module,
        "agencies": s.agencies,
        "groups": s.groups,
        "users": s.users,
        "cases": s.cases,
        "incidents": s.incidents,
        "links": s.links,
        "history": s.history,
        "steps": s.steps,
        "audit": s.audit,
        "password": s.password,
        "totp_secret": s.totp_secret,
        "second_factor_roles": s.second_factor_roles,
        "usernames": s.usernames,
        "seconds": {k: round(v, 3) for k, v in s.seconds.items()},
        "rates": {k: round(v, 1) for k, v in s.rates().items()},
    }


def describe(s: SeedSummary) -> str:
    rates = s.rates()
    lines = [
        f"seeded {s.url} ({s.module}):",
        f"  {s.agencies:,} agencies, {s.groups:,} groups, {s.users:,} users",
        f"  {s.cases:,} cases, {s.incidents:,} incidents ({s.links:,} linked to a case), "
        f"{s.history:,} history entries, {s.steps:,} workflow steps",
        f"  {s.audit:,} audit entries, chained",
        f"  records: {s.seconds.get('records', 0):.1f} s ({rates.get('records', 0):,.0f} records/s, "
        f"{rates.get('record_rows', 0):,.0f} rows/s); audit: {s.seconds.get('audit', 0):.1f} s "
        f"({rates.get('audit', 0):,.0f} rows/s)",
        "",
        f"every account's password: {s.password}",
    ]
    if s.second_factor_roles:
        lines.append(
            f"second factor of {', '.join(s.second_factor_roles)}: TOTP secret {s.totp_secret} "
            "(codes: an authenticator app, or pyotp.TOTP(secret).now())"
        )
    lines.append("accounts:")
    for role, names in s.usernames.items():
        shown = ", ".join(names[:3]) + (f", … {names[-1]}" if len(names) > 3 else "")
        lines.append(f"  {role:18} {len(names):>6,}  {shown}")
    return "\n".join(lines)


def _count(text: str) -> int:
    """A count: 50000, 50_000, 50k, 1.5M."""
    t = text.strip().lower().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if scale != 1 else t) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a count (e.g. 50000, 50k, 1.5M)") from None
    if value < 0 or value != int(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of 0 or more")
    return int(value)


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "seed",
        help="fill a database with realistic test data at scale (for benchmarks; never a real deployment)",
        description="Fill a database with realistic records of a module at bulk speed: agencies, groups, "
        "users of every role, cases and incidents with valid answers at every stage of their workflow, their "
        "history, and a chained audit log, sealed with the key file like the app's own. A new or outdated "
        "database is migrated first; one that already holds records is refused unless --append. Counts may "
        "be written 50000, 50k or 1.5M. See docs/operations.md, 'Test data at scale'.",
    )
    p.add_argument("--cases", type=_count, default=0, metavar="N", help="cases to add (default 0)")
    p.add_argument("--incidents", type=_count, default=0, metavar="M", help="incidents to add (default 0)")
    p.add_argument("--audit", type=_count, default=0, metavar="K", help="audit entries to add (default 0)")
    p.add_argument("--agencies", type=_count, default=50, help="agencies (default 50)")
    p.add_argument("--groups-per-agency", type=_count, default=4, metavar="G", help="groups of each agency (default 4)")
    p.add_argument("--users", type=_count, default=2000, help="users, over every role (default 2000)")
    p.add_argument(
        "--linked",
        type=float,
        default=0.6,
        metavar="SHARE",
        help="share of the incidents recorded from a case (default 0.6)",
    )
    p.add_argument(
        "--module",
        metavar="PATH",
        help="the module folder whose records are made (default: the GBV reference module shipped with Sanad)",
    )
    p.add_argument("--seed", type=int, default=1, help="the random seed: the same seed gives the same data (default 1)")
    p.add_argument(
        "--password", default=DEFAULT_PASSWORD, help=f"every account's password (default: {DEFAULT_PASSWORD})"
    )
    p.add_argument(
        "--totp-secret",
        default=DEFAULT_TOTP_SECRET,
        metavar="BASE32",
        help="the second factor set up for the roles that require one (default: a fixed secret, printed)",
    )
    p.add_argument("--append", action="store_true", help="add to a database that already holds records")
    p.add_argument(
        "--templates",
        type=_count,
        default=200,
        metavar="T",
        help="distinct answer sets checked per record type, each record making one its own (default 200)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON (usernames, password, rates)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $SANAD_DATABASE_URL, then the SQLite file `sanad serve` uses)",
    )
    p.add_argument(
        "--key-file",
        metavar="PATH",
        help="the key file that seals identifying answers (default: $SANAD_KEY_FILE, then sanad.key in the data "
        "folder; made on first use)",
    )
    p.set_defaults(func=cmd_seed)
