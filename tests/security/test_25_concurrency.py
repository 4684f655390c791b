"""Concurrency, against a real server over HTTP: many people saving the same case at once, and many
sessions creating records at once, on SQLite and PostgreSQL.

A save is either applied (2xx, a new version in the history) or refused as stale (409: someone saved
first; reload and save again); never a 5xx, never "the database is busy". The history holds exactly
the saves that were applied."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.conftest import MakeModule
from tests.security.conftest import ANSWERS
from tests.security.test_24_faults import Client, add_users, check_consistent, live_server, protection_module

EDITORS = 50
ATTEMPTS = 2  # an editor refused as stale reloads and tries once more
CREATORS = 200
EDITOR_NAMES = ["amina", "sup1", "sup2", "sup3", "sup4", "sup5"]  # the owner and supervisors of her team
CREATOR_NAMES = ["amina", "cw1", "cw2", "cw3"]
FIELDS = ["goal", "code", "name"]


def signed_in(port: int, names: list[str], n: int) -> list[Client]:
    """`n` sessions, of `names` in turn, signed in eight at a time."""
    clients = [Client(port) for _ in range(n)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: clients[i].login(names[i % len(names)]), range(n)))
    return clients


def _run(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "requests hung"


def test_fifty_editors_of_one_case(db_url: str, make_module: MakeModule, tmp_path: Any) -> None:
    root = protection_module(make_module)
    add_users(db_url, root)
    with live_server(db_url, [root], tmp_path) as srv:
        owner = Client(srv.port)
        owner.login("amina")
        status, case = owner.request("POST", "/api/v1/records/case", {"data": ANSWERS})
        assert status == 201, case
        owner.close()
        rid, path = case["id"], f"/api/v1/records/case/{case['id']}"
        editors = signed_in(srv.port, EDITOR_NAMES, EDITORS)
        start = threading.Barrier(EDITORS)
        saves: list[tuple[int, int, str, str, Any]] = []  # (status, version, field, value, body)
        lock = threading.Lock()

        def edit(i: int) -> None:
            client = editors[i]
            start.wait()
            try:
                for attempt in range(ATTEMPTS):
                    status, now = client.request("GET", path)
                    assert status == 200, (status, now)
                    field_id = FIELDS[(i + attempt) % len(FIELDS)]
                    value = f"editor {i} attempt {attempt}"
                    status, body = client.request("PATCH", path, {"version": now["version"], "data": {field_id: value}})
                    with lock:
                        saves.append((status, body.get("version") if status == 200 else 0, field_id, value, body))
                    if status != 409:
                        break
            finally:
                client.close()

        _run([threading.Thread(target=edit, args=(i,)) for i in range(EDITORS)])
        statuses = Counter(s for s, *_ in saves)
        assert set(statuses) <= {200, 409}, [(s, b) for s, _, _, _, b in saves if s not in (200, 409)][:3]
        stale = [b for s, _, _, _, b in saves if s == 409]
        assert all("changed by someone else" in b["error"] for b in stale), stale[:3]  # never "busy"
        applied = sorted((v, f, value) for s, v, f, value, _ in saves if s == 200)
        # every applied save made exactly one new version, one after the other
        assert [v for v, _, _ in applied] == list(range(2, len(applied) + 2))
        reader = Client(srv.port)
        reader.login("amina")
        status, body = reader.request("GET", path + "/history")
        assert status == 200
        status, final = reader.request("GET", path)
        reader.close()
    history = body["history"]
    assert sorted(h["version"] for h in history) == list(range(1, len(applied) + 2))
    assert final["version"] == len(applied) + 1
    for field_id in FIELDS:  # each field holds the value of the last save applied to it
        last = [value for _, f, value in applied if f == field_id]
        assert final["data"][field_id] == (last[-1] if last else ANSWERS[field_id])
    stored = check_consistent(db_url)
    assert stored.versions[rid] == len(applied) + 1
    print(
        f"\n{db_url.split(':')[0]}: {EDITORS} editors, {len(saves)} saves: {len(applied)} applied, "
        f"{statuses[409]} refused as stale, 0 errors"
    )


def test_two_hundred_sessions_create_records_at_once(db_url: str, make_module: MakeModule, tmp_path: Any) -> None:
    root = protection_module(make_module)
    add_users(db_url, root)
    with live_server(db_url, [root], tmp_path) as srv:
        sessions = signed_in(srv.port, CREATOR_NAMES, CREATORS)
        start = threading.Barrier(CREATORS)
        made: list[tuple[int, Any]] = []
        lock = threading.Lock()

        def create(i: int) -> None:
            client = sessions[i]
            start.wait()
            try:
                result = client.request("POST", "/api/v1/records/case", {"data": {**ANSWERS, "goal": f"goal {i}"}})
            finally:
                client.close()
            with lock:
                made.append(result)

        _run([threading.Thread(target=create, args=(i,)) for i in range(CREATORS)])
    failed = [(s, b) for s, b in made if s != 201]
    assert not failed, f"{len(failed)} creations failed: {failed[:3]}"
    ids = {b["id"] for _, b in made}
    short_ids = [b["short_id"] for _, b in made]
    assert len(ids) == CREATORS and len(set(short_ids)) == CREATORS
    stored = check_consistent(db_url)
    assert set(stored.versions) == ids and all(stored.versions[rid] == 1 for rid in ids)
    assert sorted(stored.short_ids[rid] for rid in ids) == sorted(short_ids)
    print(f"\n{db_url.split(':')[0]}: {CREATORS} sessions created {len(ids)} records at once, short ids unique")
