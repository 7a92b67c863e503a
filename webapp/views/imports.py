"""Importing a file into a table (editors): the upload form; then the file's page, where its
columns are mapped to the table's (matched by name, changeable), a dry run checks every row,
and the import runs as one change set. Dry runs and imports are jobs
(webapp.changes.import_jobs): the page shows their progress, refreshing itself without
JavaScript while they run, and can cancel them."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

import aiohttp_jinja2
from aiohttp import web

from webapp.accounts.roles import request_catalog, require_write
from webapp.accounts.signin import current_user
from webapp.changes.import_files import (
    DELIMITERS,
    FORMATS,
    SNIFF_BYTES,
    FileRefused,
    file_shape,
    guess_format,
)
from webapp.changes.import_jobs import (
    CANCELLED,
    CHECKED,
    IMPORTED,
    ImportJob,
    ImportJobs,
    JobsBusy,
)
from webapp.changes.imports import (
    MODES,
    ImportPlan,
    MappingRefused,
    check_plan,
    default_mapping,
    importable_columns,
)
from webapp.schema.catalog import TableInfo
from webapp.views.common import audit_trail, request_dialect
from webapp.views.set_list import set_href
from webapp.web.appkeys import IMPORT_JOBS, SESSIONMAKER, SETTINGS
from webapp.web.csrf import request_csrf_token
from webapp.web.errors import BadRequest, Conflict, NotFound
from webapp.web.request_body import body_limit, read_form
from webapp.web.urls import import_url, table_url

REFRESH_SECONDS = 2


async def import_jobs_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: this process's import jobs; at shutdown running ones are cancelled
    (rolled back) and uploaded files let go."""
    app[IMPORT_JOBS] = ImportJobs()
    yield
    await app[IMPORT_JOBS].close()


async def import_form(request: web.Request) -> web.Response:
    """The upload form: a file, its format and delimiter."""
    info = _writable_table(request)
    return _render_upload(request, info, await request_csrf_token(request))


def _upload_limit(request: web.Request) -> int:
    return request.app[SETTINGS].bulk_max_file_bytes + 64 * 1024  # the form's other fields


@body_limit(_upload_limit, cap=2**40)
async def upload(request: web.Request) -> web.Response:
    """Keep the uploaded file as a job after reading it once (its columns, its row count:
    refused here when it holds more rows than a bulk change may touch)."""
    info = _writable_table(request)
    form = await read_form(request)
    sent = form.get("file")
    if not isinstance(sent, web.FileField):
        raise BadRequest("Choose a CSV or JSON file to import.")
    format_ = str(form.get("format", "auto"))
    delimiter_choice = str(form.get("delimiter", "sniff"))
    if format_ not in ("auto", *FORMATS):
        raise BadRequest(f"The format must be one of auto, {', '.join(FORMATS)}.")
    delimiter = {"tab": "\t"}.get(delimiter_choice, delimiter_choice)
    if delimiter != "sniff" and delimiter not in DELIMITERS:
        raise BadRequest("Choose the delimiter from the list, or let it be sniffed.")
    sent.file.seek(0, 2)
    size, most = sent.file.tell(), request.app[SETTINGS].bulk_max_file_bytes
    if size > most:
        raise BadRequest(f"The file is {size:,} bytes; an import accepts at most {most:,} bytes.")
    # aiohttp closes the upload's own temporary file when the request ends; the job keeps
    # a copy of its own.
    binary = await asyncio.to_thread(_copy, sent.file)
    if format_ == "auto":
        binary.seek(0)
        format_ = guess_format(sent.filename or "", binary.read(SNIFF_BYTES))
    try:
        shape = await asyncio.to_thread(
            file_shape, binary, format_, None if delimiter == "sniff" else delimiter
        )
        limit = request.app[SETTINGS].bulk_max_rows
        if shape.rows > limit:
            raise BadRequest(
                f"The file holds {shape.rows:,} rows; an import may hold at most {limit:,}. "
                "Split it into smaller files."
            )
        if shape.rows == 0:
            raise BadRequest("The file holds no rows below its header.")
    except FileRefused as exc:
        binary.close()
        raise BadRequest(str(exc)) from None
    except BadRequest:
        binary.close()
        raise
    user = current_user(request)
    job = ImportJob(
        table=info.name,
        user_id=user.id if user is not None else None,
        username=user.username if user is not None else "",
        filename=sent.filename or "upload",
        file=binary,
        shape=shape,
    )
    try:
        request.app[IMPORT_JOBS].add(job)
    except JobsBusy as exc:
        binary.close()
        raise Conflict(str(exc)) from None
    raise web.HTTPSeeOther(_job_href(info, job))


