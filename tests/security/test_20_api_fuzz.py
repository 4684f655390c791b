"""The API against its own document (issue 14): the OpenAPI description and the server cannot drift.

A review's run of 47,000 requests found the document too thin to check much (most answers had no
schema, Record no required key), and the server looser than it (a create without a body was a 201).
Now Schemathesis reads /api/v1/openapi.json and sends requests made from it to the app in process
(ASGI): the document's examples, the edge cases of every parameter and body (coverage), random ones
(fuzzing), and chains that follow the document's links (stateful: list the module's record types,
create a record, then read, change, step, assign and refer it). It does so signed in as each role of
the GBV demo, and anonymously, on SQLite and on PostgreSQL, after the demo's first people were seeded.

Every answer must be as documented: never a 5xx; a status the operation lists, with its content type,
a body its schema accepts (every key of a `Record`, and no other) and the headers it requires. A
request that breaks the document must be refused (4xx), an operation that needs a session must refuse
a request without one, and a method an address does not take is a 405 with Allow.

Not checked, on purpose: that every request the document allows succeeds (`positive_data_acceptance`:
the module's rules refuse answers a schema cannot know of, such as an unknown field, with 422), and
that a record just created answers every operation (`ensure_resource_availability`: a step that does
not exist on an existing record is a 404).

The run is bounded and repeatable: a fixed seed, derandomized, a few examples per operation; the
whole file takes about a minute and a half per database on a 2-core machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.engine.run import PhaseName

from engine.service import accounts, second_factor, seeding
from engine.service.database import Database
from engine.web.openapi import spec
from tests.conftest import DB_KINDS, ROOT
from tests.server import Server, database, server

GBV = f"{ROOT}/definitions/gbv"
#: the demo's accounts: one per role (the first team's, for roles scoped to their own records or a team)
ROLES = ("caseworker", "supervisor", "cm_manager", "gbv_coordinator", "dpo")
IDENTITIES = (*ROLES, None)  # None: anonymous
PEOPLE = 4  # the demo's first people, walked along their paths: records at several stages, referrals
EXAMPLES = 5  # per operation and phase (the coverage phase adds the edge cases of each parameter)
STATEFUL = 15  # chains of up to 6 linked requests
SEED = 14
PUBLIC = ("login", "logout", "openapi")  # the operations that need no session
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
)


@dataclass
class Demo:
    kind: str
    srv: Server
    cookies: dict[str, str]


def session_cookie(target: Database, srv: Server, username: str) -> str:
    """A signed-in session for a demo account, made directly: the roles that require a second
    factor sign in with an authenticator app, which the fuzzing does not need to go through (the
    account is given one, as if set up at its first sign-in)."""
    with target.transaction() as session:
        user = accounts.find_user(session, username)
        assert user is not None, username
        if not second_factor.enabled(user):
            second_factor.pending_secret(user)
            second_factor.activate(accounts.hasher(cheap=True), user)
        sid = accounts.start_session(session, user, "testclient")
    cookie: str = srv.app.state.sanad.signer.dumps(sid)
    return cookie


@pytest.fixture(scope="module", params=DB_KINDS)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with database(request.param, tmp_path_factory.mktemp("fuzz")) as url, server(url, [GBV]) as srv:
        assert set(ROLES) == set(srv.registry.modules["gbv"].roles), "fuzz as every role of the demo"
        target = Database.open(url)
        try:
            seeding.seed(target, srv.registry, "gbv", limit=PEOPLE, cheap_hashing=True)
            cookies = {role: session_cookie(target, srv, role) for role in ROLES}
        finally:
            target.dispose()
        yield Demo(request.param, srv, cookies)


# -- running Schemathesis, reading its events ---------------------------------------------------------------
@dataclass
class Outcome:
    operations: set[str] = field(default_factory=set)
    requests: int = 0
    by_phase: dict[str, int] = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def config(cookie: str | None) -> SchemathesisConfig:
    checks: dict[str, Any] = {"enabled": False, **{name: {"enabled": True} for name in CHECKS}}
    settings: dict[str, Any] = {
        "seed": SEED,
        "cache": {"enabled": False},  # nothing written to the working folder, nothing carried over
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"max-steps": 6, "generation": {"max-examples": STATEFUL}}},
        "checks": checks,
    }
    if cookie is not None:
        settings["auth"] = {"openapi": {"session": {"api_key": cookie}}}
    return SchemathesisConfig.from_dict(settings)


def _failure(phase: str, label: str, name: str, info: Any) -> str:
    failure = info.failure
    message = "\n      ".join(failure.message.strip().splitlines()[:12])
    sample = "\n      ".join(info.code_sample.strip().splitlines()[:6])
    return f"[{phase}] {label}: {name}: {failure.title}\n      {message}\n    reproduce:\n      {sample}"


def run(demo: Demo, identity: str | None) -> Outcome:
    cookie = demo.cookies[identity] if identity else None
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", demo.srv.app, config=config(cookie))
    if identity is not None:
        # What needs no session is fuzzed anonymously; signed in, logging out would end the
        # session the run uses, and signing in answers the same whoever asks.
        schema = schema.exclude(operation_id=list(PUBLIC))
    out = Outcome()
    started = time.perf_counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            recorder = event.recorder
            phase = str(event.phase)
            out.requests += len(recorder.interactions)
            out.by_phase[phase] = out.by_phase.get(phase, 0) + len(recorder.interactions)
            if event.phase != PhaseName.STATEFUL_TESTING and recorder.interactions:
                out.operations.add(recorder.label)
            for checks in recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        out.failures.append(_failure(phase, recorder.label, check.name, check.failure_info))
                    elif check.status == Status.ERROR:
                        out.failures.append(f"[{phase}] {recorder.label}: the check {check.name} crashed")
        elif isinstance(event, events.PhaseFinished):
            out.phases[str(event.phase.name)] = str(event.status)
        elif isinstance(event, events.NonFatalError):
            out.failures.append(f"[{event.phase}] {event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            out.failures.append(f"the run stopped: {event.exception!r}")
    out.seconds = time.perf_counter() - started
    return out


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda x: x or "anonymous")
def test_the_api_answers_as_its_document_says(demo: Demo, identity: str | None) -> None:
    out = run(demo, identity)
    who = f"signed in as {identity}" if identity else "anonymously"
    print(
        f"\nfuzz {demo.kind}, {who}: {len(out.operations)} operations, {out.requests} requests "
        f"{out.by_phase}, {len(out.failures)} failures, {out.seconds:.1f} s"
    )
    seen: dict[str, int] = {}
    for f in out.failures:
        seen[f] = seen.get(f, 0) + 1
    report = "\n".join(f"- {f}" + (f"\n    ({n} times)" if n > 1 else "") for f, n in seen.items())
    assert not out.failures, f"{len(out.failures)} answers of the API {who} break its document:\n{report}"
    # the run tested what it should: every phase ran (the stateful one follows the document's links)
    for phase in ("examples", "coverage", "fuzzing", "stateful"):
        assert out.phases.get(phase) == str(Status.SUCCESS), (phase, out.phases)
    # every operation the run should reach (Schemathesis leaves out the address of the document itself)
    expected = {
        f"{method.upper()} {path}"
        for path, item in spec()["paths"].items()
        for method, op in item.items()
        if path != "/api/v1/openapi.json" and not (identity and op["operationId"] in PUBLIC)
    }
    assert out.operations == expected and out.requests >= 20 * len(expected), (out.requests, out.operations)
