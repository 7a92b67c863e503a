"""CI's packaging check: build the wheel, install it into a fresh virtual environment outside
the checkout, start the `webapp` console script on a SQLite database on a free port, sign in
with the first-run link and fetch a page and a static file. Exits non-zero on any failure.

Run with the checkout's root as the current directory: `python3 .ci/wheel_check.py`."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str | Path, cwd: Path) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"wheel check: {' '.join(map(str, command))} failed:\n{result.stderr}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="webapp-wheel-") as temp:
        work = Path(temp)
        run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", ROOT, "-w", work, cwd=work)
        wheel = next(work.glob("webapp-*.whl"))
        run(sys.executable, "-m", "venv", work / "venv", cwd=work)
        run(work / "venv/bin/pip", "install", "-q", wheel, cwd=work)
        version = run(work / "venv/bin/webapp", "--version", cwd=work).strip()
        if not re.fullmatch(r"webapp \d+\.\d+\.\d+\S*", version):
            sys.exit(f"wheel check: --version printed {version!r}")
        port = free_port()
        config = work / "config.yaml"
        config.write_text(
            "database:\n  url: sqlite+aiosqlite:///demo.db\n  demo: true\n"
            f"server:\n  host: 127.0.0.1\n  port: {port}\n",
            encoding="utf-8",
        )
        environment = {k: v for k, v in os.environ.items() if not k.startswith("WEBAPP_")}
        server = subprocess.Popen(
            [work / "venv/bin/webapp", "--config", config],
            cwd=work,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            fetch_pages(server, port)
        finally:
            server.terminate()
            server.wait(timeout=20)
        print(f"wheel check: {wheel.name} installed, {version}, served pages on port {port}")


def fetch_pages(server: subprocess.Popen[str], port: int) -> None:
    """Wait for the first-run sign-in link, follow it (a page asking for a password), then
    fetch a stylesheet: the templates and static files came from inside the installed package."""
    assert server.stdout is not None
    deadline = time.monotonic() + 60
    output: list[str] = []
    link = None
    while link is None:
        line = server.stdout.readline()
        if not line or time.monotonic() > deadline:
            sys.exit("wheel check: the server did not start:\n" + "".join(output))
        output.append(line)
        found = re.search(rf"http://127\.0\.0\.1:{port}/login/token/\S+", line)
        link = found.group(0) if found else None
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(link, timeout=20) as response:
        home = response.read().decode()
    if response.status != 200 or "· webapp</title>" not in home:
        sys.exit(f"wheel check: signing in gave {response.status}:\n{home[:500]}")
    with opener.open(f"http://127.0.0.1:{port}/static/app.css", timeout=20) as response:
        if response.status != 200 or not response.read():
            sys.exit("wheel check: /static/app.css is missing")


if __name__ == "__main__":
    main()
