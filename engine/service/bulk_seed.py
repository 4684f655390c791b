"""Test data at scale: fill a database with realistic records of a module, at bulk speed.

`sanad seed` (engine/cli/seed.py) and benchmarks use it; the demo (`service.seeding`) is the other
kind of seeding: a few records walked through the use cases one by one. Here the rows are written
directly, as the app itself stores them, millions at a time:

- agencies, groups (`groups_per_agency` per agency) and users with the module's roles: one user of
  each module-wide role, one of each agency-wide role per agency, one of each group-wide role per
  group, and the rest of `users` in the roles scoped to their own records (caseworkers), spread over
  the groups. User names are the role and a number (`caseworker1`, `supervisor12`, `cm_manager3`,
  …; with `append`, a suffix `-2`, `-3`, … when those names are taken); every account has the same
  `password` (argon2-hashed once), and the accounts of roles requiring a second factor have one set
  up, with the same `totp_secret` (an authenticator app, or `pyotp.TOTP(secret).now()`, gives
  their codes);
- `cases` records of the type `case` and `incidents` of the type `incident`, `linked` of the
  incidents recorded from a case (a record link, the case's owner and its code: `seed: codes` in the
  module's demo data names the fields that identify a record); answers valid
  for the module (see service.bulk_answers), stages and history from walks along the workflow,
  owners spread over the users who may create them, created over five years up to now, short ids,
  a history entry for the creation and one per step taken, and the steps' log;
- `audit` audit entries (reads, lists, saves, steps, sign-ins) chained after the log's end exactly
  as the app chains them (`storage.chain`: `sanad audit verify` passes);
- direct answers, their history and comments sealed with the database's key file, blind indexes for
  the listed direct answers, the key recorded (`storage.sealing`): the app lists, opens, searches and
  saves the records as its own.

The Python API (stable; benchmarks import it):

    from engine.service.bulk_seed import seed
    summary = seed("postgresql+psycopg://…/db", cases=50_000, incidents=100_000, audit=1_000_000,
                   agencies=50, users=2000, progress=lambda phase, done, total: …)
    summary.usernames["caseworker"][0], summary.password, summary.totp_secret, summary.rates()

`seed` migrates a new or outdated database first, refuses one that already holds records unless
`append`, and raises `SeedError` with a message for the person running it. PostgreSQL is written
with COPY, SQLite with executemany, in transactions of `BATCH` records; the database is analysed
at the end. `progress(phase, done, total)` is called every few thousand rows (phases: "records",
"audit").
"""

from __future__ import annotations

import random
import time
import uuid
from array import array
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.diagnostics import Report
from engine.language import packaged
from engine.language.demo import read_demo
from engine.language.model import Module, RecordType
from engine.runtime.registry import DefinitionsError, Registry
from engine.service import accounts
from engine.service.bulk_answers import Template, TemplateError, Templates, Words
from engine.service.bulk_sink import Sink, as_json
from engine.service.database import Database, DatabaseUnavailable, display_url
from engine.storage import chain, sealing
from engine.storage.keys import KeyFileError, Keyring
from engine.storage.models import TransitionLog, User

Progress = Callable[[str, int, int], Any]

DEFAULT_PASSWORD = "sanad-seed-password-2026"
#: the second factor of every seeded account that needs one (base32; codes: pyotp.TOTP(secret).now())
DEFAULT_TOTP_SECRET = "SANADSEEDTOTPSECRETFORBENCHMARKS"
YEARS = 5
BATCH = 20_000  # records per transaction (with their history, steps and links)
AUDIT_BATCH = 50_000  # audit entries per COPY / executemany
BIG_TABLES = ("records", "record_history", "transitions", "record_links", "audit_log")
_SHORT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # as service.records
_SHORT_SPACE = len(_SHORT_ALPHABET) ** 6
_SHORT_STEP = 387_420_489  # 3**18: coprime with 31**6, so i -> i * step is a permutation

