"""The server as an operator runs it, in a real process: direct HTTPS from
`server.certfile`/`keyfile`, and SIGTERM that stops taking connections, lets a request in
flight finish and exits 0."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import REPO, run_main, write_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(config: Path, cwd: Path) -> subprocess.Popen[str]:
    """`python -m webapp --config config`, once it says it is serving."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WEBAPP_")}
    environment["PYTHONPATH"] = str(REPO)
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp", "--config", str(config)],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        if "webapp: serving" in line:
            return process
        if not line:
            break
    process.kill()
    pytest.fail("the server did not start:\n" + "".join(seen))


@pytest.fixture
def server_config(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    port = free_port()
    body = (
        "database:\n  url: sqlite+aiosqlite:///app.db\n  demo: true\n"
        f"server:\n  host: 127.0.0.1\n  port: {port}\n  shutdown_timeout: 10\n"
    )
    yield write_config(tmp_path, body), port


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_direct_tls_serves_https(tmp_path: Path, server_config: tuple[Path, int]) -> None:
    config, port = server_config
    self_signed(tmp_path)
    with config.open("a", encoding="utf-8") as file:
        file.write("  certfile: cert.pem\n  keyfile: key.pem\n")
    process = start_server(config, tmp_path)
    try:
        context = ssl.create_default_context(cafile=tmp_path / "cert.pem")
        context.check_hostname = False
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/healthz", context=context, timeout=10
        ) as response:
            assert response.status == 200 and response.read() == b"ok\n"
        with pytest.raises(OSError):  # plain HTTP is not spoken there
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10).read()
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


def test_a_key_that_does_not_fit_is_one_line(tmp_path: Path, server_config) -> None:
    config, _ = server_config
    _cert, key = self_signed(tmp_path)
    key.write_text("not a key\n", encoding="utf-8")
    with config.open("a", encoding="utf-8") as file:
        file.write("  certfile: cert.pem\n  keyfile: key.pem\n")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WEBAPP_")}
    result = subprocess.run(
        [sys.executable, "-m", "webapp", "--config", str(config)],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("webapp: error: cannot use server.certfile/keyfile: ")
    assert "Traceback" not in result.stderr


def test_sigterm_lets_a_request_in_flight_finish_then_exits_0(
    tmp_path: Path, server_config: tuple[Path, int]
) -> None:
    config, port = server_config
    process = start_server(config, tmp_path)
    try:
        # A request whose body is still coming when SIGTERM arrives: it is in flight.
        body = b"username=someone&password=wrong&csrf_token=x&next=%2F"
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        client.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10]
        )
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        with pytest.raises(OSError):  # no new connections are taken
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        assert process.poll() is None  # still finishing the request
        client.sendall(body[10:])
        answer = client.recv(65536)
        client.close()
        assert answer.startswith(b"HTTP/1.1 "), answer[:200]
        assert int(answer.split()[1]) < 500
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_taken_port_is_one_line_that_suggests_another(tmp_path: Path) -> None:
    config = write_config(tmp_path, "database:\n  url: sqlite+aiosqlite:///taken.db\n")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_main("--config", str(config), "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"webapp: error: port {port} on 127.0.0.1 is already in use; "
        f"start on another with --port {port + 1}"
    )
