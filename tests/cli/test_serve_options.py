"""`sanad serve` for the person who runs it: "serving on" only once it listens, a busy port is one
clear line, --demo on a database that holds data says what it does, --help names the web app, and
--access-log never prints a query string."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest

from engine.cli import main, server
from engine.runtime.registry import Registry
from engine.service import accounts, seeding
from engine.service.database import Database
from tests.conftest import ROOT

GBV = os.path.join(ROOT, "definitions", "gbv")


def _env(tmp_path: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANAD_")}
    env["SANAD_DATA_DIR"] = str(tmp_path)
    return env


def _serve_with(tmp_path: object, **setting: str) -> subprocess.CompletedProcess[str]:
    """`sanad serve` with one more environment setting: it should stop before it makes anything."""
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "serve", "--port", "0"],
        env={**_env(tmp_path), **setting},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_busy_port_is_one_clear_line_and_nothing_is_served(tmp_path: object) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        proc = subprocess.run(
            [sys.executable, "-m", "engine.cli", "serve", "--definitions", GBV, "--port", str(port)],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1
    assert proc.stderr == (
        f"sanad: cannot listen on 127.0.0.1:{port}: the port {port} is already in use (by another Sanad or another "
        f"program); stop it, or choose a free port with --port, e.g. --port {port + 1}\n"
    )
    assert "serving" not in proc.stdout and "sanad: serving" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("host", "port", "exc", "says"),
    [
        ("127.0.0.1", 80, OSError(errno.EACCES, "Permission denied"), "ports below 1024 need administrator rights"),
        ("127.0.0.1", 8080, OSError(errno.EPERM, "Operation not permitted"), "choose another with --port"),
        ("10.9.9.9", 8000, OSError(errno.EADDRNOTAVAIL, "Cannot assign"), "not an address of this computer"),
        ("nowhere", 8000, socket.gaierror(-2, "Name or service not known"), "'nowhere' is not a known address"),
        ("::1", 8000, OSError(errno.EADDRINUSE, "in use"), "[::1]:8000: the port 8000 is already in use"),
    ],
)
def test_every_bind_failure_says_what_to_do(host: str, port: int, exc: OSError, says: str) -> None:
    message = server._bind_error(host, port, exc)
    assert message.startswith("cannot listen on ") and says in message and "\n" not in message


def test_a_port_out_of_range_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--port", "70000"])
    assert exit_.value.code == 2 and "70000 is not a port number (0 to 65535)" in capsys.readouterr().err


def test_serving_is_announced_once_it_listens_and_the_access_log_keeps_no_query(tmp_path: object) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--definitions", GBV, "--port", str(port), "--access-log"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        lines = []
        for line in proc.stderr:  # until the announcement; the server must answer right after it, no retry
            lines.append(line)
            if line.startswith("sanad: serving"):
                break
        assert lines and lines[-1] == (
            f"sanad: serving gbv 1.0.0 on http://127.0.0.1:{port} (database sqlite); press Ctrl+C to stop\n"
        ), lines
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login?next=%2Fsecret-name", timeout=5) as r:
            assert r.status == 200
        with pytest.raises(urllib.error.HTTPError) as not_found:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/some/path?q=secret", timeout=5)
        assert not_found.value.code == 404
        not_found.value.close()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    log = [ln.split(" ") for ln in err.splitlines() if not ln.startswith("sanad:")]
    assert [(ln[1], ln[2], ln[3], ln[4]) for ln in log] == [
        ("127.0.0.1", "GET", "/login", "200"),
        ("127.0.0.1", "GET", "/some/path", "404"),
    ], err
    assert all(len(ln) == 6 and ln[0].endswith("Z") and ln[5].endswith("ms") for ln in log)
    assert "secret" not in err and "?" not in err


def test_without_access_log_requests_print_nothing(tmp_path: object) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--definitions", GBV, "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if line.startswith("sanad: serving"):
                break
        with pytest.raises(urllib.error.HTTPError) as not_found:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/some/path?q=secret", timeout=5)
        not_found.value.close()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert "secret" not in out + err and "/some/path" not in out + err


def _call(app: Any, path: str, query: bytes) -> tuple[str, list[dict[str, Any]]]:
    """One request through AccessLog(app): the log written and the messages sent."""
    stream = io.StringIO()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"name=Secret+Person", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "client": ("192.0.2.7", 51234),
        "headers": [],
    }
    try:
        asyncio.run(server.AccessLog(app, stream)(scope, receive, send))
    except RuntimeError:
        pass
    return stream.getvalue(), sent


def test_access_log_line_has_no_query_string_nor_body() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 303, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    log, sent = _call(app, "/records/new", b"q=Secret+Person&search=Amina")
    at, client, method, path, status, duration = log.rstrip("\n").split(" ")
    assert (client, method, path, status) == ("192.0.2.7", "POST", "/records/new", "303")
    assert at.endswith("Z") and duration.endswith("ms") and log.count("\n") == 1
    assert "Secret" not in log and "Amina" not in log and "?" not in log
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


def test_access_log_keeps_each_request_on_one_line_and_logs_failures() -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("a bug")

    log, _ = _call(failing, "/a path/with\nnewline", b"")
    assert log.count("\n") == 1
    assert " /a%20path/with%0Anewline 500 " in log


def test_help_describes_serve_as_the_web_app_and_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "serve serve the web app (sign in, forms, records) and its JSON API (/api/v1)" in text


def _serve_demo(
    url: str, tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """`sanad serve --demo`, in this process, with a server that starts and stops at once."""
    monkeypatch.setenv("SANAD_DATA_DIR", str(tmp_path))

    def run(self: server._Server, sockets: list[socket.socket] | None = None) -> None:
        self.started = True
        self._started()

    monkeypatch.setattr(server._Server, "run", run)
    code = main(["serve", "--demo", "--definitions", GBV, "--db", url, "--port", "0"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_demo_on_a_database_with_the_demo_reuses_it_and_says_how_to_start_over(
    tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANAD_DATA_DIR", str(tmp_path))  # the key file too: the one serve will use
    path = os.path.join(str(tmp_path), "demo.db")
    url = f"sqlite:///{path}"
    db = Database.open(url)
    try:
        db.ready(create=True)
        made = seeding.seed(db, Registry.load([GBV]), limit=1, cheap_hashing=True)
    finally:
        db.dispose()
    code, out, err = _serve_demo(url, tmp_path, capsys, monkeypatch)
    assert code == 0, err
    assert "creating the demo" not in err and out == ""
    text = " ".join(err.split())
    assert f"the database already holds the demo of 'gbv' ({len(made)} demo accounts), so it is used as it is" in text
    assert "the demo accounts keep the passwords printed when it was created" in text
    assert "'sanad users reset-password NAME'" in text
    assert f"delete the database file {path} (with its -wal and -shm files, if any)" in text
    assert "sanad: serving gbv 1.0.0 on http://127.0.0.1:" in err
    db = Database.open(url)
    try:  # the accounts still work, with the passwords printed the first time
        with db.reading() as session:
            for a in made:
                assert accounts.verify_password(
                    accounts.hasher(True), accounts.find_user(session, a.username), a.password
                )
    finally:
        db.dispose()


def test_demo_on_a_database_with_other_data_adds_nothing_and_never_says_delete(
    tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANAD_DATA_DIR", str(tmp_path))  # the key file too: the one serve will use
    url = f"sqlite:///{tmp_path}/real.db"
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    assert main(["users", "add", "amina", "--role", "caseworker", "--password-stdin", "--db", url]) == 0
    capsys.readouterr()
    code, _, err = _serve_demo(url, tmp_path, capsys, monkeypatch)
    assert code == 0
    text = " ".join(err.split())
    assert "already holds data that is not the demo of 'gbv' (1 account), so no demo data was added" in text
    assert "--db sqlite:///demo.db" in text and "delete" not in text


def test_sqlite_path() -> None:
    assert server.sqlite_path("sqlite:////var/lib/sanad/sanad.db") == "/var/lib/sanad/sanad.db"
    assert server.sqlite_path("sqlite:///demo.db?timeout=5") == os.path.abspath("demo.db")
    assert server.sqlite_path("sqlite:///:memory:") is None
    assert server.sqlite_path("postgresql+psycopg://sanad@db/sanad") is None


@pytest.mark.parametrize("value", ["0", "257", "many"])
def test_threads_out_of_range_are_refused_by_the_parser(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--threads", value])
    assert exit_.value.code == 2 and "give a whole number from 1 to 256" in capsys.readouterr().err


def test_a_bad_sanad_threads_is_one_clear_line_before_anything_is_done(tmp_path: object) -> None:
    r = _serve_with(tmp_path, SANAD_THREADS="lots")
    assert r.returncode == 1
    assert (
        r.stderr.strip() == "sanad: SANAD_THREADS: 'lots' is not a number of threads: give a whole number from 1 to 256"
    )
    assert not os.listdir(str(tmp_path)), "nothing is made before the setting is checked"


@pytest.mark.parametrize("value", ["0", "10081", "soon"])
def test_idle_minutes_out_of_range_are_refused_by_the_parser(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--idle-minutes", value])
    assert exit_.value.code == 2 and "give a whole number from 1 to 10080 (a week)" in capsys.readouterr().err


def test_a_bad_sanad_idle_minutes_is_one_clear_line_not_a_traceback(tmp_path: object) -> None:
    """It was read with int() while the command line was being built: every sanad command, even
    `sanad validate`, ended in a traceback."""
    r = _serve_with(tmp_path, SANAD_IDLE_MINUTES="half an hour")
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "sanad: SANAD_IDLE_MINUTES: 'half an hour' is not a number of minutes: give a whole number from 1 to 10080 (a week)"
    )
    assert not os.listdir(str(tmp_path)), "nothing is made before the setting is checked"
    env = {**_env(tmp_path), "SANAD_IDLE_MINUTES": "half an hour"}
    other = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    assert other.returncode == 0 and "Traceback" not in other.stderr


def test_each_worker_process_gets_the_threads_asked_for(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    Database.open(url).dispose()
    conf = {"definitions": [GBV], "database_url": url, "key_file": None, "idle_minutes": 30, "access_log": False}
    monkeypatch.setenv(server.WORKER_ENV, json.dumps({**conf, "threads": 3}))
    monkeypatch.setenv("SANAD_SECRET_KEY", "s" * 40)
    app: Any = server.worker_app()
    assert app.state.sanad.settings.threads == 3
    assert app.state.sanad.threads == 3

    async def tokens() -> float:
        return float(app.state.sanad.limiter().total_tokens)

    found: list[float] = []
    runner = threading.Thread(target=lambda: found.append(asyncio.run(tokens())))  # a loop of its own
    runner.start()
    runner.join(30)
    assert found == [3]
