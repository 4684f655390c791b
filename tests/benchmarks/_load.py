"""A small closed-loop HTTP load generator (asyncio, HTTP/1.1 keep-alive, no dependencies) and the
helpers the service benchmark shares: starting a server process, waiting for its port, its memory.

Each simulated user owns one connection and sends its next request when the previous answer has
been read in full (closed loop, no think time). Requests that start during the warm-up are not
counted; the measurement window is fixed in seconds or in requests."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class HttpError(Exception):
    """The connection broke or the answer could not be read."""


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def cookies(self) -> dict[str, str]:
        out = {}
        for k, v in self.headers:
            if k == "set-cookie":
                pair = v.split(";", 1)[0]
                if "=" in pair:
                    name, value = pair.split("=", 1)
                    out[name.strip()] = value.strip().strip('"')
        return out


class Connection:
    """One keep-alive HTTP/1.1 connection to host:port (reconnects when the server closes it)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=2**22)
        return self.reader, self.writer

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (OSError, ConnectionError):
                pass
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> Answer:
        for attempt in (1, 2):  # a keep-alive connection the server closed meanwhile: open a new one once
            reader, writer = await self._open()
            lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
            for k, v in (headers or {}).items():
                lines.append(f"{k}: {v}")
            if body is not None:
                lines.append(f"Content-Length: {len(body)}")
            raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
            try:
                writer.write(raw)
                await writer.drain()
                return await self._read(reader)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, HttpError) as exc:
                await self.close()
                if attempt == 2:
                    raise HttpError(f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    async def _read(self, reader: asyncio.StreamReader) -> Answer:
        head = await reader.readuntil(b"\r\n\r\n")
        first, *rest = head.decode("latin-1").split("\r\n")
        parts = first.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise HttpError(f"not an HTTP answer: {first!r}")
        status = int(parts[1])
        headers = [(k.strip().lower(), v.strip()) for k, _, v in (h.partition(":") for h in rest if h)]
        hmap = dict(headers)
        if hmap.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(chunks)
        elif "content-length" in hmap:
            body = await reader.readexactly(int(hmap["content-length"]))
        else:
            body = await reader.read()
            await self.close()
        if hmap.get("connection", "").lower() == "close":
            await self.close()
        return Answer(status, headers, body)


# -- a load run ------------------------------------------------------------------------------------------

#: one step of a simulated user: (kind of request, error text or None) — it times nothing itself
Step = Callable[[random.Random], Awaitable[tuple[str, str | None]]]


#: a cumulative CPU clock in seconds (a process tree's, PostgreSQL's, the machine's busy time)
Clock = Callable[[], float]


@dataclass
class Outcome:
    users: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    #: CPU seconds each watched clock spent in the measurement window (run_load's `watch`)
    cpu: dict[str, float] = field(default_factory=dict)

    def cpu_ms_per_request(self, name: str) -> float:
        """CPU milliseconds of the clock `name` per counted request (nan when not watched)."""
        spent = self.cpu.get(name)
        return 1000 * spent / self.requests if spent is not None and self.requests else float("nan")

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float, kind: str | None = None) -> float:
        xs = sorted(self.by_kind.get(kind, []) if kind else self.latencies)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def merged(outcomes: list[Outcome]) -> Outcome:
    """Several measured windows of one load as one: their requests together, over their seconds
    together, with the CPU each clock spent in them. Windows of two loads taken in turns (Sanad, the
    baseline, Sanad, …) see the same drift of a shared machine, where one long window of each, minutes
    apart, did not."""
    if not outcomes:
        raise ValueError("no outcome to merge")
    out = Outcome(outcomes[0].users, sum(o.seconds for o in outcomes))
    for o in outcomes:
        out.latencies += o.latencies
        for kind, xs in o.by_kind.items():
            out.by_kind.setdefault(kind, []).extend(xs)
        out.errors.update(o.errors)
    clocks = set.intersection(*(set(o.cpu) for o in outcomes))
    out.cpu = {name: sum(o.cpu[name] for o in outcomes) for name in sorted(clocks)}
    return out


