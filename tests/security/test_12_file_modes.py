"""Finding 12: database files were world-readable (sanad.db, -wal, -shm 0644 in a 0755 folder;
only secret_key was 0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.service.database import Database, resolve_url


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_data_folder_and_database_files_are_private(tmp_path: Path, monkeypatch: object) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("SANAD_DATA_DIR", str(data))  # type: ignore[attr-defined]
    monkeypatch.delenv("SANAD_DATABASE_URL", raising=False)  # type: ignore[attr-defined]
    os.umask(0o022)
    database = Database.open(resolve_url(None))
    database.ready(create=True)
    with database.transaction() as session:
        session.execute(__import__("sqlalchemy").text("CREATE TABLE t (x int)"))
        session.execute(__import__("sqlalchemy").text("INSERT INTO t VALUES (1)"))
    assert _mode(data) == 0o700
    files = [p for p in data.iterdir() if p.name.startswith("sanad.db")]
    assert {p.name for p in files} >= {"sanad.db"}
    for p in files:
        assert _mode(p) == 0o600, (p.name, oct(_mode(p)))
    database.dispose()


def test_a_sqlite_file_named_with_db_is_created_private(tmp_path: Path) -> None:
    os.umask(0o022)
    path = tmp_path / "elsewhere" / "cases.db"
    database = Database.open(f"sqlite:///{path}")
    database.ready(create=True)
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    database.dispose()
