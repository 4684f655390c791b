"""User accounts, passwords (argon2id), sessions and sign-in throttling."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.language.model import Module
from engine.runtime.policy import Actor
from engine.service import audit
from engine.service.errors import BadRequest, Invalid, NotFound, Unauthorized
from engine.storage.models import Agency, Group, User, UserGroup
from engine.storage.models import Session as LoginSession

# Dummy hash verified when the user does not exist, so timing does not reveal which names exist.
_DUMMY = PasswordHasher().hash(secrets.token_urlsafe(16))


def hasher(cheap: bool = False) -> PasswordHasher:
    """argon2id; `cheap` (tests only) uses the smallest parameters."""
    return PasswordHasher.from_parameters(profiles.CHEAPEST) if cheap else PasswordHasher()


@dataclass(frozen=True)
class SignedIn:
    user: User
    session_id: str


def verify_password(ph: PasswordHasher, user: User | None, password: str) -> bool:
    try:
        return ph.verify(user.password_hash if user else _DUMMY, password) and user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def start_session(session: Session, user: User, ip: str | None) -> str:
    sid = secrets.token_urlsafe(32)
    t = audit.now()
    session.add(LoginSession(id=sid, user_id=user.id, created_at=t, last_seen_at=t, ip=ip))
    return sid


def resume_session(session: Session, sid: str, idle: timedelta) -> User | None:
    """The user of a live session, refreshing its last-seen time; None when ended or idle too long."""
    row = session.get(LoginSession, sid)
    if row is None or row.ended_at is not None:
        return None
    t = audit.now()
    last = row.last_seen_at if row.last_seen_at.tzinfo else row.last_seen_at.replace(tzinfo=t.tzinfo)
    if t - last > idle:
        row.ended_at = t
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    if (t - last).total_seconds() > 30:  # don't write on every request
        row.last_seen_at = t
    return user


def end_session(session: Session, sid: str) -> None:
    row = session.get(LoginSession, sid)
    if row is not None and row.ended_at is None:
        row.ended_at = audit.now()


def sign_in(
    session: Session, ph: PasswordHasher, username: str, password: str, ip: str | None, serves: Callable[[str], bool]
) -> tuple[User, str] | None:
    """Check a password and open a session: (user, session id), or None (audited either way). A
    user of a module this server does not serve cannot sign in."""
    user = find_user(session, username)
    ok = verify_password(ph, user, password)
    if not ok or user is None or user.disabled or not serves(user.module):
        audit.record(session, "login.failure", username=username, ip=ip)
        return None
    sid = start_session(session, user, ip)
    audit.record(session, "login.success", user=user, ip=ip)
    return user, sid


def profile(user: User) -> dict[str, Any]:
    """A user as the API shows them to themselves."""
    return {"username": user.username, "role": user.role, "module": user.module, "full_name": user.full_name}


def sign_out(session: Session, sid: str, ip: str | None) -> None:
    """End a session (audited when it was live)."""
    row = session.get(LoginSession, sid)
    user = session.get(User, row.user_id) if row is not None and row.ended_at is None else None
    end_session(session, sid)
    if user is not None:
        audit.record(session, "logout", user=user, ip=ip)


def session_user(session: Session, sid: str) -> User | None:
    """The user of a session that has not ended (without refreshing it)."""
    row = session.get(LoginSession, sid)
    return session.get(User, row.user_id) if row is not None and row.ended_at is None else None


def set_locale(user: User, locale: str) -> None:
    """Remember the user's language for their next pages (saved with the caller's transaction)."""
    user.locale = locale


@dataclass(frozen=True)
class Account:
    """A user account as `sanad users list` shows it."""

    username: str
    module: str
    role: str
    agency: str | None
    groups: tuple[str, ...]
    disabled: bool


def list_accounts(session: Session) -> list[Account]:
    agencies = {aid: code for aid, code in session.execute(select(Agency.id, Agency.code))}
    groups: dict[int, list[str]] = {}
    for uid, code in session.execute(select(UserGroup.user_id, Group.code).join(Group, Group.id == UserGroup.group_id)):
        groups.setdefault(uid, []).append(code)
    return [
        Account(
            u.username,
            u.module,
            u.role,
            agencies.get(u.agency_id) if u.agency_id is not None else None,
            tuple(groups.get(u.id, [])),
            u.disabled,
        )
        for u in session.scalars(select(User).order_by(User.username))
    ]


def group_ids(session: Session, user: User) -> frozenset[int]:
    return frozenset(session.scalars(select(UserGroup.group_id).where(UserGroup.user_id == user.id)))


def actor_for(session: Session, user: User, module: Module) -> Actor:
    role = module.roles.get(user.role)
    if role is None:
        raise Unauthorized(f"your role '{user.role}' no longer exists in the module '{module.id}'")
    return Actor(user.id, user.username, role, user.agency_id, group_ids(session, user))


def ensure_agency(session: Session, code: str) -> Agency:
    agency = session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        agency = Agency(code=code, name=code)
        session.add(agency)
        session.flush()
    return agency


def ensure_group(session: Session, code: str, agency: Agency | None) -> Group:
    """The agency's group with this code, created if new. Groups belong to one agency: (agency, code)
    is their identity, and a user joins only groups of their own agency."""
    if agency is None:
        raise Invalid(f"the group '{code}' needs an agency: a group is a team of one agency (add --agency)")
    group = session.scalar(select(Group).where(Group.agency_id == agency.id, Group.code == code))
    if group is not None:
        return group
    elsewhere = session.scalar(
        select(Agency.code).join(Group, Group.agency_id == Agency.id).where(Group.code == code).limit(1)
    )
    if elsewhere is not None:
        raise Invalid(
            f"the group '{code}' belongs to the agency '{elsewhere}', not '{agency.code}': a user joins only "
            f"groups of their own agency. Name this agency's team with a code of its own (e.g. "
            f"'{agency.code}_{code}'), or add the user to '{elsewhere}'"
        )
    group = Group(code=code, name=code, agency_id=agency.id)
    session.add(group)
    session.flush()
    return group


#: the password policy, the same for `sanad users add`, `sanad users reset-password` and the demo
MIN_PASSWORD_LENGTH = 10


def check_password(password: str) -> None:
    """Refuse a password the policy does not allow (Invalid, with the reason)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")


