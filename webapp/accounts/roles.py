"""What the signed-in user may do (authorization): roles rank viewer < editor < admin, each
role sees its own catalog, and one gate decides every write."""

from __future__ import annotations

from aiohttp import web

from webapp.accounts.signin import current_user
from webapp.accounts.store import ROLES, UserState
from webapp.schema.catalog import Catalog, TableInfo
from webapp.web.appkeys import ROLE_CATALOGS
from webapp.web.errors import Forbidden

RANK = {role: rank for rank, role in enumerate(ROLES)}
WRITE_ROLE = "editor"  # the lowest role that may change rows (where the table allows it)


def has_role(user: UserState | None, role: str) -> bool:
    """Whether `user` holds `role` or a higher one."""
    return user is not None and RANK.get(user.role, -1) >= RANK[role]


def require_role(request: web.Request, role: str) -> UserState:
    """The signed-in user if they hold `role` or a higher one; Forbidden otherwise."""
    user = current_user(request)
    if not has_role(user, role):
        raise Forbidden(f"This needs the {role} role.")
    assert user is not None
    return user


def request_catalog(request: web.Request) -> Catalog:
    """The tables, columns and relations the signed-in user's role may see: what every page
    reads instead of the whole catalog, so a hidden table or column is on none of them."""
    user = current_user(request)
    if user is None:
        raise Forbidden("Sign in first.")
    return request.app[ROLE_CATALOGS][user.role]


def write_refusal(request: web.Request, info: TableInfo) -> str | None:
    """The gate for writes: why the signed-in user may not create, edit, delete or revert
    rows of `info`, or None when they may. It combines two facts: the table's own
    (`TableInfo.read_only_reason`: a view, no primary key, read-only by configuration for
    everyone or for this role) and the user's role (WRITE_ROLE or higher). Every write
    handler asks it, through `require_write`, before it reads the form or writes; the table
    and record pages ask it to offer or explain the buttons. The write functions
    (webapp.changes.writes) check only the columns a write sets."""
    if info.read_only_reason:
        return info.read_only_reason
    user = current_user(request)
    if user is not None and user.read_only:
        return "This API token is read-only."
    if not has_role(user, WRITE_ROLE):
        role = user.role if user is not None else "anonymous"
        return f"Your role ({role}) can view records but not change them."
    return None


def require_write(request: web.Request, info: TableInfo) -> None:
    """Forbidden, with the gate's reason, unless `write_refusal` lets the user change rows
    of `info`."""
    reason = write_refusal(request, info)
    if reason is not None:
        raise Forbidden(reason)