RECORD_COLUMNS = (
    "id",
    "short_id",
    "module",
    "record_type",
    "stage",
    "owner_id",
    "agency_id",
    "group_id",
    "created_by",
    "created_at",
    "updated_by",
    "updated_at",
    "definitions_version",
    "version",
    "data",
    "saved_forms",
    "key_id",
    "blind",
    "last_step",
)
HISTORY_COLUMNS = ("record_id", "version", "user_id", "at", "action", "changes")
STEP_COLUMNS = ("record_id", "transition", "from_stage", "to_stage", "user_id", "at", "comment", "override_reason")
LINK_COLUMNS = ("from_id", "to_id", "kind", "created_by", "created_at")
AUDIT_COLUMNS = (
    "at",
    "user_id",
    "username",
    "ip",
    "action",
    "record_id",
    "details",
    "agency_id",
    "record_agency_id",
    "seq",
    "prev_hash",
    "hash",
)


class SeedError(Exception):
    """The data cannot be seeded; the message says why and what to do."""


@dataclass
class SeedSummary:
    url: str  # without a password
    module: str
    agencies: int = 0
    groups: int = 0
    users: int = 0
    cases: int = 0
    incidents: int = 0
    links: int = 0
    history: int = 0
    steps: int = 0
    audit: int = 0
    password: str = DEFAULT_PASSWORD
    totp_secret: str = DEFAULT_TOTP_SECRET
    #: role -> the user names made with it, in order (caseworker1, caseworker2, …)
    usernames: dict[str, list[str]] = field(default_factory=dict)
    #: roles whose accounts have a second factor set up (codes from `totp_secret`)
    second_factor_roles: list[str] = field(default_factory=list)
    #: seconds spent per phase: templates, accounts, records, audit, analyse
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return self.cases + self.incidents

    def rates(self) -> dict[str, float]:
        """Rows per second of the records phase (records, history, steps and links) and the audit phase."""
        out = {}
        if self.seconds.get("records"):
            out["records"] = self.records / self.seconds["records"]
            out["record_rows"] = (self.records + self.history + self.steps + self.links) / self.seconds["records"]
        if self.seconds.get("audit"):
            out["audit"] = self.audit / self.seconds["audit"]
        return out


# -- who ----------------------------------------------------------------------------------------------------
@dataclass
class _People:
    ids: list[int]  # user id by index
    names: list[str]
    roles: list[str]
    agency: list[int]
    group: list[int | None]
    by_group_role: dict[tuple[int, str], list[int]]
    by_agency_role: dict[tuple[int, str], list[int]]
    by_role: dict[str, list[int]]


def _plan(module: Module, agencies: int, groups: int, users: int) -> list[tuple[str, int, int | None]]:
    """(role, agency number, group number or None) of every account to make."""
    roles = list(module.roles.values())
    everywhere = [r.id for r in roles if r.scope == "all"]
    per_agency = [r.id for r in roles if r.scope == "agency"]
    per_group = [r.id for r in roles if r.scope == "group"]
    own = [r.id for r in roles if r.scope == "own"] or per_group
    need = len(everywhere) + agencies * len(per_agency) + agencies * groups * (len(per_group) + 1)
    if users < need:
        raise SeedError(
            f"{users} users are too few for {agencies} agencies of {groups} groups: each agency needs "
            f"{', '.join(per_agency) or 'no one'}, each group {', '.join([*per_group, own[0]])}; give --users {need} "
            "or more, or fewer agencies or groups"
        )
    plan: list[tuple[str, int, int | None]] = [(r, 0, None) for r in everywhere]
    for a in range(agencies):
        plan += [(r, a, None) for r in per_agency]
        for g in range(groups):
            plan += [(r, a, g) for r in per_group]
    rest = users - len(plan)
    slots = [(a, g) for a in range(agencies) for g in range(groups)]
    for i in range(rest):
        a, g = slots[i % len(slots)]
        plan.append((own[i % len(own)], a, g))
    return plan


# -- ids ------------------------------------------------------------------------------------------------------
def _short_id(prefix: str, n: int) -> str:
    n = (n * _SHORT_STEP + 12_345) % _SHORT_SPACE
    chars = []
    for _ in range(6):
        n, r = divmod(n, 31)
        chars.append(_SHORT_ALPHABET[r])
    return prefix + "-" + "".join(chars)


