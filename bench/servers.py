"""The two servers under test, each its own process group on a free loopback port: started,
waited for until they answer, measured (RSS) and always stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


class ServerError(RuntimeError):
    """A server would not start or answer; the message says which and why in one line."""


@dataclass
class Server:
    name: str
    command: Sequence[str]  # "{port}" in an argument becomes the chosen port
    env: Mapping[str, str]
    log_path: Path
    cwd: Path | None = None
    port: int = field(default_factory=lambda: free_port())
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, ready_path: str = "/", headers: Mapping[str, str] | None = None) -> None:
        """Start the process in a new session (its own process group) and wait until
        `ready_path` answers."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [part.replace("{port}", str(self.port)) for part in self.command],
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with code {self.process.returncode} at start: "
                    f"{last_line(self.log_path)}"
                )
            if answers(self.base_url + ready_path, headers or {}):
                return
            time.sleep(0.2)
        raise ServerError(f"{self.name} did not answer within {START_TIMEOUT_SECONDS:.0f} s")

    def rss_bytes(self) -> int | None:
        """The server process's resident memory now (VmRSS), or None if it is gone."""
        if self.process is None or self.process.poll() is not None:
            return None
        return read_rss_bytes(self.process.pid)

    def stop(self) -> None:
        """SIGTERM to the whole process group, SIGKILL if it lingers."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
                return
            except subprocess.TimeoutExpired:
                continue


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def answers(url: str, headers: Mapping[str, str]) -> bool:
    """Whether an HTTP server answers at `url` at all: any status counts (an app that
    wants a login first answers too)."""
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def read_rss_bytes(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    return parse_vm_rss(status)


def parse_vm_rss(status: str) -> int | None:
    """VmRSS from the text of /proc/PID/status, in bytes."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            number, unit = line.split()[1:3]
            return int(number) * {"kB": 1024, "mB": 1024**2, "gB": 1024**3}.get(unit, 1)
    return None


def last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    return lines[-1] if lines else "(no output)"
