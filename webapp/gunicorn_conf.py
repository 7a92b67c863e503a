"""gunicorn settings for serving webapp (`gunicorn -c python:webapp.gunicorn_conf
webapp.app:gunicorn_app`): aiohttp's worker class, and in the master, before any worker
starts, what `python -m webapp` does first: migrate the app's tables, fill the demo when asked
and print the one-time sign-in link while no user exists. Other gunicorn options (`--bind`,
`--workers`, `--graceful-timeout`) come from its command line as usual."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

worker_class = "aiohttp.GunicornWebWorker"


def on_starting(server: Any) -> None:
    """Prepare the database once, so the workers do not race to create tables; empty the
    metrics directory (PROMETHEUS_MULTIPROC_DIR) of an earlier run's files."""
    import os
    from pathlib import Path

    from webapp.accounts.lifecycle import NoUsersError, first_run
    from webapp.app import gunicorn_config_path
    from webapp.database.engine import StartupError
    from webapp.demo import prepare_demo
    from webapp.settings import SettingsError, load_settings
    from webapp.web.metrics import MULTIPROCESS_VARIABLE

    if os.environ.get(MULTIPROCESS_VARIABLE):
        for stale in Path(os.environ[MULTIPROCESS_VARIABLE]).glob("*.db"):
            stale.unlink(missing_ok=True)
    try:
        settings = load_settings(gunicorn_config_path())
        # gunicorn chooses the address; the loopback check is first_run's, so ask it about
        # the address gunicorn binds.
        host = str(server.cfg.bind[0]).rsplit(":", 1)[0] if server.cfg.bind else settings.host
        settings = settings.with_overrides(host=host.strip("[]"))
        token = asyncio.run(first_run(settings))
        asyncio.run(prepare_demo(settings))
    except (SettingsError, NoUsersError, StartupError) as exc:
        print(f"webapp: error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    if token is not None:
        print(
            "webapp: no user exists yet. Open /login/token/" + token + " on this server to sign "
            "in as the first admin (valid once).",
            flush=True,
        )


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: its live gauges leave the metrics' sums (its counters stay)."""
    from webapp.web.metrics import mark_process_dead

    mark_process_dead(worker.pid)
