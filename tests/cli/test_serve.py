"""The data commands: db upgrade, users add/list/disable, audit list, and serve answering HTTP."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from engine.cli import main
from tests.conftest import ROOT

GBV = os.path.join(ROOT, "definitions", "gbv")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_users_and_audit_commands(
    tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    assert run(capsys, "users", "list", "--db", url)[0] == 1  # no tables yet: told to upgrade
    code, out, err = run(capsys, "db", "upgrade", "--db", url)
    assert code == 0 and re.search(r"migrated from empty to \d{4}\n", out), out
    assert "migrating to" not in err  # a new database is set up, not walked through each migration
    assert "already up to date" in run(capsys, "db", "upgrade", "--db", url)[1]
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    code, out, err = run(
        capsys,
        "users",
        "add",
        "amina",
        "--role",
        "caseworker",
        "--agency",
        "ngo1",
        "--group",
        "team_a",
        "--password-stdin",
        "--db",
        url,
        "--definitions",
        GBV,
    )
    assert code == 0 and "added amina (caseworker in gbv)" in out, err
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    code, _, err = run(
        capsys, "users", "add", "bob", "--role", "caseworker", "--password-stdin", "--db", url, "--definitions", GBV
    )
    assert code == 1 and "at least 10 characters" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    code, _, err = run(
        capsys, "users", "add", "bob", "--role", "casewrker", "--password-stdin", "--db", url, "--definitions", GBV
    )
    assert code == 1 and "has no role 'casewrker'" in err
    code, out, _ = run(capsys, "users", "list", "--db", url)
    assert "amina" in out and "team_a" in out and "active" in out and out.strip().endswith("1 user")
    assert run(capsys, "users", "disable", "amina", "--db", url)[0] == 0
    assert "disabled" in run(capsys, "users", "list", "--db", url)[1]
    code, out, _ = run(capsys, "audit", "list", "--db", url, "--format", "json")
    assert [e["action"] for e in json.loads(out)] == ["user.disable", "user.add"]
    code, out, _ = run(capsys, "audit", "list", "--db", url, "--action", "user.add")
    assert "user.add" in out and out.strip().endswith("1 entry")
    assert run(capsys, "audit", "list", "--db", url, "--since", "yesterday")[0] == 1


def test_a_database_that_cannot_be_reached_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "users", "list", "--db", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert code == 1 and "cannot use the database" in err and "secret" not in err and "Traceback" not in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_sets_up_a_new_database_and_answers(tmp_path: object) -> None:
    port = _free_port()
    env = {**os.environ, "SANAD_DATA_DIR": str(tmp_path), "SANAD_DATABASE_URL": ""}
    env.pop("SANAD_DATABASE_URL")
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--definitions", GBV, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2) as r:
                    body = json.load(r)
                break
            except OSError:
                time.sleep(0.1)
        assert body is not None and body["info"]["title"] == "Sanad records API"
        assert os.path.exists(os.path.join(str(tmp_path), "sanad.db"))
        assert oct(os.stat(os.path.join(str(tmp_path), "secret_key")).st_mode & 0o777) == "0o600"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "setting up a new database" in err and "serving gbv 1.0.0" in err


def test_serve_demo_seeds_the_module_that_has_demo_data(tmp_path: object) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANAD_")}
    env["SANAD_DATA_DIR"] = str(tmp_path)
    cp = os.path.join(ROOT, "examples", "child-protection")
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--demo", "--definitions", cp, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        answered = False
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
                    answered = r.status == 200
                break
            except OSError:
                time.sleep(0.1)
        assert answered
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert "creating the demo of 'child_protection'" in err and "17 of 17 people" in err, err
    assert "cp_caseworker2" in out and "cp_supervisor" in out and "tracing_officer" in out, out


def test_db_upgrade_names_each_migration_before_it_runs(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    """Some migrations rewrite every record (0013: minutes at national scale): the person running
    the upgrade is told which ones run, by their titles, before they start."""
    from alembic import command

    from engine.storage import db

    url = f"sqlite:///{tmp_path}/old.db"
    engine = db.make_engine(url)
    db.upgrade(engine)
    command.downgrade(db.alembic_config(engine), "0011")
    engine.dispose()
    code, out, err = run(capsys, "db", "upgrade", "--db", url)
    assert code == 0 and "migrated from 0011 to" in out
    lines = [line for line in err.splitlines() if "migrating to" in line]
    assert lines[:2] == [
        "sanad: migrating to 0012: The agency's indexes in list order (issue 16)",
        "sanad: migrating to 0013: Each record's latest workflow step (issue 16)",
    ]


def test_a_server_process_leaves_what_it_keeps_out_of_the_collectors_passes(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app a server answers with (one process or each worker) is built, then what start-up made
    (the definitions, compiled) is frozen: the garbage collector's full passes under load no longer
    walk it (engine/cli/heap.py)."""
    import gc

    from engine.cli.server import serving_app
    from engine.runtime.registry import Registry
    from engine.web.app import Settings

    monkeypatch.setenv("SANAD_DATA_DIR", str(tmp_path))
    reg = Registry.load([GBV])
    settings = Settings(definitions=[GBV], database_url=f"sqlite:///{tmp_path}/s.db", secret_key="k" * 40)
    gc.unfreeze()
    assert any(o is reg for o in gc.get_objects())  # walked by every full pass
    try:
        app = serving_app(settings, reg, access_log=True)
        assert gc.get_freeze_count() > 0
        assert not any(o is reg or o is app for o in gc.get_objects())
    finally:
        gc.unfreeze()  # this test process goes on building and dropping apps
