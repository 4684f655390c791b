"""User accounts, passwords (argon2id), sessions, and signing in: a password, then a code from an
authenticator app for accounts that have one or whose role requires one (second_factor.py). The
password policy is in passwords.py; throttling in throttle.py (the web layer reserves attempts)."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import JSON, bindparam, func, select, type_coerce
from sqlalchemy.orm import Session

from engine.i18n import _
from engine.language.model import Module
from engine.runtime.policy import Actor
from engine.service import audit, passwords, second_factor
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


@functools.cache
def _session_query(dialect: str) -> Any:
    """A session (`:sid`), its user and the ids of their groups as a JSON list, built once."""
    groups = type_coerce(
        select(
            func.json_agg(UserGroup.group_id) if dialect == "postgresql" else func.json_group_array(UserGroup.group_id)
        )
        .where(UserGroup.user_id == User.id)
        .scalar_subquery(),
        JSON,
    )
    return (
        select(LoginSession, User, groups)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.id == bindparam("sid"))
    )


def resume_session(session: Session, sid: str, idle: timedelta) -> User | None:
    """The user of a live session, refreshing its last-seen time; None when ended or idle too long."""
    # the session, its user and their groups in one query: this runs on every request
    found = session.execute(_session_query(session.get_bind().dialect.name), {"sid": sid}).first()
    if found is None:
        return None
    row: LoginSession = found[0]
    user: User = found[1]
    # the groups as they are now, for the rest of this unit of work (see group_ids)
    session.info[_GROUPS] = (user.id, frozenset(int(g) for g in found[2] or ()))
    if row.ended_at is not None:
        return None
    t = audit.now()
    last = row.last_seen_at if row.last_seen_at.tzinfo else row.last_seen_at.replace(tzinfo=t.tzinfo)
    if t - last > idle:
        row.ended_at = t
        return None
    if user.disabled:
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
    """Password-only sign-in: (user, session id), or None (audited either way). A user of a module
    this server does not serve cannot sign in, nor can an account with a second factor (it signs in
    through `password_step` and `code_step`). This does not know the roles: the web app signs in
    through `password_step`, which also sends users whose role requires a second factor to set one up."""
    user = find_user(session, username)
    ok = verify_password(ph, user, password)
    if not ok or user is None or user.disabled or not serves(user.module) or second_factor.enabled(user):
        audit.record(session, "login.failure", username=username, ip=ip)
        return None
    sid = start_session(session, user, ip)
    audit.record(session, "login.success", user=user, ip=ip)
    return user, sid


# -- signing in with a second factor ---------------------------------------------------------------------
#: what comes after a right password: the code of the account's app, or setting one up
CODE, ENROL = "code", "enrol"


@dataclass(frozen=True)
class Attempt:
    """What one step of a sign-in came to. `session_id`: signed in. `then`: the password was right and
    the sign-in goes on with a code (CODE) or by setting up a second factor (ENROL). `refused`: the
    code was `wrong` or already `used`, or the sign-in `expired` (the account changed meanwhile)."""

    user_id: int | None = None
    username: str | None = None
    module: str | None = None
    session_id: str | None = None
    then: str | None = None
    refused: str | None = None
    fingerprint: str | None = None
    recovery_left: int | None = None
    profile: dict[str, Any] | None = None


def requires_second_factor(user: User, module: Module) -> bool:
    """Does the user's role require a second factor (roles.yaml `second_factor: required`)?"""
    role = module.roles.get(user.role)
    return role is not None and role.second_factor_required


def second_factor_missing(user: User, module: Module) -> bool:
    """The user's role requires a second factor and the account has none set up yet."""
    return requires_second_factor(user, module) and not second_factor.enabled(user)


def fingerprint(user: User) -> str:
    """A short digest of what a half-finished sign-in relies on (the password, the second factor,
    the account being enabled): a change to any of them voids it."""
    raw = f"{user.id}|{user.password_hash}|{user.totp_enabled_at}|{user.disabled}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _opened(session: Session, user: User, ip: str | None, **details: Any) -> Attempt:
    sid = start_session(session, user, ip)
    audit.record(session, "login.success", user=user, ip=ip, **details)
    return Attempt(user.id, user.username, user.module, session_id=sid, profile=profile(user))


def password_step(
    session: Session,
    ph: PasswordHasher,
    username: str,
    password: str,
    ip: str | None,
    module_of: Callable[[str], Module | None],
) -> Attempt:
    """The first step: the password. A wrong one (or a disabled account, or one of a module this
    server does not serve) is an empty Attempt, audited as login.failure. An account without a
    second factor whose role does not require one is signed in; otherwise the Attempt says what
    comes next (no session yet)."""
    user = find_user(session, username)
    ok = verify_password(ph, user, password)
    module = module_of(user.module) if user is not None else None
    if not ok or user is None or user.disabled or module is None:
        audit.record(session, "login.failure", username=username, ip=ip)
        return Attempt()
    if second_factor.enabled(user):
        then = CODE
    elif requires_second_factor(user, module):
        then = ENROL
    else:
        return _opened(session, user, ip)
    return Attempt(user.id, user.username, user.module, then=then, fingerprint=fingerprint(user))


