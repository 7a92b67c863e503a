"""The catalogs for a schema that changed while the app runs. At startup a `tables:` option
naming something the database does not have stops the app; later the database, not the
config, changed, so such an option is logged and skipped, and the app serves on, never
showing what the config hides."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from webapp.schema.catalog import (
    Catalog,
    CatalogOptionsError,
    apply_table_options,
    copy_catalog,
    role_catalogs,
)
from webapp.settings import TableOptions

log = logging.getLogger(__name__)


def rebuilt_catalogs(
    reflected: Catalog,
    options: Mapping[str, TableOptions],
    previous: Catalog,
    carried: Mapping[str, frozenset[str]],
) -> tuple[Catalog, dict[str, Catalog], dict[str, frozenset[str]]]:
    """The catalog and per-role catalogs for a freshly reflected schema, and the columns
    hidden for caution (see `usable_options`). Unlike at startup, a configured option that
    names a table or column the database no longer has is logged and skipped, not fatal:
    the app keeps serving every other table."""
    usable, carried_on = usable_options(reflected, options, previous, carried)
    catalog = copy_catalog(reflected)
    apply_table_options(catalog, usable)
    return catalog, role_catalogs(reflected, usable), carried_on


def usable_options(
    reflected: Catalog,
    options: Mapping[str, TableOptions],
    previous: Catalog,
    carried: Mapping[str, frozenset[str]],
) -> tuple[dict[str, TableOptions], dict[str, frozenset[str]]]:
    """`options` without the names `reflected` lacks. A change of schema must never show
    what the config hides: when a hidden column vanishes, the columns that appeared beside
    it (it may have been renamed) are hidden too, for as long as they exist (`carried`, by
    the option's key, in and out); a table whose options still do not fit (a column changed
    type) is hidden until the config is fixed."""
    usable: dict[str, TableOptions] = {}
    carried_on: dict[str, frozenset[str]] = {}
    for name, table_options in options.items():
        info = reflected.tables.get(name)
        if info is None:
            log.warning("config: tables.%s: the database has no %r any more; skipped", name, name)
            continue
        keys = frozenset(column.name for column in info.primary_key)
        pruner = _Pruner(
            prefix=f"tables.{name}",
            known=frozenset(info.table.columns.keys()),
            before=_previous_columns(previous, name),
            keys=keys,
            carried=carried,
            carried_on=carried_on,
        )
        pruned = pruner.options(table_options)
        try:
            apply_table_options(copy_catalog(Catalog(tables={name: info})), {name: pruned})
        except CatalogOptionsError as exc:
            log.warning("config: %s; the table is hidden until the config fits again", exc)
            pruned = TableOptions(hidden=True)
        usable[name] = pruned
    return usable, carried_on


def _previous_columns(previous: Catalog, name: str) -> frozenset[str]:
    """The columns `name` had when last reflected (all of them, hidden ones included): every
    table of a catalog shares the metadata of one reflection, hidden tables included."""
    some = next(iter(previous.tables.values()), None)
    table = some.table.metadata.tables.get(name) if some is not None else None
    return frozenset(table.columns.keys()) if table is not None else frozenset()


@dataclass
class _Pruner:
    """One table's options cut down to the columns it has now."""

    prefix: str
    known: frozenset[str]  # the columns now
    before: frozenset[str]  # the columns at the previous reflection
    keys: frozenset[str]
    carried: Mapping[str, frozenset[str]]
    carried_on: dict[str, frozenset[str]]

    def kept(self, key: str, names: tuple[str, ...] | frozenset[str]) -> list[str]:
        for name in sorted(set(names) - self.known):
            log.warning("config: %s.%s: no column %r any more; skipped", self.prefix, key, name)
        return [name for name in names if name in self.known]

    def hidden(self, key: str, names: frozenset[str]) -> frozenset[str]:
        full_key = f"{self.prefix}.{key}"
        cautious = self.carried.get(full_key, frozenset()) & self.known
        if (names | cautious) & self.before - self.known:
            appeared = self.known - self.before - self.keys
            if appeared:
                log.warning(
                    "config: %s: a hidden column vanished; %s, which appeared with it, "
                    "stay hidden too until the config names them",
                    full_key,
                    ", ".join(sorted(appeared)),
                )
            cautious |= appeared
        if cautious:
            self.carried_on[full_key] = cautious
        return frozenset(self.kept(key, names)) | cautious

    def options(self, options: TableOptions) -> TableOptions:
        hidden = self.hidden("hidden_columns", options.hidden_columns)
        roles = {
            role: replace(
                rules,
                hidden_columns=self.hidden(f"roles.{role}.hidden_columns", rules.hidden_columns),
                read_only_columns=frozenset(
                    self.kept(f"roles.{role}.read_only_columns", rules.read_only_columns)
                ),
            )
            for role, rules in options.roles.items()
        }

        def visible(key: str, names: tuple[str, ...] | frozenset[str]) -> tuple[str, ...]:
            return tuple(name for name in self.kept(key, names) if name not in hidden)

        sort = options.sort
        if sort and not visible("sort", (sort.removeprefix("-"),)):
            sort = None
        label = options.label_column
        if label and not visible("label_column", (label,)):
            label = None
        return replace(
            options,
            columns=visible("columns", options.columns),
            hidden_columns=hidden,
            search_columns=visible("search_columns", options.search_columns),
            facet_columns=visible("facet_columns", options.facet_columns),
            label_column=label,
            sort=sort,
            read_only_columns=frozenset(visible("read_only_columns", options.read_only_columns)),
            roles=roles,
        )