async def run_load(
    steps: list[Step],
    warmup: float,
    duration: float | None = None,
    requests: int | None = None,
    seed: int = 1,
    watch: dict[str, Clock] | None = None,
) -> Outcome:
    """Run each step function as one closed-loop user until `duration` seconds (or `requests`
    counted requests) after the warm-up; the answer times of the requests started after it, and the
    CPU time each clock of `watch` spent from the end of the warm-up to the last answer."""
    out = Outcome(len(steps), 0.0)
    t_start = time.perf_counter()
    measure_from = t_start + warmup
    stop_at = measure_from + duration if duration is not None else float("inf")
    done = asyncio.Event()
    clocks = watch or {}
    started: dict[str, float] = {}

    async def start_clocks() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        started.update({name: clock() for name, clock in clocks.items()})

    async def user(i: int, step: Step) -> None:
        rng = random.Random(seed * 100_003 + i)
        while not done.is_set():
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            try:
                kind, error = await step(rng)
            except HttpError as exc:
                kind, error = "broken", str(exc)
            t1 = time.perf_counter()
            if t0 >= measure_from and not done.is_set():
                out.latencies.append(t1 - t0)
                out.by_kind.setdefault(kind, []).append(t1 - t0)
                if error:
                    out.errors[f"{kind}: {error}"[:160]] += 1
                if requests is not None and len(out.latencies) >= requests:
                    done.set()

    starting = asyncio.create_task(start_clocks())
    tasks = [asyncio.create_task(user(i, s)) for i, s in enumerate(steps)]
    await asyncio.gather(*tasks)
    await starting
    out.cpu = {name: clock() - started[name] for name, clock in clocks.items()}
    out.seconds = time.perf_counter() - measure_from
    return out


# -- server processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log: str

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def rss_mb(self) -> float:
        """Resident memory of the server and its worker processes, in MB."""
        return sum(_rss_kb(p) for p in _tree(self.proc.pid)) / 1024

    def log_text(self) -> str:
        try:
            with open(self.log, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""


def wait_settled(proc: subprocess.Popen[bytes], workers: int, timeout: float = 120.0) -> None:
    """Wait until every worker process of a server has started and finished starting: the port
    answers as soon as one worker listens, and users who connect before the others are ready all go
    to that one and stay there (a keep-alive connection stays with its process). Measured at 50
    users, such a run gave 130 requests/s from one worker while the other served nothing. Ready:
    `workers` processes below the supervisor, and the whole tree idle (under 20 ms of CPU in 0.5 s)."""
    expected = 1 + workers if workers > 1 else 1  # the supervisor and its workers, or the one process
    t_end = time.monotonic() + timeout
    last = -1.0
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} while starting")
        tree = _tree(proc.pid)
        spent = sum(_cpu_of(p)[1] for p in tree)
        if len(tree) >= expected and 0 <= spent - last < 0.02:
            return
        last = spent
        time.sleep(0.5)
    raise RuntimeError(f"the server's {workers} worker processes were still starting after {timeout:.0f} s")


def start(cmd: list[str], env: dict[str, str], port: int, log: str, workers: int = 1) -> ServerProcess:
    """A server started with `cmd`, once it listens on `port` and all its `workers` have started."""
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    server = ServerProcess(proc, port, log)
    try:
        wait_port(port, proc)
        wait_settled(proc, workers)
    except RuntimeError:
        server.stop()
        print(server.log_text()[-3000:], file=sys.stderr)
        raise
    return server


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


# -- CPU clocks (Linux /proc, as the memory figures; a process that exits takes its CPU time with it) ---
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_of(pid: int, ended_children: bool = False) -> tuple[str, float]:
    """(command name, user + system CPU seconds) of a process; ("", 0.0) when it is gone. With
    `ended_children`, also the CPU of its children that have ended (and that it has waited for)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            head, rest = fh.read().rsplit(")", 1)
    except (OSError, ValueError):
        return "", 0.0
    fields = rest.split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if ended_children else 0)
    return head.split("(", 1)[-1], ticks / _TICK


def tree_cpu(pid: int) -> Clock:
    """The CPU seconds of a server: its process and its workers."""
    return lambda: sum(_cpu_of(p)[1] for p in _tree(pid))


def postgres_cpu(database: str) -> Clock:
    """The CPU seconds of the PostgreSQL processes working for `database`: its connections' backends
    and the server's own processes (WAL writer, checkpointer, …), not other databases' connections.

    A backend that ends between two readings (its connection closed) takes its CPU out of the sum:
    the floor's row once read -0.18 ms of PostgreSQL per request, when the backend of the VACUUM run
    before the load ended during it. So the server's own processes count with their ended children:
    the postmaster has waited for every backend that ended, and holds their CPU (whatever their
    database: the few that end during a load are this benchmark's)."""

    def spent() -> float:
        total = 0.0
        for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
            if not name.isdigit():
                continue
            command, cpu = _cpu_of(int(name), ended_children=True)
            if command != "postgres":
                continue
            try:
                with open(f"/proc/{name}/cmdline", encoding="utf-8", errors="replace") as fh:
                    words = fh.read().replace("\0", " ").split()
            except OSError:
                continue
            # a connection's backend reads "postgres: <cluster>: <user> <database> <host(port)> <state>"
            connection = any((w.endswith(")") and "(" in w) or w == "[local]" for w in words)
            if not connection or database in words:
                total += cpu
        return total

    return spent


def own_cpu() -> float:
    """The CPU seconds of this process: the load generator itself."""
    t = os.times()
    return t.user + t.system


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (every core: not idle, not waiting on the disk)."""
    try:
        with open("/proc/stat", encoding="utf-8") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / _TICK


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
