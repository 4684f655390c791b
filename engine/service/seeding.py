"""Demo data in a database: the module's demo agency, an account per role, and its people's records,
each walked along its path through the module's workflow by those accounts.

Everything goes through the same use cases as the web app (create, update, transition, refer,
assign), acting as the demo users, so each record has a real history, approvals by a supervisor,
referrals and audit entries, and every answer passed the same validation as answers typed in the
browser. Each person's records are written in their own transaction. Only the passwords are random.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.diagnostics import Position, Report, display_path
from engine.language.answers import ROW_ID
from engine.language.demo import Account, Demo, DemoPath, Person, read_demo, resolve_dates
from engine.language.model import FieldScope, Module, RecordType
from engine.runtime.registry import Registry
from engine.service import accounts, assignments, records, referrals, transitions
from engine.service.context import Context
from engine.service.database import Database
from engine.service.errors import ServiceError
from engine.storage.models import Record, User

DEMO_IP = "demo"


class DemoError(Exception):
    """The demo cannot be seeded; the message says why and what to do."""


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    password: str
    label: str
    #: the role requires a second factor: the account sets one up (an authenticator app) at its first
    #: sign-in, like any account of that role; the demo makes none in advance
    second_factor: bool = False


def modules_with_demo(registry: Registry) -> list[str]:
    """The ids of the served modules that have demo data."""
    return [m.id for m in registry.modules.values() if read_demo(m, Report()) is not None]


def seed(
    database: Database,
    registry: Registry,
    module_id: str | None = None,
    *,
    limit: int | None = None,
    cheap_hashing: bool = False,
    progress: Callable[[int, int], Any] | None = None,
) -> list[DemoAccount]:
    """Fill an empty database with the module's demo (its first `limit` people); the accounts made,
    with their passwords (shown once, never stored in clear)."""
    module = registry.module(module_id) if module_id else next(iter(registry.modules.values()), None)
    if module is None:
        raise DemoError(f"there is no module '{module_id}' (loaded: {', '.join(registry.modules) or 'none'})")
    report = Report()
    demo = read_demo(module, report)
    if demo is None:
        problems = [d.format() for d in report.sorted() if d.severity == "error"]
        raise DemoError(
            "\n".join(problems) + f"\nthe demo data of '{module.id}' has errors; run 'sanad validate {module.path}'"
            if problems
            else f"the module '{module.id}' has no demo data (a demo/ folder; see docs/definitions.md)"
        )
    with database.transaction() as session:
        if session.scalar(select(User.id).limit(1)) is not None or session.scalar(select(Record.id).limit(1)):
            raise DemoError("the demo needs an empty database: this one already holds users or records")
    made = _add_accounts(database, module, demo, cheap_hashing)
    walker = _Walker(module, registry, demo, date.today())
    people = demo.people[:limit] if limit is not None else demo.people
    for n, person in enumerate(people, 1):
        try:
            with database.transaction() as session:
                record_id = walker.walk(session, person, None)
            for child in person.linked:
                with database.transaction() as session:
                    walker.walk(session, child, record_id)
        except ServiceError as exc:
            details = "; ".join(f"{k}: {v}" for k, v in exc.details.items())
            at = walker.at
            where = f"{display_path(at.file)}:{at.line}:{at.column}: " if at is not None else ""
            raise DemoError(
                f"{where}the demo step failed: {exc.message}" + (f" ({details})" if details else "")
            ) from exc
        if progress is not None:
            progress(n, len(people))
    return made


def account_plan(module: Module, demo: Demo) -> list[tuple[str, str, str | None, str]]:
    """(username, role, group code or None, label) of every demo account: one per role, one per
    group for roles scoped to their own records or a group (caseworker, caseworker2, …)."""
    plan: list[tuple[str, str, str | None, str]] = []
    for role in module.roles.values():
        if role.scope in ("own", "group"):
            for i, (code, name) in enumerate(demo.groups):
                username = role.id if i == 0 else f"{role.id}{i + 1}"
                plan.append((username, role.id, code, f"{role.label}, {name.lower()}"))
        else:
            plan.append((role.id, role.id, None, f"{role.label}, whole agency"))
    return plan


def _add_accounts(database: Database, module: Module, demo: Demo, cheap: bool) -> list[DemoAccount]:
    ph = accounts.hasher(cheap)
    out = []
    with database.transaction() as session:
        agency = accounts.ensure_agency(session, demo.agency_code)
        agency.name = demo.agency_name
        for code, name in demo.groups:
            accounts.ensure_group(session, code, agency).name = name
        for username, role, group, label in account_plan(module, demo):
            password = secrets.token_urlsafe(12)
            accounts.add_user(
                session,
                ph,
                module,
                username,
                password,
                role,
                demo.agency_code,
                [group] if group else [],
                full_name=f"Demo {label}",
            )
            out.append(DemoAccount(username, role, password, label, module.roles[role].second_factor_required))
    return out


def _row_ids(scope: FieldScope, answers: dict[str, Any], seed: str) -> dict[str, Any]:
    """Subform rows get ids derived from the person and the row's place, so the demo is the same
    every time it is seeded (the same row keeps its id when a later step fills the form again)."""
    out = dict(answers)
    for key, value in answers.items():
        f = scope.fields.get(key)
        if f is not None and f.subform is not None and isinstance(value, list):
            out[key] = [
                {ROW_ID: hashlib.sha1(f"{seed}:{key}:{i}".encode()).hexdigest()[:12], **row}
                if isinstance(row, dict) and ROW_ID not in row
                else row
                for i, row in enumerate(value)
            ]
    return out


class _Walker:
    """Takes one person's record along its path, acting as the demo accounts."""

    def __init__(self, module: Module, registry: Registry, demo: Demo, today: date) -> None:
        self.module, self.demo, self.today = module, demo, today
        self.policy = registry.policies[module.id]
        self.usernames = {(role, group): username for username, role, group, _ in account_plan(module, demo)}
        self.at: Position | None = None  # the step being taken, for error messages

    def username(self, account: Account, group: str) -> str:
        role = self.module.roles[account.role]
        if role.scope in ("own", "group"):
            return self.usernames[(role.id, account.group or group)]
        return self.usernames[(role.id, None)]

    def ctx(self, session: Session, username: str) -> Context:
        user = accounts.find_user(session, username)
        assert user is not None, username
        return Context(
            session, user, accounts.actor_for(session, user, self.module), self.module, self.policy, ip=DEMO_IP
        )

    def owner(self, rt: RecordType) -> Account:
        role = next(r.id for r in self.module.roles.values() if r.can(f"{rt.id}.create"))
        return Account(role)

    def walk(self, session: Session, person: Person, link_to: str | None) -> str:
        path: DemoPath = self.demo.paths[person.path]
        rt = self.module.record_types[path.record_type]
        owner = self.owner(rt)
        used = dict.fromkeys(person.answers, 0)
        record_id: str | None = None
        version = 0

        def as_(account: Account | None) -> Context:
            return self.ctx(session, self.username(account or owner, person.group))

        for step in path.steps:
            self.at = step.pos
            ctx = as_(step.by)
            data: dict[str, Any] = {}
            if step.action == "fill":
                for fid in step.forms:
                    sets = person.answers.get(fid, ())
                    if used.get(fid, 0) < len(sets):
                        data.update(sets[used[fid]])
                        used[fid] += 1
            elif step.action == "answers":
                data = dict(step.answers)
            data = _row_ids(rt.scope, resolve_dates(rt.scope, data, self.today), f"{person.pos.line}")
            if record_id is None:  # the first step creates the record (with its answers, if it fills)
                self.at = person.pos
                view, _ = records.create(
                    as_(None), rt.id, data if step.action in ("fill", "answers") else {}, None, link_to
                )
                record_id, version = view["id"], view["version"]
                if step.action in ("fill", "answers"):
                    continue
                self.at = step.pos
            if step.action in ("fill", "answers"):
                if data:
                    version = records.update(ctx, rt.id, record_id, version, data)["version"]
            elif step.action == "step":
                assert step.transition is not None
                view = transitions.transition(ctx, rt.id, record_id, step.transition, step.comment, None)
                version = view["version"]
            elif step.action == "refer":
                assert step.to is not None
                to = self.username(step.to, person.group)
                view = referrals.refer(
                    ctx, rt.id, record_id, step.transition, to, list(step.forms), step.comment, step.override_reason
                )
                version = view["version"]
                if step.answer is not None:
                    recipient = self.ctx(session, to)
                    pending = [
                        r["id"]
                        for r in referrals.referrals_for(recipient)
                        if r["record_id"] == record_id and r["status"] == "pending"
                    ]
                    referrals.respond(recipient, pending[0], step.answer == "accept", step.answer_comment)
            elif step.action == "assign":
                assert step.to is not None
                view = assignments.assign(ctx, rt.id, record_id, self.username(step.to, person.group), step.comment)
                version = view["version"]
        if record_id is None:  # a path without steps: a record with no answers yet
            self.at = person.pos
            view, _ = records.create(as_(None), rt.id, {}, None, link_to)
            record_id = view["id"]
        return record_id