def end_sessions(session: Session, user: User) -> int:
    """End every live session of the user (their cookies stop working at once); how many ended."""
    t = audit.now()
    ended = 0
    for row in session.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    ):
        row.ended_at = t
        ended += 1
    return ended


def add_user(
    session: Session,
    ph: PasswordHasher,
    module: Module,
    username: str,
    password: str,
    role: str,
    agency: str | None = None,
    groups: list[str] | None = None,
    full_name: str | None = None,
    by: User | None = None,
) -> User:
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise Invalid("a user name is 1 to 100 characters without spaces")
    if role not in module.roles:
        raise Invalid(f"the module '{module.id}' has no role '{role}'; its roles are: {', '.join(module.roles)}")
    check_password(password)
    if find_user(session, username) is not None:
        raise BadRequest(f"there is already a user '{username}'")
    agency_row = ensure_agency(session, agency) if agency else None
    user = User(
        username=username,
        password_hash=ph.hash(password),
        module=module.id,
        role=role,
        agency_id=agency_row.id if agency_row else None,
        full_name=full_name,
        disabled=False,
        created_at=audit.now(),
    )
    session.add(user)
    session.flush()
    for code in groups or []:
        session.add(UserGroup(user_id=user.id, group_id=ensure_group(session, code, agency_row).id))
    audit.record(
        session, "user.add", user=by, username=by.username if by else "(command line)", target=username, role=role
    )
    return user


def disable_user(session: Session, username: str, by: User | None = None) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"there is no user '{username}'")
    user.disabled = True
    end_sessions(session, user)
    audit.record(session, "user.disable", user=by, username=by.username if by else "(command line)", target=username)
    return user


def reset_password(
    session: Session, ph: PasswordHasher, username: str, password: str, by: User | None = None
) -> tuple[User, int]:
    """Give an existing user a new password (same policy and hashing as `add_user`), end their live
    sessions and audit it: the user and how many sessions ended. A disabled account stays disabled."""
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"there is no user '{username}'")
    check_password(password)
    user.password_hash = ph.hash(password)
    ended = end_sessions(session, user)
    audit.record(
        session,
        "user.password_reset",
        user=by,
        username=by.username if by else "(command line)",
        target=username,
        sessions_ended=ended,
    )
    return user, ended
