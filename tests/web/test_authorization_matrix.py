"""The authorization matrix, generated from each module's roles.yaml.

For every role × record type × relation to the record (own, same group, same agency, another
agency) × action (create, list, read, write), the expected answer is worked out here from the role
definition alone — an oracle independent of engine/policy.py — and checked against the API.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from engine.language.loader import load_module
from engine.language.model import Field, Module, Role
from tests.conftest import ROOT
from tests.server import Server, database, server

MODULES = ["definitions/gbv", "examples/child-protection"]
RELATIONS = ["own", "group", "agency", "other"]
COVERS = {
    "own": {"own", "group", "agency", "all"},
    "group": {"group", "agency", "all"},
    "agency": {"agency", "all"},
    "other": {"all"},
}


def _module(path: str) -> Module:
    m = load_module(os.path.join(ROOT, path)).module
    assert m is not None
    return m


@dataclass(frozen=True)
class Case:
    module: str
    record_type: str
    role: str
    relation: str
    action: str

    @property
    def id(self) -> str:
        return f"{os.path.basename(self.module)}:{self.record_type}:{self.role}:{self.relation}:{self.action}"


def _creator(m: Module, rt: str) -> Role | None:
    return next((r for r in m.roles.values() if r.can(f"{rt}.create") and not r.aggregate_only), None)


def cases() -> list[Case]:
    out = []
    for path in MODULES:
        m = _module(path)
        for rt in m.record_types:
            if _creator(m, rt) is None:
                continue
            for role in m.roles.values():
                out.append(Case(path, rt, role.id, "-", "create"))
                out.append(Case(path, rt, role.id, "-", "list"))
                for rel in RELATIONS:
                    if rel == "own" and not (role.can(f"{rt}.create") and not role.aggregate_only):
                        continue  # a role that cannot create owns nothing
                    out.extend(Case(path, rt, role.id, rel, a) for a in ("read", "write"))
    return out


CASES = cases()


def expected(m: Module, c: Case) -> int:
    role = m.roles[c.role]
    usable = not role.aggregate_only
    if c.action == "create":
        return 201 if usable and role.can(f"{c.record_type}.create") else 403
    if c.action == "list":
        return 200 if usable and role.can(f"{c.record_type}.read") else 403
    in_scope = usable and role.can(f"{c.record_type}.read") and role.scope in COVERS[c.relation]
    if c.action == "read":
        return 200 if in_scope else 404
    if not in_scope:
        return 404
    return 200 if role.can(f"{c.record_type}.write") and _writable_text_field(m, c) is not None else 403


def _writable_text_field(m: Module, c: Case) -> Field | None:
    role = m.roles[c.role]
    rt = m.record_types[c.record_type]
    for f in rt.scope.fields.values():
        if (
            f.type in ("text", "textarea")
            and f.constraint is None
            and not f.read_only
            and role.may_write_form(f.form_id)
            and f.sensitivity in role.sensitivity
            and f.form_id in rt.form_ids
        ):
            return f
    return None


def _any_text_field(m: Module, rt: str) -> Field:
    return next(
        f for f in m.record_types[rt].scope.fields.values() if f.type in ("text", "textarea") and f.constraint is None
    )


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Server, dict[str, Any]]]]:
    out: dict[str, tuple[Server, dict[str, Any]]] = {}
    stack = []
    for path in MODULES:
        m = _module(path)
        ctx = database("sqlite", tmp_path_factory.mktemp(os.path.basename(path)))
        url = ctx.__enter__()
        srv_ctx = server(url, [os.path.join(ROOT, path)])
        srv = srv_ctx.__enter__()
        stack.append((ctx, srv_ctx))
        records: dict[str, Any] = {}
        for rt in m.record_types:
            creator = _creator(m, rt)
            if creator is None:
                continue
            owners = {
                "group": ("agency_a", ("team_1",)),
                "agency": ("agency_a", ("team_2",)),
                "other": ("agency_b", ("team_9",)),
            }
            for rel, (agency, groups) in owners.items():
                name = f"{rt}_{rel}_owner"
                srv.add_user(name, creator.id, agency=agency, groups=groups)
                r = srv.client(name).post(f"/api/v1/records/{rt}", json={"data": {}})
                assert r.status_code == 201, r.text
                records[(rt, rel)] = r.json()
        for role in m.roles.values():
            srv.add_user(f"actor_{role.id}", role.id, agency="agency_a", groups=("team_1",))
        out[path] = (srv, records)
    yield out
    for ctx, srv_ctx in reversed(stack):
        srv_ctx.__exit__(None, None, None)
        ctx.__exit__(None, None, None)


def _version(srv: Server, record_id: str) -> int:
    """The record's current version (earlier cases may have changed it)."""
    from sqlalchemy import select

    from engine.storage import db
    from engine.storage.models import Record

    engine = db.make_engine(srv.url)
    with db.session_factory(engine)() as session:
        version = session.scalar(select(Record.version).where(Record.id == record_id))
    engine.dispose()
    assert version is not None
    return version


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matrix(case: Case, servers: dict[str, tuple[Server, dict[str, Any]]]) -> None:
    srv, records = servers[case.module]
    m = srv.registry.modules[next(iter(srv.registry.modules))]
    client = srv.client(f"actor_{case.role}")
    base = f"/api/v1/records/{case.record_type}"
    want = expected(m, case)
    if case.action == "create":
        got = client.post(base, json={"data": {}}).status_code
    elif case.action == "list":
        got = client.get(base).status_code
    else:
        if case.relation == "own":
            r = client.post(base, json={"data": {}})
            assert r.status_code == 201
            rec = r.json()
        else:
            rec = records[(case.record_type, case.relation)]
        if case.action == "read":
            got = client.get(f"{base}/{rec['id']}").status_code
        else:
            f = _writable_text_field(m, case) or _any_text_field(m, case.record_type)
            body = {"version": _version(srv, rec["id"]), "data": {f.id: "matrix"}}
            got = client.patch(f"{base}/{rec['id']}", json=body).status_code
    assert got == want, f"{case.id}: expected {want}, got {got}"


def test_the_matrix_covers_every_role_of_both_modules() -> None:
    for path in MODULES:
        m = _module(path)
        assert {c.role for c in CASES if c.module == path} == set(m.roles)
