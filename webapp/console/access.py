"""Who may use the SQL console. It sees every table and column the database account sees, so
the per-table and per-column rules of config.yaml cannot apply inside it: a role those rules
narrow is refused unless `sql.allow_with_rules` says otherwise."""

from __future__ import annotations

from collections.abc import Mapping

from webapp.settings import ROLES, SqlSettings, TableOptions


def console_refusal(
    role: str | None, sql: SqlSettings, tables: Mapping[str, TableOptions]
) -> str | None:
    """Why `role` may not use the console, or None when it may."""
    if role is None or role not in sql.roles:
        allowed = ", ".join(role for role in ROLES if role in sql.roles) or "no role"
        return f"The SQL console is open to: {allowed} (sql.roles)."
    if sql.allow_with_rules:
        return None
    for name, options in tables.items():
        narrowed = options.for_role(role)
        if narrowed.hidden or narrowed.hidden_columns:
            return (
                f"The SQL console would show what config.yaml hides from the {role} role "
                f"(table {name}); set sql.allow_with_rules to open it anyway."
            )
    return None
