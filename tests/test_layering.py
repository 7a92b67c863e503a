"""The architecture, checked: no module of webapp imports itself back through others, and
each package depends only on the packages ALLOWED names for it. Imports are read from the
source (ast), at run time: those inside `if TYPE_CHECKING:` name types for the type checker
only and are left out; imports inside functions count."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "webapp"

# Package (or top-level module) -> what it may import at run time. The layers, bottom up:
# the foundations (settings and the small modules beside it), `web` (HTTP plumbing) and
# `database`, then `values`, `schema`, then `listing`, `changes` and `accounts`, then
# `views`; `app`, `demo` and the command line put it all together.
FOUNDATIONS = {"clock", "secret_key", "settings", "ttl_cache"}
ALLOWED: dict[str, set[str]] = {
    "clock": set(),
    "ttl_cache": set(),
    "secret_key": set(),
    "settings": {"secret_key"},
    # web/error_pages.py puts a database's failures into words (too slow, unreachable).
    "web": FOUNDATIONS | {"database"},
    # The request's session and the pool share of expensive queries hang off the app under
    # web's keys, and a pool that is too busy is the app's refusal (web/errors.py).
    "database": FOUNDATIONS | {"web"},
    "values": FOUNDATIONS | {"database"},
    "schema": FOUNDATIONS | {"web", "database", "values"},
    "listing": FOUNDATIONS | {"web", "database", "values", "schema"},
    # The audit table is one of the app's own tables, defined and migrated with the users'
    # (accounts/models.py).
    "changes": FOUNDATIONS | {"web", "database", "values", "schema", "accounts"},
    "accounts": FOUNDATIONS | {"web", "database", "schema"},
    # The SQL console: its own read-only connections, the table page's cells and downloads.
    "console": FOUNDATIONS | {"web", "database", "listing", "accounts"},
    "views": FOUNDATIONS
    | {"web", "database", "values", "schema", "listing", "changes", "accounts", "console"},
    # The JSON API: the pages' twins, composed from what the pages use.
    "api": FOUNDATIONS
    | {"web", "database", "values", "schema", "listing", "changes", "accounts", "views"},
    "demo": FOUNDATIONS | {"web", "database", "schema"},
    "app": FOUNDATIONS
    | {"web", "database", "schema", "listing", "accounts", "console", "views", "api", "demo"},
    # `import TABLE FILE` runs the import pages' dry run and import (changes/import_command.py).
    "__main__": FOUNDATIONS
    | {"web", "database", "schema", "accounts", "changes", "app", "demo", "workers"},
    # `--workers N`: the supervising parent and the worker processes it starts.
    "workers": FOUNDATIONS | {"web", "database", "schema", "app"},
    # gunicorn's settings: the master prepares the database as `python -m webapp` does.
    "gunicorn_conf": FOUNDATIONS | {"web", "database", "accounts", "app", "demo"},
    "__init__": set(),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def package_of(module: str) -> str:
    """`webapp.web.csrf` -> `web`; `webapp.settings` -> `settings`; `webapp` -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def runtime_imports(tree: ast.AST) -> Iterator[str]:
    """The modules a module imports when it runs (not under `if TYPE_CHECKING:`)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (name for child in node.orelse for name in runtime_imports(child))
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            yield node.module
            # `from webapp.database import pg_text` imports the module pg_text.
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        yield from runtime_imports(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_graph() -> dict[str, set[str]]:
    """Module -> the webapp modules it imports at run time."""
    paths = sorted(ROOT.rglob("*.py"))
    modules = {module_name(path): path for path in paths}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        # Importing a module runs its parent packages first (those of the importing module
        # itself are already running). The root package imports nothing: not an edge.
        imported = {
            ".".join(name.split(".")[:end])
            for name in runtime_imports(tree)
            for end in range(2, name.count(".") + 2)
        }
        graph[module] = {
            name
            for name in imported
            if name in modules and name != module and not module.startswith(name + ".")
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of modules, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)) is not None:
            return cycle
    return None


def test_the_graph_sees_the_imports_it_should() -> None:
    graph = import_graph()
    assert "webapp.web.appkeys" in graph["webapp.views.table"]
    assert "webapp.database.pg_text" in graph["webapp.database.dialects"]  # from-import
    # Type-only imports are not run-time dependencies.
    assert "webapp.accounts.store" not in graph["webapp.web.appkeys"]


def test_no_module_imports_itself_back() -> None:
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_packages_depend_only_on_what_the_table_allows() -> None:
    graph = import_graph()
    packages = {package_of(module) for module in graph}
    assert packages == set(ALLOWED), "a package was added or removed: update ALLOWED"
    outside = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if package_of(target) != package_of(module)
        and package_of(target) not in ALLOWED[package_of(module)]
    )
    assert outside == []


def test_the_table_allows_nothing_unused() -> None:
    """Every allowed dependency is used, so the table stays the true picture (anything may
    use the foundations)."""
    graph = import_graph()
    used = {
        (package_of(module), package_of(target))
        for module, targets in graph.items()
        for target in targets
        if package_of(target) != package_of(module)
    }
    unused = sorted(
        f"{package} -> {target}"
        for package, targets in ALLOWED.items()
        for target in targets - FOUNDATIONS
        if (package, target) not in used
    )
    assert unused == []