def locked_user(session: Session, user_id: int) -> User | None:
    """The account's row, read afresh and locked until the transaction ends (PostgreSQL; SQLite
    has one writer at a time): two requests cannot both spend the same code."""
    return session.scalar(
        select(User).where(User.id == user_id).with_for_update().execution_options(populate_existing=True)
    )


def code_step(
    session: Session, ph: PasswordHasher, user_id: int, expected: str | None, code: str, ip: str | None
) -> Attempt:
    """The second step: a code of the account's app, or one of its recovery codes. `expected` is
    the fingerprint the first step gave (None: the caller checked the password in this same
    request). Accepted: signed in (a recovery code used is audited, with how many are left). Refused:
    audited as login.second_factor_failure."""
    user = locked_user(session, user_id)
    if user is None or user.disabled or not second_factor.enabled(user):
        return Attempt(refused="expired")
    if expected is not None and not hmac_equal(fingerprint(user), expected):
        return Attempt(refused="expired")
    verdict = second_factor.check(ph, user, code)
    if not verdict.ok:
        audit.record(session, "login.second_factor_failure", user=user, ip=ip, reason=verdict.outcome)
        return Attempt(user.id, user.username, user.module, refused=verdict.outcome, fingerprint=fingerprint(user))
    if verdict.outcome == "recovery":
        audit.record(session, "login.recovery_code", user=user, ip=ip, recovery_codes_left=verdict.recovery_left)
        opened = _opened(session, user, ip, second_factor="recovery_code")
        return replace(opened, recovery_left=verdict.recovery_left)
    return _opened(session, user, ip, second_factor="totp")


def hmac_equal(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())


def enrolment_secret(session: Session, user_id: int, expected: str | None = None) -> tuple[User, str] | None:
    """The account and the secret it is setting up (made the first time); None when the account
    cannot enrol now (gone, disabled, already set up, or changed since `expected`)."""
    user = locked_user(session, user_id)
    if user is None or user.disabled or second_factor.enabled(user):
        return None
    if expected is not None and not hmac_equal(fingerprint(user), expected):
        return None
    return user, second_factor.pending_secret(user)


def confirm_enrolment(
    session: Session, ph: PasswordHasher, user_id: int, code: str, ip: str | None, expected: str | None = None
) -> tuple[Attempt, list[str]]:
    """Confirm the secret being set up with a first code of the app: it becomes active, and the
    recovery codes (returned in clear, to show once) are made; audited as second_factor.enrol.
    `expected` (the fingerprint of a sign-in's first step): the user is signed in at the same time.
    A wrong code: `refused`, nothing changes."""
    found = enrolment_secret(session, user_id, expected)
    if found is None:
        return Attempt(refused="expired"), []
    user, _secret = found
    verdict = second_factor.check(ph, user, code, recovery=False)
    if not verdict.ok:
        audit.record(session, "second_factor.enrol_failure", user=user, ip=ip, reason=verdict.outcome)
        return Attempt(user.id, user.username, user.module, refused=verdict.outcome), []
    codes = second_factor.activate(ph, user)
    audit.record(session, "second_factor.enrol", user=user, ip=ip, recovery_codes=len(codes))
    if expected is not None:
        return _opened(session, user, ip, second_factor="enrolled"), codes
    return Attempt(user.id, user.username, user.module), codes


def reset_second_factor(session: Session, username: str, by: User | None = None) -> tuple[User, bool, int]:
    """An administrator removes a user's second factor (a lost phone): their app's codes and recovery
    codes stop working, and their sessions end. At their next sign-in they set up a new one if their
    role requires it. The user, whether they had one, and how many sessions ended (audited)."""
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"there is no user '{username}'")
    had = second_factor.clear(user)
    ended = end_sessions(session, user)
    audit.record(
        session,
        "user.second_factor_reset",
        user=by,
        username=by.username if by else "(command line)",
        target=username,
        had_second_factor=had,
        sessions_ended=ended,
    )
    return user, had, ended


def profile(user: User) -> dict[str, Any]:
    """A user as the API shows them to themselves."""
    return {"username": user.username, "role": user.role, "module": user.module, "full_name": user.full_name}


@dataclass(frozen=True)
class Security:
    """What the account page shows: the second factor and the password's age."""

    second_factor: bool
    second_factor_since: str | None
    recovery_codes_left: int
    required: bool
    password_changed_at: str | None


def security(user: User, module: Module) -> Security:
    return Security(
        second_factor.enabled(user),
        audit.iso(user.totp_enabled_at),
        second_factor.recovery_left(user),
        requires_second_factor(user, module),
        audit.iso(user.password_changed_at),
    )


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
    second_factor: bool = False  # set up (a pending enrolment does not count)


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
            second_factor.enabled(u),
        )
        for u in session.scalars(select(User).order_by(User.username))
    ]


