"""Imports as jobs: an uploaded file waits in this process (its mapping chosen on a page)
while a dry run or the import runs as a task that outlives the request which started it, so
its progress page can be left, reopened and cancelled. Jobs are kept per process and
bounded: a few at a time, one running per table, each forgotten an hour after it was last
used (a second server process behind a balancer does not see them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.changes.audit import AuditTrail
from webapp.changes.change_sets import close_change_set, open_change_set
from webapp.changes.import_files import FileRefused, FileShape, Record, read_records
from webapp.changes.imports import (
    ImportCancelled,
    ImportInvalid,
    ImportPlan,
    ImportProgress,
    MappingRefused,
    RowsRefused,
    check_rows,
    import_rows,
)
from webapp.changes.writes import write_transaction

log = logging.getLogger(__name__)

MAX_JOBS = 16  # uploads kept at once in this process
MAX_RUNNING = 2  # dry runs and imports running at once in this process
JOB_TTL = 3600.0  # seconds a job is kept after it was last used
STOP_WAIT = 10.0  # seconds shutdown waits for a cancelled job to roll back

# A job's states: waiting for its mapping (or for the real run after a dry run), running,
# and how its last run ended.
READY, CHECKING, IMPORTING = "ready", "checking", "importing"
CHECKED, IMPORTED, FAILED, CANCELLED = "checked", "imported", "failed", "cancelled"
REFUSED = "refused"  # the database refused the import (FAILED: the file or mapping is wrong)
RUNNING = (CHECKING, IMPORTING)


class JobsBusy(Exception):
    """No room for another upload or run now; the message says what to do."""


@dataclass
class ImportJob:
    """One uploaded file and what was done with it: the table and who uploaded it, the
    file's shape, the last mapping chosen, and the state and progress of its last run."""

    table: str
    user_id: int | None
    username: str
    filename: str
    file: IO[bytes]
    shape: FileShape
    id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    state: str = READY
    plan: ImportPlan | None = None
    progress: ImportProgress = field(default_factory=ImportProgress)
    message: str = ""
    change_set_id: int | None = None
    task: asyncio.Task[None] | None = None
    touched: float = field(default_factory=time.monotonic)

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    def read(self) -> Iterator[Record]:
        """The file's records from its start."""
        return read_records(self.file, self.shape.format, self.shape.delimiter)[1]

    def source(self) -> str:
        """Where the rows came from, for the change set's entry."""
        mode = self.plan.mode if self.plan is not None else "insert"
        return f"file {self.filename!r} ({self.shape.rows:,} rows, {mode})"


class ImportJobs:
    """This process's import jobs, by id."""

    def __init__(self) -> None:
        self.jobs: dict[str, ImportJob] = {}

    def add(self, job: ImportJob) -> None:
        """Keep `job`; JobsBusy when MAX_JOBS are kept and none can be forgotten."""
        self._forget_old()
        if len(self.jobs) >= MAX_JOBS:
            idle = [j for j in self.jobs.values() if not j.running]
            if not idle:
                raise JobsBusy("Too many imports are running; try again in a few minutes.")
            self._drop(min(idle, key=lambda j: j.touched))
        self.jobs[job.id] = job

    def get(self, job_id: str, table: str, user_id: int | None) -> ImportJob | None:
        """The job, if it is this table's and this user's."""
        job = self.jobs.get(job_id)
        if job is None or job.table != table or job.user_id != user_id:
            return None
        job.touched = time.monotonic()
        return job

    def start(
        self,
        job: ImportJob,
        plan: ImportPlan,
        sessionmaker: async_sessionmaker[AsyncSession],
        trail: AuditTrail,
        *,
        dry_run: bool,
    ) -> None:
        """Run a dry run or the import of `job` as a task; JobsBusy when this table already
        has one running or MAX_RUNNING run."""
        running = [j for j in self.jobs.values() if j.running]
        if any(j.table == job.table for j in running):
            raise JobsBusy(
                f"An import into {job.table} is running; wait for it to end or cancel it."
            )
        if len(running) >= MAX_RUNNING:
            raise JobsBusy("Other imports are running; try again when they end.")
        job.plan = plan
        job.progress = ImportProgress(total=job.shape.rows)
        job.state = CHECKING if dry_run else IMPORTING
        job.message = ""
        job.change_set_id = None
        job.task = asyncio.create_task(self._run(job, sessionmaker, trail, dry_run=dry_run))

    async def _run(
        self,
        job: ImportJob,
        sessionmaker: async_sessionmaker[AsyncSession],
        trail: AuditTrail,
        *,
        dry_run: bool,
    ) -> None:
        assert job.plan is not None
        job.state, job.message = await run_import(
            sessionmaker, trail, job.plan, job, job.progress, dry_run=dry_run
        )
        job.change_set_id = trail.change_set_id if job.state == IMPORTED else None
        job.touched = time.monotonic()

    async def close(self) -> None:
        """At shutdown: ask running jobs to stop (they roll back), wait a bounded time, and
        let the uploaded files go."""
        tasks = []
        for job in self.jobs.values():
            job.progress.cancel = True
            if job.task is not None and not job.task.done():
                tasks.append(job.task)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_WAIT)
            for task in pending:
                task.cancel()
        for job in list(self.jobs.values()):
            self._drop(job)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for job in list(self.jobs.values()):
            if not job.running and now - job.touched > JOB_TTL:
                self._drop(job)

    def _drop(self, job: ImportJob) -> None:
        self.jobs.pop(job.id, None)
        with contextlib.suppress(OSError):
            job.file.close()


