"""The listening sockets of `sanad serve --workers N`: one per worker on the one port, where the
system spreads connections over them (Linux's SO_REUSEPORT).

With one socket shared by every worker, Linux wakes the worker that waited last for a connection
(epoll's wake-ups are last in, first out), and the same worker took most of the connections:
fifty users connecting one after the other went 40 to one worker and 10 to the other, and the
users of the busy one waited twice as long (a p95 of 375 ms where the mean was under 200). With a
socket each, the system picks a worker by a hash of each connection's addresses: about as many each.

The supervisor (`Supervisor`) is uvicorn's, but it starts, restarts and adds workers each with its
own socket. It keeps every socket open itself, so a connection that waits in the socket of a worker
that died is answered by the worker that replaces it. Elsewhere (no SO_REUSEPORT), every worker
shares one socket, as before."""

from __future__ import annotations

import logging
import socket
import sys

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("uvicorn.error")

#: queued connections per socket while the workers start (or one restarts)
BACKLOG = 2048


def spread() -> bool:
    """Can connections be spread over a socket per worker here?"""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def supervisor(config: Config, sock: socket.socket, workers: int) -> Multiprocess:
    """The supervisor of `workers` processes serving on the port `sock` is bound to: a socket each
    where the system can spread connections over them (`sock` then closed), else `sock` shared.
    An OSError: the port could not be listened on."""
    if spread():
        return Supervisor(config, one_each(sock, workers))
    sock.listen(BACKLOG)  # connections wait in the queue while the workers start
    return Multiprocess(config, sockets=[sock])


def one_each(first: socket.socket, workers: int) -> list[socket.socket]:
    """`workers` listening sockets on the address `first` is bound to, `first` closed. `first` was
    bound without SO_REUSEPORT, so a port another server holds failed there, with a clear message; a
    server started later on the same port fails as well (its first socket cannot join these)."""
    host, port = first.getsockname()[:2]
    family = first.family
    first.close()
    out: list[socket.socket] = []
    try:
        for _ in range(workers):
            out.append(listener(family, host, port))
    except OSError:
        for s in out:
            s.close()
        raise
    return out


def listener(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    """One listening socket of the set (SO_REUSEPORT), inherited by the worker it is given to."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class Supervisor(Multiprocess):
    """uvicorn's supervisor, each worker `i` listening on `sockets[i]` alone."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets=sockets[:1])
        self.each = sockets

    def _start(self, i: int) -> Process:
        process = Process(self.config, [self.each[i]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._start(i) for i in range(self.processes_num)]

    def keep_subprocess_alive(self) -> None:
        # uvicorn's, the worker that replaces a dead one given its socket
        if self.should_exit.is_set():
            return
        for i, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung, or dead
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # the app cannot start: it would fail again
                logger.error(f"Child process [{process.pid}] failed to start, stopping the parent process.")
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info(f"Child process [{process.pid}] died")
            self.processes[i] = self._start(i)

    def restart_all(self) -> None:
        # SIGHUP: each worker in turn stopped and started again on its socket (connections wait there)
        for i, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            old.terminate()
            old.join()
            self.processes[i] = self._start(i)

    def handle_ttin(self) -> None:
        # one more worker, with a socket of its own
        first = self.each[0]
        self.each.append(listener(first.family, *first.getsockname()[:2]))
        self.processes_num += 1
        self.processes.append(self._start(len(self.processes)))

    def handle_ttou(self) -> None:
        # one worker less; its socket closed with it (what waited there is refused)
        if self.processes_num <= 1:
            return
        self.processes_num -= 1
        process = self.processes.pop()
        process.terminate()
        process.join()
        self.each.pop().close()
