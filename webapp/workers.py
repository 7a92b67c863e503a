"""`python -m webapp --workers N`: N worker processes serve one port, each with its own
listening socket (SO_REUSEPORT, so the kernel spreads connections over them), under a parent
that only supervises. A worker that dies is logged and replaced; the workers end with the
parent (PR_SET_PDEATHSIG on Linux); SIGTERM or Ctrl+C to the parent ends every worker
gracefully and the parent exits 0. The web tier keeps nothing in a process (sessions live in
the encrypted cookie, sign-in throttling in the database), so any worker serves any request."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from webapp.settings import Settings
from webapp.web.metrics import MULTIPROCESS_VARIABLE, mark_process_dead

log = logging.getLogger("webapp.workers")

# How long the workers get to start (reflect the schema, migrate nothing: the parent did).
START_TIMEOUT = 120.0
# A worker that dies sooner than this after it started is replaced only after a pause, so a
# worker that cannot start does not spin the machine.
QUICK_DEATH_SECONDS = 5.0
RESTART_PAUSE = 1.0
# Linux prctl(2) option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"


@dataclass
class Worker:
    """One worker slot's current process and the pipe it says "serving" on."""

    number: int
    process: BaseProcess
    ready: Connection
    started: float
    serving: bool = False


def serve_workers(settings: Settings, count: int, announce: Callable[[], None]) -> int:
    """Run `count` workers until SIGTERM/SIGINT; the exit code for the parent."""
    supervisor = Supervisor(settings, count)
    return supervisor.run(announce)


class Supervisor:
    """The parent: starts the workers, replaces one that dies, ends them all on a signal."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.settings = settings
        self.count = count
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[Worker] = []
        self.stopping = False

    def run(self, announce: Callable[[], None]) -> int:
        with metrics_directory():
            return self._run(announce)

    def _run(self, announce: Callable[[], None]) -> int:
        previous = {
            number: signal.signal(number, self._on_signal)
            for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        }
        try:
            self.workers = [self._start(number) for number in range(1, self.count + 1)]
            code = self._wait_until_serving()
            if code is not None:
                self._stop()
                return code
            announce()
            self._supervise()
            return 0
        finally:
            self._stop()
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _on_signal(self, number: int, _frame: FrameType | None) -> None:
        if number == signal.SIGHUP:  # re-read the schema: every worker does
            for worker in self.workers:
                with contextlib.suppress(ProcessLookupError, TypeError):
                    os.kill(worker.process.pid or 0, signal.SIGHUP)
            return
        self.stopping = True

    def _start(self, number: int) -> Worker:
        reader, writer = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=worker_main,
            args=(self.settings, writer, os.getpid()),
            name=f"webapp-worker-{number}",
            daemon=False,
        )
        process.start()
        writer.close()
        return Worker(number, process, reader, time.monotonic())

    def _wait_until_serving(self) -> int | None:
        """None once every worker serves; an exit code when one could not start."""
        deadline = time.monotonic() + START_TIMEOUT
        while not self.stopping and not all(worker.serving for worker in self.workers):
            if time.monotonic() > deadline:
                log.error("the workers did not start within %d s", START_TIMEOUT)
                return 1
            self._read_ready(timeout=0.25)
            for worker in self.workers:
                if not worker.serving and not worker.process.is_alive():
                    return worker.process.exitcode or 1
        return None if not self.stopping else 0

    def _read_ready(self, timeout: float) -> None:
        waiting = [worker.ready for worker in self.workers if not worker.serving]
        sentinels = [worker.process.sentinel for worker in self.workers]
        for ready in wait([*waiting, *sentinels], timeout=timeout):
            for worker in self.workers:
                if ready is worker.ready:
                    with contextlib.suppress(EOFError, OSError):
                        worker.serving = worker.ready.recv() == "serving"

    def _supervise(self) -> None:
        while not self.stopping:
            self._read_ready(timeout=0.25)
            for index, worker in enumerate(self.workers):
                if worker.process.is_alive() or self.stopping:
                    continue
                lived = time.monotonic() - worker.started
                log.warning(
                    "worker %d (pid %s) ended with exit code %s after %.0f s; starting another",
                    worker.number,
                    worker.process.pid,
                    worker.process.exitcode,
                    lived,
                )
                worker.ready.close()
                if worker.process.pid is not None:
                    mark_process_dead(worker.process.pid)
                if lived < QUICK_DEATH_SECONDS:
                    time.sleep(RESTART_PAUSE)
                self.workers[index] = self._start(worker.number)

    def _stop(self) -> None:
        """SIGTERM to every worker (each finishes its requests in flight within
        `server.shutdown_timeout`), then SIGKILL to any still there after that and a margin."""
        alive = [worker.process for worker in self.workers if worker.process.is_alive()]
        for process in alive:
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(process.pid or 0, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_timeout + 5.0
        for process in alive:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("worker pid %s did not end in time; killing it", process.pid)
                process.kill()
                process.join(5.0)
        for worker in self.workers:
            worker.ready.close()
        self.workers = [worker for worker in self.workers if worker.process.is_alive()]


@contextlib.contextmanager
def metrics_directory() -> Iterator[None]:
    """The directory where every worker writes its metrics, so `/metrics` on any of them
    gives the sums over all: PROMETHEUS_MULTIPROC_DIR as given (emptied of an earlier run's
    files), else a new temporary one, removed at the end."""
    given = os.environ.get(MULTIPROCESS_VARIABLE)
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink(missing_ok=True)
        yield
        return
    with tempfile.TemporaryDirectory(prefix="webapp-metrics-") as directory:
        os.environ[MULTIPROCESS_VARIABLE] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_VARIABLE]


def worker_main(settings: Settings, ready: Connection, parent_pid: int) -> None:
    """One worker process: serve on the shared port until SIGTERM (or the parent's end)."""
    die_with_parent()
    if os.getppid() != parent_pid:  # the parent ended before the line above took effect
        sys.exit(0)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    from aiohttp import web

    from webapp.app import create_app
    from webapp.database.engine import StartupError
    from webapp.schema.watch import reload_on_sighup
    from webapp.web.access_log import configure_access_log
    from webapp.web.tls import tls_context

    configure_access_log(settings.access_log)
    app = create_app(settings)
    reload_on_sighup(app)

    def serving(_: str) -> None:
        ready.send("serving")
        ready.close()

    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            reuse_port=True,
            access_log=None,
            print=serving,
            shutdown_timeout=settings.shutdown_timeout,
            ssl_context=tls_context(settings),
            handle_signals=True,
        )
    except StartupError as exc:
        print(f"webapp: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except OSError as exc:
        print(
            f"webapp: error: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)


def die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent ends (killed or crashed), so no
    worker outlives the supervisor; elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def reserve_port(host: str) -> tuple[socket.socket, int]:
    """A free port on `host` for `server.port: 0`, held by a bound (not listening) socket
    that shares it (SO_REUSEPORT) until the workers listen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((host, 0))
    return holder, int(holder.getsockname()[1])