async def run_import(
    sessionmaker: async_sessionmaker[AsyncSession],
    trail: AuditTrail,
    plan: ImportPlan,
    job: ImportJob | FileSource,
    progress: ImportProgress,
    *,
    dry_run: bool,
) -> tuple[str, str]:
    """A dry run (read only) or the import (one transaction and change set, audited as
    `trail`'s user) of `job`'s file; returns the state it ended in and a sentence saying
    how. Used by the import pages' jobs and by the command line."""
    try:
        async with sessionmaker() as session:
            if dry_run:
                conn = await session.connection()
                await check_rows(conn, plan, job.read, progress)
                return CHECKED, _checked_sentence(progress)
            async with write_transaction(session, trail) as conn:
                await open_change_set(conn, trail, "import", plan.info, job.source())
                count = await import_rows(conn, plan, job.read, progress)
                await close_change_set(conn, trail, count)
            return IMPORTED, _imported_sentence(progress)
    except ImportCancelled:
        return CANCELLED, "Cancelled: nothing was written."
    except ImportInvalid as exc:
        return FAILED, f"{exc.count:,} rows cannot be imported, so nothing was written."
    except (FileRefused, MappingRefused) as exc:
        return FAILED, f"{exc} Nothing was written."
    except RowsRefused as exc:
        return REFUSED, refusal_sentence(exc)
    except StatementError as exc:
        return REFUSED, "The database refused the import, so nothing was written: " + _first(exc)
    except Exception:
        log.exception("import into %s failed", plan.info.name)
        return REFUSED, "The import failed unexpectedly, so nothing was written."


@dataclass
class FileSource:
    """A file on disk as run_import reads it (the command line's)."""

    path: str
    shape: FileShape
    file: IO[bytes]

    def read(self) -> Iterator[Record]:
        return read_records(self.file, self.shape.format, self.shape.delimiter)[1]

    def source(self) -> str:
        return f"file {self.path!r} ({self.shape.rows:,} rows)"


def refusal_sentence(exc: RowsRefused) -> str:
    where = f"line {exc.first}" if exc.first == exc.last else f"lines {exc.first}-{exc.last}"
    return f"The database refused a row in {where}, so nothing was written: {_first(exc.cause)}"


def _first(exc: StatementError) -> str:
    detail = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    return detail[0][:300] if detail else ""


def _checked_sentence(progress: ImportProgress) -> str:
    if progress.error_count:
        return f"{progress.error_count:,} rows cannot be imported; nothing was written."
    return (
        f"Every row can be imported: {progress.inserted:,} would be inserted and "
        f"{progress.updated:,} updated. Nothing was written."
    )


def _imported_sentence(progress: ImportProgress) -> str:
    return (
        f"Imported: {progress.inserted:,} rows inserted, {progress.updated:,} updated"
        + (f", {progress.unchanged:,} already as in the file" if progress.unchanged else "")
        + "."
    )