class _ShortIds:
    def __init__(self, prefix: str, taken: set[str], start: int) -> None:
        self.prefix, self.taken, self.n = prefix, taken, start

    def next(self) -> str:
        while True:
            s = _short_id(self.prefix, self.n)
            self.n += 1
            if s not in self.taken:
                return s


# -- the seeder ------------------------------------------------------------------------------------------------
def seed(
    url: str,
    *,
    cases: int,
    incidents: int,
    audit: int,
    agencies: int = 50,
    users: int = 2000,
    groups_per_agency: int = 4,
    module: str | None = None,
    seed: int = 1,
    password: str = DEFAULT_PASSWORD,
    totp_secret: str = DEFAULT_TOTP_SECRET,
    linked: float = 0.6,
    append: bool = False,
    key_file: str | None = None,
    templates: int = 200,
    progress: Progress | None = None,
    announce: Callable[[str], Any] | None = None,
) -> SeedSummary:
    """Fill the database at `url` (see the module's docstring); `module` is a module folder (default:
    the GBV reference module shipped with Sanad)."""
    if min(cases, incidents, audit) < 0 or agencies < 1 or groups_per_agency < 1 or not 0 <= linked <= 1:
        raise SeedError(
            "the counts are whole numbers from 0, with at least one agency and one group, and --linked from 0 to 1"
        )
    mod = _load(module)
    db = _open(url, key_file, announce)
    try:
        return _Seeder(db, mod, random.Random(seed), announce).run(
            cases=cases,
            incidents=incidents,
            audit=audit,
            agencies=agencies,
            users=users,
            groups=groups_per_agency,
            password=password,
            totp_secret=totp_secret,
            linked=linked,
            append=append,
            templates=templates,
            progress=progress,
        )
    finally:
        db.dispose()


def _load(path: str | None) -> Module:
    try:
        reg = Registry.load([path or packaged.reference_module()])
    except DefinitionsError as exc:
        raise SeedError("the definitions have errors:\n" + "\n".join(exc.lines)) from None
    found = next(iter(reg.modules.values()), None)
    if found is None:
        raise SeedError(f"there is no module in {path}")
    return found


def _open(url: str, key_file: str | None, announce: Callable[[str], Any] | None) -> Database:
    where = display_url(url)
    try:
        db = Database.open(url, key_file)
    except Exception as exc:
        raise SeedError(f"cannot open the database {where}: {str(exc).splitlines()[0]}") from None
    try:
        try:
            new = db.is_new()
            behind = not new and db.revision() != db.head()
        except Exception as exc:
            raise SeedError(f"cannot reach the database {where}: {str(exc).splitlines()[0]}") from None
        if new or behind:
            if announce is not None:
                announce(f"{'setting up' if new else 'migrating'} the database {where}")
            try:
                db.upgrade()
            except Exception as exc:
                raise SeedError(f"cannot migrate the database {where}: {str(exc).splitlines()[0]}") from None
        try:
            db.ready(create=False, announce=announce)
        except DatabaseUnavailable as exc:
            raise SeedError(str(exc)) from None
    except BaseException:
        db.dispose()
        raise
    return db


