"""`sanad backup` and `sanad restore`, on SQLite and PostgreSQL: a round trip of the demo data keeps
every row of every table (compared through the database's own schema, so columns and tables added
later are compared too), a backup taken while a server writes restores to a consistent database, the
key file is never in a backup, and every refusal is one clear line with its exit status."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, select, text

from engine.cli import main
from engine.runtime.registry import Registry
from engine.service import backup, seeding
from engine.service.database import Database
from tests.conftest import DB_KINDS, ROOT, MakeModule
from tests.server import PG_ADMIN, database, postgres_available, server

GBV = os.path.join(ROOT, "definitions", "gbv")
DEMO_PEOPLE = 15  # of the demo's people: enough for every kind of row, in a few seconds


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module", params=DB_KINDS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database holding the GBV module's demo (its first people: accounts, records at every stage,
    their history, transitions, referrals, assignments, links and audit entries), the key its
    answers are sealed with, and a signed-in session with its sign-in counts."""
    with database(request.param, tmp_path_factory.mktemp("seeded")) as url:
        target = Database.open(url)
        made = seeding.seed(target, Registry.load([GBV]), cheap_hashing=True, limit=DEMO_PEOPLE)
        target.ready(create=False)  # the key file is the one the answers were sealed with
        target.dispose()
        with server(url, [GBV]) as srv:
            caseworker = next(a for a in made if a.role == "caseworker")
            signed_in = srv.client().post(
                "/api/v1/login", json={"username": caseworker.username, "password": caseworker.password}
            )
            assert signed_in.status_code == 200, signed_in.text
        yield url


@contextmanager
def empty_database(kind: str, tmp_path: Any) -> Iterator[str]:
    """A database to restore into, with nothing in it (a PostgreSQL one is created and dropped)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/restored-{uuid.uuid4().hex[:6]}.db"
        return
    if not postgres_available():
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}")
    name = f"sanad_bk_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def kind_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


# -- comparing two databases, table by table, row by row ---------------------------------------------------
def contents(url: str) -> dict[str, Any]:
    """Every row of every table, in primary-key order, read through the schema the database itself
    reports (not the models): a column a later migration adds is compared without changing this
    test. With the schema's other objects: indexes, and the triggers that guard the audit log."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for name, tbl in sorted(meta.tables.items()):
            order = list(tbl.primary_key.columns) or list(tbl.columns)
            out[name] = {
                "columns": [(c.name, str(c.type)) for c in tbl.columns],
                "rows": [tuple(r) for r in conn.execute(select(tbl).order_by(*order))],
            }
        if engine.dialect.name == "sqlite":
            out["schema objects"] = conn.execute(
                text(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') ORDER BY name"
                )
            ).all()
        else:
            out["schema objects"] = (
                conn.execute(
                    text(
                        "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                        "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal ORDER BY 1, 2"
                    )
                ).all()
                + conn.execute(
                    text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")
                ).all()
            )
    engine.dispose()
    return out


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> int:
    assert sorted(a) == sorted(b), "the tables differ"
    rows = 0
    for name in a:
        if name == "schema objects":
            assert a[name] == b[name], "indexes or triggers differ"
            continue
        assert a[name]["columns"] == b[name]["columns"], f"the columns of {name} differ"
        assert len(a[name]["rows"]) == len(b[name]["rows"]), f"{name}: a different number of rows"
        for x, y in zip(a[name]["rows"], b[name]["rows"], strict=True):
            assert x == y, f"{name}: a row differs:\n{x}\n{y}"
        rows += len(a[name]["rows"])
    return rows


def key_material() -> list[str]:
    with open(os.environ["SANAD_KEY_FILE"], encoding="utf-8") as fh:
        ring = json.load(fh)
    return [*ring["keys"].values(), ring["mac"]]


def backup_text(path: str) -> bytes:
    """What the backup holds, readable: the SQLite file, or the SQL a PostgreSQL archive restores."""
    if backup.file_kind(path) == "sqlite":
        with open(path, "rb") as fh:
            return fh.read()
    return subprocess.run(["pg_restore", "--file=-", path], capture_output=True, check=True).stdout


