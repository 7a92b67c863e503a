"""Driving a URL with wrk and reading what it prints: throughput, latency percentiles, the
slowest response, and every kind of failure wrk counts."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

WRK = "wrk"
TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_TIME = r"([0-9.]+)(us|ms|s|m|h)"


class WrkOutputError(ValueError):
    """wrk printed something this parser does not understand (or nothing at all)."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run; latencies in milliseconds."""

    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    connect_errors: int = 0
    read_errors: int = 0
    write_errors: int = 0
    timeouts: int = 0
    non_2xx: int = 0

    @property
    def failures(self) -> int:
        """Requests that did not end in a 2xx/3xx response in time."""
        return (
            self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.timeouts
            + self.non_2xx
        )

    @property
    def failure_summary(self) -> str:
        """`0`, or how many failed of each kind: `32 timeouts, 22 non-2xx`."""
        kinds = [
            (self.timeouts, "timeouts"),
            (self.non_2xx, "non-2xx"),
            (self.connect_errors, "connect errors"),
            (self.read_errors, "read errors"),
            (self.write_errors, "write errors"),
        ]
        return ", ".join(f"{count} {kind}" for count, kind in kinds if count) or "0"


def parse_duration_ms(text: str) -> float:
    """wrk's time form (`850.00us`, `1.23ms`, `2.00s`, `1.50m`) in milliseconds."""
    match = re.fullmatch(_TIME, text.strip())
    if match is None:
        raise WrkOutputError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * TIME_UNITS_MS[match.group(2)]


def parse_wrk_output(output: str) -> WrkResult:
    """Read the report of `wrk --latency`. A run in which no response came back in time
    has infinite latencies."""
    latency = re.search(rf"^\s*Latency\s+{_TIME}\s+{_TIME}\s+{_TIME}", output, re.MULTILINE)
    p50 = re.search(rf"^\s*50(?:\.0+)?%\s+{_TIME}", output, re.MULTILINE)
    p99 = re.search(rf"^\s*99(?:\.0+)?%\s+{_TIME}", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in ", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s+([0-9.]+)", output, re.MULTILINE)
    missing = [
        name
        for name, match in (
            ("Latency", latency),
            ("50%", p50),
            ("99%", p99),
            ("requests in", total),
            ("Requests/sec", rate),
        )
        if match is None
    ]
    if missing or latency is None or p50 is None or p99 is None or total is None or rate is None:
        raise WrkOutputError(
            f"wrk output lacks {', '.join(missing)} (run with --latency?): {output[-300:]!r}"
        )
    # No latency sample at all (wrk prints zeros) means no response came back in time: wrk
    # leaves timed-out requests, and those still in flight at the end, out of its histogram.
    answered = _ms(latency.group(5), latency.group(6)) > 0
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = [int(value) for value in socket.groups()] if socket else [0, 0, 0, 0]
    return WrkResult(
        requests=int(total.group(1)),
        requests_per_second=float(rate.group(1)),
        p50_ms=_ms(p50.group(1), p50.group(2)) if answered else math.inf,
        p99_ms=_ms(p99.group(1), p99.group(2)) if answered else math.inf,
        max_ms=_ms(latency.group(5), latency.group(6)) if answered else math.inf,
        connect_errors=errors[0],
        read_errors=errors[1],
        write_errors=errors[2],
        timeouts=errors[3],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def wrk_command(
    url: str,
    *,
    duration: int,
    connections: int,
    threads: int = 2,
    timeout: int = 5,
    headers: Mapping[str, str] | None = None,
    script: str | None = None,
) -> list[str]:
    """The wrk command line; `timeout` is above the 1 s target so that slow responses are
    measured (wrk leaves timed-out requests out of its latencies and only counts them).
    `script` is a wrk Lua script (a path) that makes each request."""
    command = [
        WRK,
        f"-t{max(1, min(threads, connections))}",
        f"-c{connections}",
        f"-d{_seconds(duration)}",
        f"--timeout={_seconds(timeout)}",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", script]
    return [*command, url]


def run_wrk(command: list[str]) -> tuple[WrkResult, str]:
    """Run wrk and parse its report; its raw output comes back too, for the record."""
    if shutil.which(command[0]) is None:
        raise WrkOutputError("wrk is not installed (Debian: apt-get install -y wrk)")
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise WrkOutputError(f"wrk failed: {message[-1] if message else done.returncode}")
    return parse_wrk_output(done.stdout), done.stdout


def _ms(number: str, unit: str) -> float:
    return float(number) * TIME_UNITS_MS[unit]


def _seconds(value: int) -> str:
    """wrk takes whole seconds only."""
    return f"{int(value)}s"