_GROUPS = "sanad_session_groups"


def group_ids(session: Session, user: User) -> frozenset[int]:
    """The user's groups: read with their session when this unit of work resumed one for them."""
    known = session.info.get(_GROUPS)
    if known is not None and known[0] == user.id:
        return frozenset(known[1])
    return frozenset(session.scalars(select(UserGroup.group_id).where(UserGroup.user_id == user.id)))


def actor_for(session: Session, user: User, module: Module) -> Actor:
    role = module.roles.get(user.role)
    if role is None:
        raise Unauthorized(f"your role '{user.role}' no longer exists in the module '{module.id}'")
    return Actor(user.id, user.username, role, user.agency_id, group_ids(session, user))


def find_agency(session: Session, code: str) -> Agency | None:
    return session.scalar(select(Agency).where(Agency.code == code))


def ensure_agency(session: Session, code: str) -> Agency:
    agency = find_agency(session, code)
    if agency is None:
        agency = Agency(code=code, name=code)
        session.add(agency)
        session.flush()
    return agency


_AGENCY_CODE_MAX = 64  # the column's length


def _agency_code(text: str, what: str) -> str:
    code = text.strip()
    if not code or len(code) > _AGENCY_CODE_MAX or any(c.isspace() for c in code):
        raise Invalid(f"{what} is 1 to {_AGENCY_CODE_MAX} characters without spaces")
    return code


def add_agency(
    session: Session, code: str, name: str | None = None, reporting_code: str | None = None, by: User | None = None
) -> Agency:
    """A new agency (`sanad agencies add`); its reporting code is the code it reports under in shared
    layouts (the Incident Recorder's reporting agency code), when it differs from its code."""
    code = _agency_code(code, "an agency code")
    if find_agency(session, code) is not None:
        raise BadRequest(f"there is already an agency '{code}'")
    agency = Agency(
        code=code,
        name=(name or "").strip()[:200] or code,
        reporting_code=_agency_code(reporting_code, "a reporting code") if reporting_code else None,
    )
    session.add(agency)
    session.flush()
    audit.record(
        session,
        "agency.add",
        user=by,
        username=by.username if by else "(command line)",
        agency=code,
        reporting_code=agency.reporting_code,
    )
    return agency


class Keep:
    """update_agency(reporting_code=KEEP): leave the reporting code as it is."""


KEEP = Keep()


def update_agency(
    session: Session,
    code: str,
    *,
    name: str | None = None,
    reporting_code: str | Keep | None = KEEP,
    by: User | None = None,
) -> Agency:
    """Rename an agency or set its reporting code (None: none, the exports write its code)."""
    agency = find_agency(session, code)
    if agency is None:
        raise NotFound(f"there is no agency '{code}'")
    changes: dict[str, Any] = {}
    if name is not None and name.strip():
        agency.name = name.strip()[:200]
        changes["name"] = agency.name
    if not isinstance(reporting_code, Keep):
        agency.reporting_code = _agency_code(reporting_code, "a reporting code") if reporting_code else None
        changes["reporting_code"] = agency.reporting_code
    if changes:
        audit.record(
            session, "agency.update", user=by, username=by.username if by else "(command line)", agency=code, **changes
        )
    return agency


def list_agencies(session: Session) -> list[Agency]:
    return list(session.scalars(select(Agency).order_by(Agency.code)))


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


#: the password policy (passwords.py), the same for `sanad users add`, `sanad users reset-password`,
#: the password change page and the demo: at least this long, not among the 100,000 most common
MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH


def check_password(password: str, username: str | None = None) -> None:
    """Refuse a password the policy does not allow (Invalid, with the reason)."""
    passwords.check(password, username)


def end_sessions(session: Session, user: User, keep: str | None = None) -> int:
    """End every live session of the user but `keep` (their cookies stop working at once); how many ended."""
    t = audit.now()
    ended = 0
    for row in session.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    ):
        if row.id == keep:
            continue
        row.ended_at = t
        ended += 1
    return ended


def change_password(
    session: Session, ph: PasswordHasher, user: User, current: str, new: str, keep: str | None, ip: str | None
) -> int:
    """The signed-in user changes their own password: the current one first, then the policy. Every
    other session of theirs ends (`keep`, the one they use, stays); audited as user.password_change.
    How many sessions ended."""
    if not verify_password(ph, user, current):
        raise Invalid(_("The current password is not right."), field="current")
    check_password(new, user.username)
    if verify_password(ph, user, new):
        raise Invalid(_("the new password must differ from the current one"), field="new")
    user.password_hash = ph.hash(new)
    user.password_changed_at = audit.now()
    ended = end_sessions(session, user, keep=keep)
    audit.record(session, "user.password_change", user=user, ip=ip, sessions_ended=ended)
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
    check_password(password, username)
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
        password_changed_at=audit.now(),
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
    check_password(password, username)
    user.password_hash = ph.hash(password)
    user.password_changed_at = audit.now()
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
