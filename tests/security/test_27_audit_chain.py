"""A tamper-evident audit log (issue 14): `sanad audit verify` exits 0 on an intact log and 1 naming
every entry changed, deleted or inserted behind Sanad's back (by someone who can write to the
database but has no key file), and checks only what is new since its last run."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from engine.cli import main
from engine.service import protection
from engine.service.database import Database
from engine.storage import db
from tests.security.conftest import World


def _activity(world: World, n: int = 3) -> None:
    for i in range(n):
        rec = world.case(name=f"Person {i}")
        world.client("sara").get(f"/api/v1/records/case/{rec['id']}")


def _tamper(url: str, *statements: str) -> None:
    """An insider with the database: lifts the append-only triggers, then writes."""
    engine = db.make_engine(url)
    with engine.begin() as conn:
        if url.startswith("sqlite"):
            for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_replace"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        for s in statements:
            conn.execute(text(s))
    engine.dispose()


def _verify(url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["audit", "verify", "--db", url, *extra])
    return code, capsys.readouterr().out


def _last_seq(url: str) -> int:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(text("SELECT max(seq) FROM audit_log")).scalar() or 0)
    engine.dispose()
    return n


def test_an_intact_log_verifies(world: World, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _activity(world)
    code, out = _verify(db_url, capsys, "--full")
    assert code == 0, out
    assert "audit log intact" in out


def test_a_changed_entry_is_named(world: World, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _activity(world)
    details = "'{\"forged\": true}'"
    _tamper(db_url, f"UPDATE audit_log SET details = {details} WHERE seq = 3")
    code, out = _verify(db_url, capsys, "--full")
    assert code == 1
    assert "changed: entry #3 " in out and "NOT intact: 1 problem" in out


def test_a_deleted_entry_is_named(world: World, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _activity(world)
    _tamper(db_url, "DELETE FROM audit_log WHERE seq IN (4, 5)")
    code, out = _verify(db_url, capsys, "--full")
    assert code == 1
    assert "deleted: entries #4 to #5 are missing" in out


def test_an_inserted_entry_is_named(world: World, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _activity(world)
    _tamper(
        db_url,
        "INSERT INTO audit_log (at, username, action, details) VALUES ('2026-12-01 10:00:00', 'ghost', 'record.read', '{}')",
    )
    code, out = _verify(db_url, capsys, "--full")
    assert code == 1
    assert "inserted: entry id" in out and "record.read" in out


def test_a_forged_entry_in_the_chain_is_named(world: World, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Without the key, a new entry cannot carry a valid hash, even with the right place and links."""
    _activity(world)
    last = _last_seq(db_url)
    _tamper(
        db_url,
        f"INSERT INTO audit_log (at, username, action, details, seq, prev_hash, hash) SELECT at, 'ghost', "
        f"'record.read', '{{}}', {last + 1}, hash, 'ffff' FROM audit_log WHERE seq = {last}",
        f"UPDATE audit_chain SET seq = {last + 1}, hash = 'ffff'",
    )
    code, out = _verify(db_url, capsys, "--full")
    assert code == 1
    assert f"changed: entry #{last + 1} " in out


def test_the_latest_entries_deleted_are_seen(world: World, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _activity(world)
    last = _last_seq(db_url)
    _tamper(db_url, f"DELETE FROM audit_log WHERE seq >= {last - 1}")
    code, out = _verify(db_url, capsys, "--full")
    assert code == 1
    assert "truncated:" in out and f"ended at #{last}" in out


def test_verification_is_incremental(world: World, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _activity(world)
    first = _last_seq(db_url)
    code, out = _verify(db_url, capsys)
    assert code == 0 and f"{first} entries checked" in out
    _activity(world, 1)
    new = _last_seq(db_url) - first
    code, out = _verify(db_url, capsys)
    assert code == 0 and f"{new} entries checked (since the last check: #{first + 1} to" in out
    # the ground checked last time is checked again: changed, it sends the check over everything
    _tamper(db_url, f"UPDATE audit_log SET username = 'someone' WHERE seq = {first + new}")
    code, out = _verify(db_url, capsys)
    assert code == 1 and f"changed: entry #{first + new} " in out


def test_an_anchor_outside_the_database_sees_a_rewritten_log(
    world: World, db_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _activity(world)
    anchor = f"{tmp_path}/audit.anchor"
    code, _ = _verify(db_url, capsys, "--anchor", anchor)
    assert code == 0
    seq = _last_seq(db_url)
    # someone with the database *and* the key rewrites an entry and the chain after it, checkpoints too
    database = Database.open(db_url)
    _tamper(db_url, "DELETE FROM audit_checkpoints", f"UPDATE audit_log SET hash = 'rewritten' WHERE seq = {seq}")
    database.dispose()
    code, out = _verify(db_url, capsys, "--anchor", anchor)
    assert code == 1 and "the log was rewritten" in out


def test_entries_of_a_rolled_back_transaction_are_never_chained(world: World, db_url: str) -> None:
    from engine.service import audit

    database = Database.open(db_url)
    before = _last_seq(db_url)
    with pytest.raises(RuntimeError), database.transaction() as session:
        audit.record(session, "test.entry", username="x")
        raise RuntimeError
    assert _last_seq(db_url) == before
    v, _ = protection.verify_audit(database, full=True)
    database.dispose()
    assert v.ok, v.problems
