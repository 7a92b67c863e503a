"""Servers as an operator runs them, in real processes: free loopback ports, a config file for a
test database, `python -m webapp` (or gunicorn, haproxy) with its output collected while it
runs, plain HTTP requests, and a process's children. For the tests of workers, the balancer and
the service as deployed; test modules import from here or from helpers, never from conftest."""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tests.helpers import REPO, TEST_PASSWORD, run_main

FAST_HASHING_YAML = "  password_hash: {time_cost: 1, memory_kib: 64, parallelism: 1}\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_config(
    directory: Path,
    db_url: str,
    port: int,
    extra: str = "",
    *,
    server: str = "",
    auth: str = "",
) -> Path:
    """A config for `db_url` on 127.0.0.1:`port` with cheap password hashing; `extra` is more
    YAML (top-level sections), `server` and `auth` more lines of those sections. The secret
    key file lands beside it, shared by every process started with it."""
    path = directory / "config.yaml"
    path.write_text(
        f"database:\n  url: {db_url}\n  schema_check_interval: 0\n"
        f"server:\n  host: 127.0.0.1\n  port: {port}\n  shutdown_timeout: 10\n{server}"
        f"auth:\n{FAST_HASHING_YAML}{auth}" + extra,
        encoding="utf-8",
    )
    return path


def add_user(config: Path, name: str, role: str = "admin") -> None:
    result = run_main(
        "user", "add", name, "--role", role, "--config", str(config), stdin=TEST_PASSWORD + "\n"
    )
    assert result.returncode == 0, result.stderr


class Running:
    """A started process whose merged output a thread keeps reading into `lines`."""

    def __init__(self, command: Sequence[str], cwd: Path, env: dict[str, str] | None = None):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("WEBAPP_")}
        environment["PYTHONPATH"] = str(REPO)
        environment.update(env or {})
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 90.0) -> re.Match[str]:
        """The first output line matching `pattern`, waiting for it at most `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = re.search(pattern, line)
                if match:
                    return match
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r}; output:\n{self.output()}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, and the exit code (SIGKILL past `timeout`, then the assertion fails)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(f"did not end within {timeout} s:\n{self.output()}") from None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait(timeout=10)


def start_webapp(config: Path, *args: str) -> Running:
    """`python -m webapp --config CONFIG ARGS`, once it says it is serving."""
    running = Running(
        [sys.executable, "-m", "webapp", "--config", str(config), *args], cwd=config.parent
    )
    try:
        running.wait_for(r"^webapp: serving ")
    except AssertionError:
        running.kill()
        raise
    return running


def children(pid: int) -> list[int]:
    """The pids whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its closing paren
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(predicate, timeout: float = 30.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


class Browser:
    """A cookie-keeping HTTP client on one base address (urllib, one connection a request),
    like a browser that is sent to different servers of one service."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirects()
        )

    def request(
        self,
        path: str,
        data: dict[str, str] | None = None,
        base: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, dict[str, str]]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request((base or self.base) + path, data=body)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), dict(exc.headers)

    def form_token(self, path: str, base: str | None = None) -> str:
        status, body, _ = self.request(path, base=base)
        match = re.search(r'name="csrf_token" value="([^"]+)"', body)
        assert match, f"no form on {path} ({status}): {body[:300]}"
        return match.group(1)

    def sign_in(self, name: str, password: str = TEST_PASSWORD, base: str | None = None) -> int:
        token = self.form_token("/login", base=base)
        status, _, _ = self.request(
            "/login",
            {"csrf_token": token, "username": name, "password": password, "next": "/"},
            base=base,
        )
        return status


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to look at, not to follow."""

    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None