# -- the round trip ----------------------------------------------------------------------------------------
def test_a_round_trip_keeps_every_row_of_every_table(
    seeded: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    kind = kind_of(seeded)
    out = str(tmp_path / "sanad.backup")
    code, stdout, stderr = run(capsys, "backup", "--db", seeded, out)
    assert code == 0, stderr
    assert os.stat(out).st_mode & 0o777 == 0o600  # survivors' records: the owner's eyes only
    assert backup.file_kind(out) == kind
    assert "Not in the backup: the key file" in stdout and os.environ["SANAD_KEY_FILE"] in stdout
    assert "store it apart" in stdout
    assert ("copied" if kind == "sqlite" else "dumped records") in stderr  # progress
    before = contents(seeded)
    assert f"{len(before['records']['rows'])} records" in stdout
    held = backup_text(out)
    assert not [k for k in key_material() if k.encode() in held], "a key is in the backup"
    assert [f for f in os.listdir(tmp_path) if f.endswith(".partial")] == []

    with empty_database(kind, tmp_path) as target:
        code, stdout, stderr = run(capsys, "restore", "--db", target, out)
        assert code == 0, stdout + stderr
        after = contents(target)
        rows = assert_same(before, after)
        empty = sorted(name for name, table in before.items() if name != "schema objects" and not table["rows"])
        assert not {"sessions", "throttle", "referrals", "assignments", "transitions"} & set(empty), empty
        records = len(after["records"]["rows"])
        history = len(after["record_history"]["rows"])
        audit = len(after["audit_log"]["rows"])
        assert f": {records} records, {history} history entries, {audit} audit entries." in stdout
        assert "Checked: migration" in stdout and ("integrity check ok" in stdout or kind == "postgresql")
        assert (
            records >= DEMO_PEOPLE and history > records and audit > history // 2 and rows > records + history + audit
        )
        # the restored database is one Sanad opens as it is
        restored = Database.open(target)
        restored.ready(create=False)
        restored.dispose()

        # a second restore over it is refused, saying what is there; --force replaces it
        code, _, stderr = run(capsys, "restore", "--db", target, out)
        assert code == 1 and "is not empty" in stderr and f"{records} records" in stderr and "--force" in stderr
        assert "Its sealed answers are opened with the key" in stdout
        # restored where the key file is not: restored, and told what is missing (status 4)
        elsewhere = str(tmp_path / "elsewhere" / "sanad.key")
        code, stdout, stderr = run(capsys, "restore", "--db", target, out, "--force", "--key-file", elsewhere)
        assert code == 4 and "Replaced what" in stdout, stdout + stderr
        assert f"there is no key file at {elsewhere}" in stdout and not os.path.exists(elsewhere)
        assert_same(before, contents(target))


# -- a backup while a server writes --------------------------------------------------------------------------
def test_a_backup_taken_while_a_server_writes_restores_consistent(
    db_url: str, make_module: MakeModule, tmp_path: Any
) -> None:
    from tests.security.test_24_faults import (
        WRITER_NAMES,
        Load,
        add_users,
        check_consistent,
        live_server,
        protection_module,
        writer,
    )

    root = protection_module(make_module)
    add_users(db_url, root)
    load = Load(100_000)
    load.server_up.set()
    out = str(tmp_path / "busy.backup")
    with live_server(db_url, [root], tmp_path) as srv:
        threads = [
            threading.Thread(target=writer, args=(load, srv.port, name, i, False), daemon=True)
            for i, name in enumerate(WRITER_NAMES)
        ]
        for t in threads:
            t.start()
        try:
            while load.outcomes["acknowledged"] < 100:
                time.sleep(0.01)
                assert any(t.is_alive() for t in threads) and not load.bad, load.bad
            with load.lock:
                acked_before = dict(load.acked)
            started = load.outcomes["acknowledged"]
            # slowed down between steps, so the writers commit while it copies
            made = backup.backup(db_url, out, progress=lambda _: time.sleep(0.05), pages=2)
            during = load.outcomes["acknowledged"] - started
        finally:
            with load.lock:
                load.total = load.sent  # the writers stop
            for t in threads:
                t.join(30)
    assert not load.bad, load.bad[:3]
    assert during > 0, "no write landed while the backup was made"
    check_consistent(db_url)
    with empty_database(kind_of(db_url), tmp_path) as target:
        restored = backup.restore(target, out)
        assert restored.checked.problems == []
        # the backup is of one moment: exactly what was counted in it, every record whole …
        assert restored.checked.counts == made.counts
        stored = check_consistent(target)
        # … and a moment after every write acknowledged before it began
        missing = [rid for rid, v in acked_before.items() if stored.versions.get(rid, 0) < v]
        assert not missing
    print(
        f"\n{kind_of(db_url)}: backup of {made.counts.describe()} while {during} writes were acknowledged; "
        "restored consistent"
    )


# -- refusals and their exit status ----------------------------------------------------------------------
def test_refusals_are_one_clear_line(
    seeded: str, tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = kind_of(seeded)
    out = str(tmp_path / "a.backup")
    assert run(capsys, "backup", "--db", seeded, out)[0] == 0

    def refused(*argv: str) -> str:
        code, _, err = run(capsys, *argv)
        assert code == 1 and err.startswith("sanad: ") and "Traceback" not in err, (code, err)
        return err

    assert "exists already" in refused("backup", "--db", seeded, out)
    assert "does not exist" in refused("backup", "--db", seeded, str(tmp_path / "nowhere" / "b.backup"))
    assert "is a folder" in refused("backup", "--db", seeded, str(tmp_path))
    err = refused("backup", "--db", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none", str(tmp_path / "c"))
    assert "cannot reach the database" in err and "secret" not in err
    assert "there is no database" in refused("backup", "--db", f"sqlite:///{tmp_path}/none.db", str(tmp_path / "d"))
    assert not os.path.exists(f"{tmp_path}/none.db")  # a backup never makes a database
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("not a backup\n")
    other = "postgresql+psycopg://postgres@127.0.0.1/x" if kind == "sqlite" else f"sqlite:///{tmp_path}/x.db"
    with empty_database(kind, tmp_path) as target:
        assert "not a Sanad backup" in refused("restore", "--db", target, str(not_a_backup))
        assert "there is no file" in refused("restore", "--db", target, str(tmp_path / "missing.backup"))
        assert f"restore it into a {'SQLite' if kind == 'sqlite' else 'PostgreSQL'} database" in refused(
            "restore", "--db", other, out
        )
        assert not os.path.exists(f"{tmp_path}/x.db")
    if kind == "postgresql":
        empty_bin = tmp_path / "bin"
        empty_bin.mkdir()
        monkeypatch.setenv("PATH", str(empty_bin))
        assert "pg_dump was not found" in refused("backup", "--db", seeded, str(tmp_path / "e.backup"))
        missing_db = PG_ADMIN.rsplit("/", 1)[0] + "/sanad_bk_not_there"
        monkeypatch.undo()
        assert "createdb sanad_bk_not_there" in refused("restore", "--db", missing_db, out)
    assert [f for f in os.listdir(tmp_path) if f.endswith(".partial")] == []


def test_a_restored_database_that_needs_attention_exits_4(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], make_module: MakeModule
) -> None:
    """A backup from an older Sanad restores, and the check says to migrate it (status 4)."""
    with database("sqlite", tmp_path) as url:
        path = url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path)
        conn.execute("UPDATE alembic_version SET version_num = '0005'")
        conn.commit()
        conn.close()
        out = str(tmp_path / "old.backup")
        assert run(capsys, "backup", "--db", url, out)[0] == 0
    code, stdout, _ = run(capsys, "restore", "--db", f"sqlite:///{tmp_path}/new.db", out)
    assert code == 4 and "needs attention" in stdout and "sanad db upgrade" in stdout
    checked = backup.check(f"sqlite:///{tmp_path}/new.db")
    assert checked.revision == "0005" and checked.integrity == "ok" and checked.head != "0005"