class _Seeder:
    def __init__(self, db: Database, module: Module, rng: random.Random, announce: Callable[[str], Any] | None):
        self.db, self.module, self.rng, self.announce = db, module, rng, announce
        try:
            self.ring: Keyring = db.key_source.ring()
        except KeyFileError as exc:
            raise SeedError(str(exc)) from None
        sealing.register(module)
        demo = read_demo(module, Report())
        self.words = Words(demo.seed if demo is not None else None)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.start = self.now - timedelta(days=365 * YEARS)
        # every record seeded: id (16 bytes each), agency, owner (index into people), created (seconds)
        self.ids = bytearray()
        self.agency = array("i")
        self.owner = array("i")
        self.created = array("d")
        self.kind = array("b")  # 0: a case, 1: an incident
        self.case_fields: set[str] = set()  # the fields of a case (a linked record takes its codes)
        self.base = 0  # records the database held before
        self.commit_batches = True  # commit every BATCH records (else once, at the end)
        self.time: Callable[[datetime], Any] = lambda t: t

    def say(self, message: str) -> None:
        if self.announce is not None:
            self.announce(message)

    def run(
        self,
        *,
        cases: int,
        incidents: int,
        audit: int,
        agencies: int,
        users: int,
        groups: int,
        password: str,
        totp_secret: str,
        linked: float,
        append: bool,
        templates: int,
        progress: Progress | None,
    ) -> SeedSummary:
        summary = SeedSummary(display_url(self.db.url), self.module.id, password=password, totp_secret=totp_secret)
        sink = Sink(self.db.engine)
        self.time = sink.time
        try:
            held = int(sink.execute("SELECT count(*) FROM records")[0][0])
            if held and not append:
                raise SeedError(
                    f"the database {summary.url} already holds {held:,} records: add --append to add to them, "
                    "or seed an empty database"
                )
            case_rt, incident_rt = self._types(cases, incidents)
            t0 = time.perf_counter()
            made: dict[str, Templates] = {}
            for rt, n in ((case_rt, cases), (incident_rt, incidents)):
                if n and rt is not None:
                    self.say(f"making {templates} answer templates for '{rt.id}'")
                    try:
                        made[rt.id] = Templates(self.module, rt, self.now.date(), self.rng.randrange(2**32), self.words)
                        made[rt.id].make(max(1, min(templates, n)))
                    except TemplateError as exc:
                        raise SeedError(str(exc)) from None
            summary.seconds["templates"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            people = self._accounts(sink, summary, agencies, groups, users, password, totp_secret)
            sink.commit()
            summary.seconds["accounts"] = time.perf_counter() - t0

            # PostgreSQL, a database without records: the secondary indexes of the big tables are dropped
            # and built again once the rows are in, all in one transaction (nothing is left half done)
            deferred = sink.defer_indexes(BIG_TABLES) if sink.postgres and not held else []
            self.commit_batches = not deferred
            t0 = time.perf_counter()
            self._records(sink, summary, people, made, case_rt, incident_rt, cases, incidents, linked, progress)
            summary.seconds["records"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            if audit:
                self._audit(sink, summary, people, audit, progress)
            summary.seconds["audit"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            if deferred:
                self.say(f"building {len(deferred)} indexes")
                for statement in deferred:
                    sink.execute(statement)
            sink.commit()
            self.db.answer_indexes([self.module], announce=self.say)  # reports' periods, searches: rows are in
            summary.seconds["indexes"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            self.say("analysing the tables")
            sink.execute("ANALYZE")
            sink.commit()
            summary.seconds["analyse"] = time.perf_counter() - t0
        except BaseException:
            sink.rollback()
            raise
        finally:
            sink.close()
        return summary

    def _types(self, cases: int, incidents: int) -> tuple[RecordType | None, RecordType | None]:
        types = self.module.record_types
        for name, n in (("case", cases), ("incident", incidents)):
            if n and name not in types:
                raise SeedError(
                    f"the module '{self.module.id}' has no record type '{name}' (it has {', '.join(types)}): "
                    f"give --{name}s 0"
                )
        return types.get("case"), types.get("incident")

    # -- accounts -------------------------------------------------------------------------------------
    def _accounts(
        self,
        sink: Sink,
        summary: SeedSummary,
        agencies: int,
        groups: int,
        users: int,
        password: str,
        totp_secret: str,
    ) -> _People:
        plan = _plan(self.module, agencies, groups, users)
        T = self.time
        self.say(f"adding {agencies} agencies, {agencies * groups} groups and {len(plan):,} users")
        tag = self._free_tag(sink)
        codes = [f"ngo{a + 1:02d}{tag}" for a in range(agencies)]
        sink.write("agencies", ("code", "name"), [(c, f"Organisation {a + 1:02d}{tag}") for a, c in enumerate(codes)])
        placeholders = ", ".join("?" for _ in codes)
        agency_id = {
            c: int(i) for i, c in sink.execute(f"SELECT id, code FROM agencies WHERE code IN ({placeholders})", codes)
        }
        group_rows = [
            (f"team_{g + 1}", f"Team {g + 1}", agency_id[codes[a]]) for a in range(agencies) for g in range(groups)
        ]
        sink.write("groups", ("code", "name", "agency_id"), group_rows)
        group_id = {
            (int(ag), str(code)): int(i)
            for i, code, ag in sink.execute(
                f"SELECT id, code, agency_id FROM groups WHERE agency_id IN ({placeholders})",
                [agency_id[c] for c in codes],
            )
        }
        need_code = {r.id for r in self.module.roles.values() if r.second_factor_required}
        summary.second_factor_roles = sorted(need_code)
        hashed = accounts.hasher().hash(password)
        counters: dict[str, int] = {}
        rows = []
        planned: list[tuple[str, str, int, int | None]] = []
        for role, a, g in plan:
            counters[role] = counters.get(role, 0) + 1
            name = f"{role}{counters[role]}{tag}"
            summary.usernames.setdefault(role, []).append(name)
            aid = agency_id[codes[a]]
            gid = group_id[(aid, f"team_{g + 1}")] if g is not None else None
            planned.append((name, role, aid, gid))
            secret = (
                self.ring.seal_text(totp_secret, sealing.text_place(User, "totp_secret", name))
                if role in need_code
                else None
            )
            rows.append(
                (
                    name,
                    hashed,
                    self.module.id,
                    role,
                    aid,
                    self.words.full_name(self.rng),
                    None,
                    False,
                    T(self.start),
                    T(self.start),
                    secret,
                    T(self.start) if secret else None,
                    None,
                    None,
                )
            )
        sink.write(
            "users",
            (
                "username",
                "password_hash",
                "module",
                "role",
                "agency_id",
                "full_name",
                "locale",
                "disabled",
                "created_at",
                "password_changed_at",
                "totp_secret",
                "totp_enabled_at",
                "totp_last_step",
                "recovery_codes",
            ),
            rows,
        )
        ids: dict[str, int] = {}
        for chunk in range(0, len(planned), 500):
            names = [p[0] for p in planned[chunk : chunk + 500]]
            marks = ", ".join("?" for _ in names)
            ids.update(
                {
                    str(n): int(i)
                    for i, n in sink.execute(f"SELECT id, username FROM users WHERE username IN ({marks})", names)
                }
            )
        sink.write(
            "user_groups",
            ("user_id", "group_id"),
            [(ids[name], gid) for name, _r, _a, gid in planned if gid is not None],
        )
        people = _People([], [], [], [], [], {}, {}, {})
        for k, (name, role, aid, gid) in enumerate(planned):
            people.ids.append(ids[name])
            people.names.append(name)
            people.roles.append(role)
            people.agency.append(aid)
            people.group.append(gid)
            if gid is not None:
                people.by_group_role.setdefault((gid, role), []).append(k)
            people.by_agency_role.setdefault((aid, role), []).append(k)
            people.by_role.setdefault(role, []).append(k)
        summary.agencies, summary.groups, summary.users = agencies, len(group_rows), len(planned)
        return people

    def _free_tag(self, sink: Sink) -> str:
        """'' on a database without our names; else the first free suffix '-2', '-3', …"""
        for k in range(1, 1000):
            tag = "" if k == 1 else f"-{k}"
            if not sink.execute("SELECT 1 FROM agencies WHERE code = ?", [f"ngo01{tag}"]):
                return tag
        raise SeedError("this database was seeded a thousand times already")

    # -- records --------------------------------------------------------------------------------------
    def _creators(self, people: _People, rt: RecordType) -> list[int]:
        out = [k for k, role in enumerate(people.roles) if self.module.roles[role].can(f"{rt.id}.create")]
        if not out:
            raise SeedError(f"no role of '{self.module.id}' may create a '{rt.id}': no one can own these records")
        return out

    def _records(
        self,
        sink: Sink,
        summary: SeedSummary,
        people: _People,
        made: dict[str, Templates],
        case_rt: RecordType | None,
        incident_rt: RecordType | None,
        cases: int,
        incidents: int,
        linked: float,
        progress: Progress | None,
    ) -> None:
        total = cases + incidents
        if not total:
            return
        self.say(f"writing {cases:,} cases and {incidents:,} incidents")
        if progress is not None:
            progress("records", 0, total)
        batch = _Batch()
        done = 0
        first_case = len(self.created)
        base = self.base = int(sink.execute("SELECT count(*) FROM records")[0][0])
        link_from_case = incident_rt is not None and case_rt is not None and "case" in incident_rt.recorded_from
        self.case_fields = set(case_rt.scope.fields) if case_rt is not None else set()

        def flush(final: bool = False) -> None:
            nonlocal done
            if batch.records or final:
                summary.history += len(batch.history)
                summary.steps += len(batch.steps)
                summary.links += len(batch.links)
                batch.write(sink)
                if self.commit_batches:
                    sink.commit()
                if progress is not None:
                    progress("records", done, total)

        for rt, n in ((case_rt, cases), (incident_rt, incidents)):
            if rt is None or not n:
                continue
            tpl = made[rt.id]
            taken = set()
            if base:
                taken = {
                    str(s)
                    for (s,) in sink.execute(
                        "SELECT short_id FROM records WHERE short_id LIKE ?", [rt.id[:1].upper() + "-%"]
                    )
                }
            shorts = _ShortIds(rt.id[:1].upper(), taken, base + len(self.created))
            creators = self._creators(people, rt)
            is_incident = rt is incident_rt
            n_cases = summary.cases
            for _i in range(n):
                parent = None
                if is_incident and link_from_case and n_cases and self.rng.random() < linked:
                    parent = first_case + self.rng.randrange(n_cases)
                self._record(batch, summary, people, tpl, rt, shorts, creators, parent, base + len(self.created))
                done += 1
                if rt is case_rt:
                    summary.cases += 1
                else:
                    summary.incidents += 1
                if len(batch.records) >= BATCH:
                    flush()
                elif progress is not None and done % 2000 == 0:
                    progress("records", done, total)
        flush(final=True)

    def _record(
        self,
        batch: _Batch,
        summary: SeedSummary,
        people: _People,
        tpl: Templates,
        rt: RecordType,
        shorts: _ShortIds,
        creators: list[int],
        parent: int | None,
        number: int,
    ) -> None:
        rng = self.rng
        span = (self.now - self.start).total_seconds()
        T = self.time
        if parent is not None:  # an incident recorded from a case: its owner, after it
            owner = self.owner[parent]
            after = self.created[parent]
            created_s = after + rng.random() * min(365 * 86400.0, span - after)
            parent_id = str(uuid.UUID(bytes=bytes(self.ids[parent * 16 : parent * 16 + 16])))
        else:
            owner = creators[rng.randrange(len(creators))]
            created_s = rng.random() * span * 0.999
            parent_id = None
        created = self.start + timedelta(seconds=created_s)
        t: Template = tpl.items[rng.randrange(len(tpl.items))]
        own: dict[str, Any] = {}
        for fid in self.words.codes:
            if fid in rt.scope.fields:
                # a record's code is its own; one recorded from a case carries the case's
                own[fid] = self.words.code(
                    fid, self.base + parent if parent is not None and fid in self.case_fields else number
                )
        plain = tpl.copy(t, rng, created.date(), own)
        rid_uuid = uuid.UUID(int=rng.getrandbits(128), version=4)
        rid, rid_raw = str(rid_uuid), rid_uuid.bytes
        spec = sealing.spec_for(self.module.id, rt.id)
        data = sealing.seal_answers(self.ring, spec, rid, plain)
        blind = sealing.blind_index(self.ring, spec, self.module.id, rt.id, plain)
        uid = people.ids[owner]
        # the history: the creation with every answer, then one entry per step of the walk
        changes = sealing.seal_changes(
            self.ring, spec, f"{rid}/h", [{"field": k, "old": None, "new": v} for k, v in plain.items()]
        )
        batch.history.append((rid, 1, uid, T(created), "create", as_json(changes)))
        at = created
        version = 1
        last_by = uid
        last_step = None  # the latest step that moved it (records.last_step)
        remaining = (self.now - created).total_seconds()
        gap = min(remaining, 200 * 86400.0) / (len(t.steps) + 1)
        for step in t.steps:
            at = at + timedelta(seconds=gap * (0.5 + rng.random()))
            if at > self.now:
                at = self.now
            actor = self._actor(people, owner, step.roles)
            by = people.ids[actor]
            version += 1
            batch.history.append(
                (
                    rid,
                    version,
                    by,
                    T(at),
                    "transition",
                    as_json([{"field": "(stage)", "old": step.from_stage, "new": step.to_stage}]),
                )
            )
            comment = (
                self.ring.seal_text(self.words.step_comment, sealing.text_place(TransitionLog, "comment", rid))
                if step.comment
                else None
            )
            batch.steps.append((rid, step.transition, step.from_stage, step.to_stage, by, T(at), comment, None))
            last_by = by
            if step.to_stage is not None:
                last_step = step.transition
        batch.records.append(
            (
                rid,
                shorts.next(),
                self.module.id,
                rt.id,
                t.stage,
                uid,
                people.agency[owner],
                people.group[owner],
                uid,
                T(created),
                last_by,
                T(at),
                self.module.version,
                version,
                as_json(data),
                as_json(t.saved_forms),
                self.ring.current,
                as_json(blind),
                last_step,
            )
        )
        if parent_id is not None:
            batch.links.append((parent_id, rid, rt.id, uid, T(created)))
        self.ids += rid_raw
        self.agency.append(people.agency[owner])
        self.owner.append(owner)
        self.created.append(created_s)
        self.kind.append(0 if rt.id == "case" else 1)

    def _actor(self, people: _People, owner: int, roles: tuple[str, ...]) -> int:
        """Who takes a step: the owner if their role may, else someone of their group, their agency,
        or anyone with a role that may."""
        if people.roles[owner] in roles:
            return owner
        group, agency = people.group[owner], people.agency[owner]
        for role in roles:
            found = (
                people.by_group_role.get((group, role)) if group is not None else None
            ) or people.by_agency_role.get((agency, role))
            if found:
                return found[self.rng.randrange(len(found))]
        for role in roles:
            if people.by_role.get(role):
                return people.by_role[role][0]
        return owner

    # -- the audit log --------------------------------------------------------------------------------
    def _audit(self, sink: Sink, summary: SeedSummary, people: _People, n: int, progress: Progress | None) -> None:
        self.say(f"writing {n:,} audit entries, chained")
        T = self.time
        if progress is not None:
            progress("audit", 0, n)
        rng = self.rng
        # lock the chain's end, as storage.chain does, and go on from it
        sink.execute("UPDATE audit_chain SET seq = seq WHERE id = 1")
        end = sink.execute("SELECT seq, hash FROM audit_chain WHERE id = 1")
        if not end:
            sink.execute("INSERT INTO audit_chain (id, seq, hash) VALUES (1, 0, '')")
            seq, prev = 0, ""
        else:
            seq, prev = int(end[0][0]), str(end[0][1])
        order = sorted(range(len(self.created)), key=self.created.__getitem__)
        created_sorted = [self.created[i] for i in order]
        span = (self.now - self.start).total_seconds()
        by_agency: dict[int, list[int]] = {}
        for k, a in enumerate(people.agency):
            by_agency.setdefault(a, []).append(k)
        actions = (
            ("record.read", 45),
            ("record.list", 22),
            ("record.update", 10),
            ("login.success", 10),
            ("record.create", 4),
            ("record.transition", 4),
            ("record.history", 3),
            ("logout", 1.5),
            ("login.failure", 0.5),
        )
        names, weights = zip(*actions, strict=True)
        picks = rng.choices(names, weights, k=min(n, 100_000))
        entry = _Entry()
        rows: list[tuple[Any, ...]] = []
        for i in range(n):
            offset = (i + rng.random()) * span / n
            at = self.start + timedelta(seconds=offset)
            action = picks[i % len(picks)]
            reachable = bisect_right(created_sorted, offset)
            record = (
                order[rng.randrange(reachable)]
                if reachable and action.startswith("record.") and action != "record.list"
                else None
            )
            if record is not None:
                user = self.owner[record] if rng.random() < 0.7 else self._colleague(by_agency, self.agency[record])
                rid: str | None = str(uuid.UUID(bytes=bytes(self.ids[record * 16 : record * 16 + 16])))
                record_agency: int | None = self.agency[record]
            else:
                if action.startswith("record.") and action != "record.list":
                    action = "record.list"
                user = rng.randrange(len(people.ids))
                rid, record_agency = None, None
            details = _details(action, rng, None if record is None else ("case", "incident")[self.kind[record]])
            seq += 1
            entry.seq = seq
            entry.at = at
            entry.user_id = None if action == "login.failure" else people.ids[user]
            entry.username = people.names[user]
            entry.ip = f"10.{user // 250 % 250}.{user % 250}.{rng.randrange(2, 250)}"
            entry.action = action
            entry.record_id = rid
            entry.agency_id = people.agency[user]
            entry.record_agency_id = record_agency
            entry.prev_hash = prev
            stored = sealing.seal_audit_details(self.ring, seq, details)
            prev = chain.entry_hash(self.ring, entry, stored)
            rows.append(
                (
                    T(at),
                    entry.user_id,
                    entry.username,
                    entry.ip,
                    action,
                    rid,
                    as_json(stored),
                    entry.agency_id,
                    record_agency,
                    seq,
                    entry.prev_hash,
                    prev,
                )
            )
            if len(rows) >= AUDIT_BATCH:
                sink.write("audit_log", AUDIT_COLUMNS, rows)
                rows = []
                summary.audit = i + 1
                if progress is not None:
                    progress("audit", i + 1, n)
        sink.write("audit_log", AUDIT_COLUMNS, rows)
        sink.execute("UPDATE audit_chain SET seq = ?, hash = ? WHERE id = 1", [seq, prev])
        if self.commit_batches:
            sink.commit()
        summary.audit = n
        if progress is not None:
            progress("audit", n, n)

    def _colleague(self, by_agency: dict[int, list[int]], agency: int) -> int:
        found = by_agency.get(agency) or [0]
        return found[self.rng.randrange(len(found))]


class _Entry:
    """What the chain's hash covers of an entry (storage.chain.content reads these attributes)."""

    __slots__ = (
        "action",
        "agency_id",
        "at",
        "ip",
        "prev_hash",
        "record_agency_id",
        "record_id",
        "seq",
        "user_id",
        "username",
    )

    def __init__(self) -> None:
        self.seq: int = 0
        self.at: datetime = datetime.now(UTC)
        self.user_id: int | None = None
        self.username: str | None = None
        self.ip: str | None = None
        self.action: str = ""
        self.record_id: str | None = None
        self.agency_id: int | None = None
        self.record_agency_id: int | None = None
        self.prev_hash: str = ""


def _details(action: str, rng: random.Random, record_type: str | None) -> dict[str, Any]:
    """The details the app writes with each action (service.records, listing, transitions, accounts)."""
    if action == "record.list":
        return {
            "record_type": rng.choice(("case", "case", "incident")),
            "page": rng.choice((1, 1, 1, 2, 3)),
            "count": 50,
            "q": None,
            "filters": None,
            "stage": None,
            "owner": None,
            "created_from": None,
            "created_to": None,
        }
    if action == "record.update":
        return {"fields": ["risk_level"], "version": rng.randrange(2, 12)}
    if action == "record.create":
        return {"record_type": record_type, "linked_to": None}
    if action == "record.transition":
        return {
            "transition": "start_assessment",
            "from_stage": "engagement",
            "to_stage": "assessment",
            "override": False,
        }
    return {}


@dataclass
class _Batch:
    records: list[tuple[Any, ...]] = field(default_factory=list)
    history: list[tuple[Any, ...]] = field(default_factory=list)
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    links: list[tuple[Any, ...]] = field(default_factory=list)

    def write(self, sink: Sink) -> None:
        sink.write("records", RECORD_COLUMNS, self.records)
        sink.write("record_history", HISTORY_COLUMNS, self.history)
        sink.write("transitions", STEP_COLUMNS, self.steps)
        sink.write("record_links", LINK_COLUMNS, self.links)
        for rows in (self.records, self.history, self.steps, self.links):
            rows.clear()