async def job_page(request: web.Request) -> web.Response:
    """The file's page: its mapping form, its running job's progress, or how its last run
    ended (the first errors with their line numbers, or the change set it made)."""
    info, job = _job(request)
    dialect = request_dialect(request)
    plan = job.plan
    chosen = dict(plan.columns) if plan else default_mapping(info, job.shape.columns, dialect)
    progress = job.progress
    left = progress.seconds_left()
    context = {
        "info": info,
        "job": job,
        "table_href": table_url(info.name),
        "post_href": _job_href(info, job),
        "import_href": import_url(info.name),
        "targets": [column.name for column in importable_columns(info, dialect)],
        "mapping": [
            (index, name, chosen.get(name, "")) for index, name in enumerate(job.shape.columns)
        ],
        "mode": plan.mode if plan else "insert",
        "empty_is_null": plan.empty_is_null if plan else True,
        "modes": MODES,
        "delimiter_name": DELIMITERS.get(job.shape.delimiter, job.shape.delimiter),
        "running": job.running,
        "refresh": REFRESH_SECONDS if job.running else None,
        "percent": int(100 * progress.done / progress.total) if progress.total else 0,
        "rate": int(progress.rate()),
        "seconds_left": int(left) if left is not None else None,
        "checked": job.state == CHECKED,
        "imported": job.state == IMPORTED,
        "cancelled": job.state == CANCELLED,
        "set_href": set_href(job.change_set_id) if job.change_set_id else None,
        "csrf_token": await request_csrf_token(request),
    }
    return aiohttp_jinja2.render_template("import_job.html", request, context)


async def job_action(request: web.Request) -> web.Response:
    """Start a dry run or the import with the mapping sent, or cancel the running one."""
    info, job = _job(request)
    form = await read_form(request)
    action = str(form.get("action", ""))
    if action == "cancel":
        job.progress.cancel = True
        raise web.HTTPSeeOther(_job_href(info, job))
    if action not in ("dry_run", "import"):
        raise BadRequest("The action must be dry_run, import or cancel.")
    if job.running:
        raise Conflict("This file is being imported or checked; wait for it, or cancel it.")
    targets = {column.name for column in info.columns}
    columns: dict[str, str] = {}
    for index, name in enumerate(job.shape.columns):
        target = str(form.get(f"map{index}", ""))
        if target:
            if target not in targets:
                raise BadRequest(f"The table has no column {target!r} to map {name!r} to.")
            columns[name] = target
    plan = ImportPlan(
        info,
        columns,
        mode=str(form.get("mode", "insert")),
        empty_is_null=form.get("empty", "null") != "text",
    )
    try:
        check_plan(plan, request_dialect(request))
    except MappingRefused as exc:
        raise BadRequest(str(exc)) from None
    try:
        request.app[IMPORT_JOBS].start(
            job,
            plan,
            request.app[SESSIONMAKER],
            audit_trail(request),
            dry_run=action == "dry_run",
        )
    except JobsBusy as exc:
        raise Conflict(str(exc)) from None
    raise web.HTTPSeeOther(_job_href(info, job))


def _copy(upload: IO[bytes]) -> IO[bytes]:
    """A temporary file of the job's own holding the upload (deleted when closed)."""
    copy = tempfile.TemporaryFile()  # noqa: SIM115 - the job owns it and closes it
    upload.seek(0)
    shutil.copyfileobj(upload, copy, 1024 * 1024)
    return copy


def _writable_table(request: web.Request) -> TableInfo:
    info = request_catalog(request).by_slug(request.match_info["table"])
    require_write(request, info)
    return info


def _job(request: web.Request) -> tuple[TableInfo, ImportJob]:
    info = _writable_table(request)
    user = current_user(request)
    job = request.app[IMPORT_JOBS].get(
        request.match_info["job"], info.name, user.id if user is not None else None
    )
    if job is None:
        raise NotFound(
            "No such import: it ended more than an hour ago, the server restarted, or it is "
            "another user's. Upload the file again."
        )
    return info, job


def _job_href(info: TableInfo, job: ImportJob) -> str:
    return f"{import_url(info.name)}/{job.id}"


def _render_upload(request: web.Request, info: TableInfo, csrf_token: str) -> web.Response:
    settings = request.app[SETTINGS]
    context: dict[str, Any] = {
        "info": info,
        "table_href": table_url(info.name),
        "post_href": import_url(info.name),
        "delimiters": [("tab" if d == "\t" else d, name) for d, name in DELIMITERS.items()],
        "max_rows": settings.bulk_max_rows,
        "max_bytes": settings.bulk_max_file_bytes,
        "csrf_token": csrf_token,
    }
    return aiohttp_jinja2.render_template("import.html", request, context)
