"""Typed settings: `config.yaml`, then `WEBAPP_*` environment variables, then command-line
flags. Every mistake is reported as one `SettingsError` line naming the key at fault."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webapp.secret_key import SecretKeyError, load_secret_key, random_secret_key

if TYPE_CHECKING:  # SQLAlchemy and YAML load when settings are read, not when imported
    from sqlalchemy.engine import URL

SUPPORTED_DRIVERS = {
    "sqlite+aiosqlite": "sqlite",
    "mysql+aiomysql": "mysql",
    "mariadb+aiomysql": "mysql",
    "postgresql+asyncpg": "postgresql",
}

DEFAULT_PAGE_SIZE = 50
DEFAULT_MAX_PAGE_SIZE = 500
DEFAULT_SEARCH_CHUNK_ROWS = 50_000
TABLE_PREFIX_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,29}$")
ROLES = ("viewer", "editor", "admin")  # from least to most trusted


MAX_WORKERS = 64
ACCESS_LOG_MODES = ("off", "plain", "json")


class SettingsError(Exception):
    """A configuration mistake, phrased for the person who made it."""


@dataclass(frozen=True)
class RoleRules:
    """What `tables.<name>.roles.<role>:` takes away from one role on one table; rules only
    narrow what the role may do, never widen it."""

    hidden: bool = False  # the table is a 404 for the role, as if it did not exist
    read_only: bool = False  # the role may view rows but not create, edit or delete them
    hidden_columns: frozenset[str] = frozenset()
    read_only_columns: frozenset[str] = frozenset()


ROLE_RULE_KEYS = frozenset(RoleRules.__dataclass_fields__)


@dataclass(frozen=True)
class TableOptions:
    """What `config.yaml` says about one table under `tables:`. Every field is optional; the
    names are checked against the reflected catalog at startup (catalog.apply_table_options).
    Later per-table rules (roles, say) belong here too."""

    columns: tuple[str, ...] = ()  # what the table page lists, in order; empty: all
    hidden_columns: frozenset[str] = frozenset()  # never shown, filtered, sorted or searched
    search_columns: tuple[str, ...] = ()  # empty: a FULLTEXT index's columns, else text columns
    facet_columns: tuple[str, ...] = ()  # empty: enums, booleans and foreign keys
    label_column: str | None = None  # names a row in links; None: a name-like text column
    sort: str | None = None  # default order: `col` or `-col`; None: the primary key
    page_size: int | None = None  # rows per page; None: pages.size
    read_only: bool = False
    hidden: bool = False  # not shown anywhere, as if the table did not exist
    read_only_columns: frozenset[str] = frozenset()  # shown, never changed through the app
    roles: Mapping[str, RoleRules] = field(default_factory=dict)  # narrowing per role
    # Set only on a role's merged options (see `for_role`): the table is read-only because of
    # the role's rules, so the refusal can say so.
    read_only_for_role: str | None = None

    def for_role(self, role: str) -> TableOptions:
        """These options narrowed by `role`'s rules: its hidden and read-only columns added,
        and listed, searched, faceted, label and sort columns it may not see dropped."""
        rules = self.roles.get(role)
        if rules is None:
            return self
        hidden = self.hidden_columns | rules.hidden_columns

        def visible(names: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(name for name in names if name not in hidden)

        sort = self.sort if self.sort and self.sort.removeprefix("-") not in hidden else None
        return replace(
            self,
            columns=visible(self.columns),
            hidden_columns=hidden,
            search_columns=visible(self.search_columns),
            facet_columns=visible(self.facet_columns),
            label_column=self.label_column if self.label_column not in hidden else None,
            sort=sort,
            hidden=self.hidden or rules.hidden,
            read_only_columns=(self.read_only_columns | rules.read_only_columns) - hidden,
            read_only_for_role=role if rules.read_only and not self.read_only else None,
            roles={},
        )


TABLE_OPTION_KEYS = frozenset(TableOptions.__dataclass_fields__) - {"read_only_for_role"}


@dataclass(frozen=True)
class DatabaseSettings:
    url: URL
    demo: bool = False
    pool_size: int = 5
    pool_timeout: float = 5.0
    # Every wait on the database has a bound (README, "Bounded waits"): a connection is made
    # (TCP, handshake, sign-in) within connect_timeout; a statement runs at most
    # statement_timeout, and the driver gives up on a silent server READ_MARGIN later; a
    # row or table lock is waited for at most lock_timeout; a pooled connection is waited
    # for at most pool_timeout.
    connect_timeout: float = 10.0
    statement_timeout: float = 10.0
    # How often the running app compares a fingerprint of the database's tables and columns
    # with its catalog, and re-reflects when they differ (0: only on errors and SIGHUP).
    schema_check_interval: float = 30.0
    # The longest a re-reflection may take; past it the app keeps the catalog it has.
    schema_reload_timeout: float = 30.0
    lock_timeout: float = 10.0
    # Connections searches, unindexed filters and sorts, facets, counts and downloads may
    # hold at once (None: half the pool); the rest stay free for page views and sign-in.
    expensive_connections: int | None = None
    # How long such a page's query may run before the page says it took too long.
    expensive_time_limit: float = 5.0

    @property
    def backend(self) -> str:
        """`sqlite`, `mysql` or `postgresql`: the family the URL's driver belongs to."""
        return SUPPORTED_DRIVERS[self.url.drivername]


@dataclass(frozen=True)
class PasswordHashSettings:
    """Argon2id cost parameters; a stored hash made with others is redone at next sign-in."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4


@dataclass(frozen=True)
class AuthSettings:
    """Sign-in, sessions and where the app keeps its own tables."""

    idle_timeout: int = 3600
    table_prefix: str = "webapp_"
    database_url: URL | None = None
    login_window: int = 900
    max_failures_per_user: int = 5
    max_failures_per_address: int = 20
    # Failures of one name from all addresses together: a ceiling well above the per-address
    # limit, so that locking an owner out takes many addresses.
    max_failures_per_user_total: int = 100
    sign_in_link_ttl: int = 900
    password_hash: PasswordHashSettings = field(default_factory=PasswordHashSettings)
    # Password hashes computed at once (each takes password_hash.memory_kib); more wait.
    # One by default: a burst of sign-ins then costs one hash's memory, not one per
    # sign-in (each is a fraction of a second, so they queue briefly).
    max_concurrent_hashes: int = 1
    # A session ends this long after its sign-in, however active it is.
    max_session_age: int = 43200


@dataclass(frozen=True)
class SqlSettings:
    """The SQL console (`sql:`): who may use it and the bounds every run has."""

    roles: frozenset[str] = frozenset({"admin"})  # roles that may open /sql
    time_limit: float = 10.0  # seconds one statement may run, enforced by the database
    max_rows: int = 1000  # rows the page shows; downloads stream every row
    # The account the console connects as (MySQL/PostgreSQL): a reader with SELECT only is
    # what stops server-level statements (SET GLOBAL, files, programs). None: database.url.
    database_url: URL | None = None
    connections: int = 2  # console statements that may run at once (its own pool)
    # Whether a role that tables.*.roles or hidden columns narrow may still use the console,
    # which sees every table and column the database account sees.
    allow_with_rules: bool = False


@dataclass(frozen=True)
class ApiSettings:
    """The JSON API (`api:`). Browsers on other sites may call it (with a token, never a
    cookie) only from the origins listed here; none by default."""

    cors_origins: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MetricsSettings:
    """Who may read `/metrics` besides a signed-in admin: a caller sending this bearer token,
    and callers from these addresses or networks (the client address, after
    `server.trusted_proxies`)."""

    token: str | None = field(default=None, repr=False)
    allow: tuple[IPv4Network | IPv6Network, ...] = ()


MIN_METRICS_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings
    host: str = "127.0.0.1"
    port: int = 8080
    page_size: int = DEFAULT_PAGE_SIZE
    max_page_size: int = DEFAULT_MAX_PAGE_SIZE
    # The most rows one request reads, in primary-key order, for a search no index answers.
    search_chunk_rows: int = DEFAULT_SEARCH_CHUNK_ROWS
    tables: Mapping[str, TableOptions] = field(default_factory=dict)
    secret_key: bytes = field(default_factory=random_secret_key, repr=False)
    auth: AuthSettings = field(default_factory=AuthSettings)
    sql: SqlSettings = field(default_factory=SqlSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    # How long a client may take to send a request body, how long a download may make no
    # progress (the client stopped reading), and how long shutdown waits for requests to end.
    body_timeout: float = 60.0
    send_timeout: float = 30.0
    shutdown_timeout: float = 10.0
    # Peers whose Forwarded / X-Forwarded-* headers name the client (a reverse proxy).
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    # Serve HTTPS directly with this certificate chain and private key (both or neither).
    certfile: Path | None = None
    keyfile: Path | None = None
    # The most rows one bulk change (delete, set a column) may touch.
    bulk_max_rows: int = 100_000
    # The largest file an import accepts (its upload's body limit).
    bulk_max_file_bytes: int = 64 * 1024 * 1024
    # Worker processes `python -m webapp` starts on the one port (a parent supervises them).
    workers: int = 1
    # One line per request in the `webapp.access` log: off, plain or json (JSON lines).
    access_log: str = "off"

    @property
    def hidden_table_prefix(self) -> str | None:
        """The prefix of tables the data browser must not show: the app's own, when they live
        in the connected database."""
        return self.auth.table_prefix if self.auth.database_url is None else None

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def load_settings(
    path: Path | None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read `path` (YAML; may be None for defaults only) and apply environment overrides."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path is not None:
        base_dir = path.resolve().parent
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError(f"{path}: cannot read the file ({exc.strerror})") from None
        import yaml

        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise SettingsError(f"{path}: not valid YAML{where}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise SettingsError(f"{path}: the top level must be a mapping of settings")
        raw = loaded
    try:
        return _build_settings(raw, environ, base_dir)
    except SettingsError as exc:
        prefix = f"{path}: " if path is not None else ""
        raise SettingsError(f"{prefix}{exc}") from None


def settings_for_url(url: str, **changes: Any) -> Settings:
    """Settings for a database URL with defaults elsewhere: what tests and tools start from."""
    database = DatabaseSettings(url=_parse_url(url, "database.url", Path.cwd()))
    return Settings(database=database, **changes)


def _build_settings(raw: dict[str, Any], environ: Mapping[str, str], base_dir: Path) -> Settings:
    _reject_unknown(
        raw,
        {"database", "server", "pages", "tables", "auth", "bulk", "sql", "api", "metrics"},
        "",
    )
    bulk_raw = _section(raw, "bulk")
    _reject_unknown(bulk_raw, {"max_rows", "max_file_bytes"}, "bulk.")
    database_raw = _section(raw, "database")
    server_raw = _section(raw, "server")
    pages_raw = _section(raw, "pages")
    _reject_unknown(
        database_raw,
        {
            "url",
            "demo",
            "pool_size",
            "pool_timeout",
            "connect_timeout",
            "statement_timeout",
            "schema_check_interval",
            "schema_reload_timeout",
            "lock_timeout",
            "expensive_connections",
            "expensive_time_limit",
        },
        "database.",
    )
    _reject_unknown(
        server_raw,
        {
            "host",
            "port",
            "body_timeout",
            "send_timeout",
            "shutdown_timeout",
            "trusted_proxies",
            "certfile",
            "keyfile",
            "workers",
            "access_log",
        },
        "server.",
    )
    _reject_unknown(pages_raw, {"size", "max_size", "search_chunk_rows"}, "pages.")

    url_text = environ.get("WEBAPP_DATABASE_URL") or database_raw.get("url")
    if not url_text:
        raise SettingsError("database.url is missing (or set WEBAPP_DATABASE_URL)")
    # A URL given in the environment points at somebody's own database: never fill it with
    # demo tables unless they ask for that too.
    demo_default = False if environ.get("WEBAPP_DATABASE_URL") else database_raw.get("demo", False)
    demo = _bool(environ.get("WEBAPP_DATABASE_DEMO", demo_default), "database.demo")

    url_key = "WEBAPP_DATABASE_URL" if environ.get("WEBAPP_DATABASE_URL") else "database.url"
    database = DatabaseSettings(
        url=_parse_url(str(url_text), url_key, base_dir),
        demo=demo,
        pool_size=_int(database_raw.get("pool_size", 5), "database.pool_size", 1, 1000),
        pool_timeout=_number(database_raw.get("pool_timeout", 5.0), "database.pool_timeout"),
        connect_timeout=_number(
            database_raw.get("connect_timeout", 10.0), "database.connect_timeout"
        ),
        statement_timeout=_number(
            database_raw.get("statement_timeout", 10.0), "database.statement_timeout"
        ),
        schema_check_interval=_number(
            database_raw.get("schema_check_interval", 30.0),
            "database.schema_check_interval",
            allow_zero=True,
        ),
        schema_reload_timeout=_number(
            database_raw.get("schema_reload_timeout", 30.0), "database.schema_reload_timeout"
        ),
        lock_timeout=_number(database_raw.get("lock_timeout", 10.0), "database.lock_timeout"),
        expensive_connections=(
            None
            if database_raw.get("expensive_connections") is None
            else _int(
                database_raw["expensive_connections"], "database.expensive_connections", 1, 1000
            )
        ),
        expensive_time_limit=_number(
            database_raw.get("expensive_time_limit", 5.0), "database.expensive_time_limit"
        ),
    )
    host = str(environ.get("WEBAPP_HOST") or server_raw.get("host", "127.0.0.1"))
    port_key = "WEBAPP_PORT" if environ.get("WEBAPP_PORT") else "server.port"
    port = _int(environ.get("WEBAPP_PORT") or server_raw.get("port", 8080), port_key, 0, 65535)
    max_page_size = _int(
        pages_raw.get("max_size", DEFAULT_MAX_PAGE_SIZE), "pages.max_size", 1, 10_000
    )
    page_size = _int(pages_raw.get("size", DEFAULT_PAGE_SIZE), "pages.size", 1, max_page_size)
    tables = table_options(raw.get("tables") or {}, max_page_size)
    certfile, keyfile = _tls_files(server_raw, base_dir)
    auth = _auth_settings(_section(raw, "auth"), environ, base_dir)
    try:
        secret_key = load_secret_key(environ, base_dir)
    except SecretKeyError as exc:
        raise SettingsError(str(exc)) from None
    return Settings(
        database=database,
        host=host,
        port=port,
        page_size=page_size,
        max_page_size=max_page_size,
        search_chunk_rows=_int(
            pages_raw.get("search_chunk_rows", DEFAULT_SEARCH_CHUNK_ROWS),
            "pages.search_chunk_rows",
            1,
            100_000_000,
        ),
        tables=tables,
        secret_key=secret_key,
        auth=auth,
        sql=_sql_settings(_section(raw, "sql"), environ, base_dir, database.backend),
        api=_api_settings(_section(raw, "api")),
        metrics=_metrics_settings(_section(raw, "metrics"), environ),
        body_timeout=_number(server_raw.get("body_timeout", 60.0), "server.body_timeout"),
        send_timeout=_number(server_raw.get("send_timeout", 30.0), "server.send_timeout"),
        shutdown_timeout=_number(
            server_raw.get("shutdown_timeout", 10.0), "server.shutdown_timeout"
        ),
        bulk_max_rows=_int(bulk_raw.get("max_rows", 100_000), "bulk.max_rows", 1, 100_000_000),
        bulk_max_file_bytes=_int(
            bulk_raw.get("max_file_bytes", 64 * 1024 * 1024), "bulk.max_file_bytes", 1024, 2**40
        ),
        trusted_proxies=_networks(server_raw.get("trusted_proxies"), "server.trusted_proxies"),
        certfile=certfile,
        keyfile=keyfile,
        workers=_int(server_raw.get("workers", 1), "server.workers", 1, MAX_WORKERS),
        access_log=_access_log_mode(server_raw.get("access_log", "off")),
    )


def _access_log_mode(value: Any) -> str:
    # YAML reads a bare `off` as false.
    text = "off" if value is False else str(value).strip().lower()
    if text not in ACCESS_LOG_MODES:
        raise SettingsError(f"server.access_log must be off, plain or json, not {value!r}")
    return text


def _networks(value: Any, key: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """A list of addresses or networks (`10.0.0.5`, `10.0.0.0/8`, `::1`)."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list):
        raise SettingsError(f"{key} must be a list of addresses or networks, like [10.0.0.0/8]")
    networks = []
    for item in value:
        try:
            networks.append(ip_network(str(item), strict=False))
        except ValueError:
            raise SettingsError(f"{key}: {item!r} is not an IP address or network") from None
    return tuple(networks)


def _tls_files(server_raw: dict[str, Any], base_dir: Path) -> tuple[Path | None, Path | None]:
    """`server.certfile` and `server.keyfile`: both or neither, each a readable file
    (relative paths are relative to the config file)."""
    given = {key: server_raw.get(key) for key in ("certfile", "keyfile")}
    if (given["certfile"] is None) != (given["keyfile"] is None):
        raise SettingsError("server.certfile and server.keyfile go together: set both or neither")
    if given["certfile"] is None:
        return None, None
    paths = []
    for key, value in given.items():
        path = base_dir / str(value)
        if not path.is_file() or not os.access(path, os.R_OK):
            raise SettingsError(f"server.{key}: {path} is not a readable file")
        paths.append(path)
    return paths[0], paths[1]


def _auth_settings(raw: dict[str, Any], environ: Mapping[str, str], base_dir: Path) -> AuthSettings:
    _reject_unknown(
        raw,
        {
            "idle_timeout",
            "table_prefix",
            "database_url",
            "login_window",
            "max_failures_per_user",
            "max_failures_per_address",
            "max_failures_per_user_total",
            "sign_in_link_ttl",
            "password_hash",
            "max_concurrent_hashes",
            "max_session_age",
        },
        "auth.",
    )
    hash_raw = raw.get("password_hash") or {}
    if not isinstance(hash_raw, dict):
        raise SettingsError("auth.password_hash must be a mapping")
    _reject_unknown(hash_raw, {"time_cost", "memory_kib", "parallelism"}, "auth.password_hash.")
    parallelism = _int(hash_raw.get("parallelism", 4), "auth.password_hash.parallelism", 1, 64)
    password_hash = PasswordHashSettings(
        time_cost=_int(hash_raw.get("time_cost", 3), "auth.password_hash.time_cost", 1, 100),
        memory_kib=_int(
            hash_raw.get("memory_kib", 65536),
            "auth.password_hash.memory_kib",
            8 * parallelism,
            4 * 1024 * 1024,
        ),
        parallelism=parallelism,
    )
    prefix = str(raw.get("table_prefix", "webapp_"))
    if not TABLE_PREFIX_PATTERN.match(prefix):
        raise SettingsError(
            "auth.table_prefix must start with a letter and hold only letters, digits and _ "
            f"(at most 30), not {prefix!r}"
        )
    url_text = environ.get("WEBAPP_AUTH_DATABASE_URL") or raw.get("database_url")
    url_key = (
        "WEBAPP_AUTH_DATABASE_URL"
        if environ.get("WEBAPP_AUTH_DATABASE_URL")
        else ("auth.database_url")
    )
    return AuthSettings(
        idle_timeout=_int(raw.get("idle_timeout", 3600), "auth.idle_timeout", 60, 30 * 86400),
        table_prefix=prefix,
        database_url=_parse_url(str(url_text), url_key, base_dir) if url_text else None,
        login_window=_int(raw.get("login_window", 900), "auth.login_window", 1, 86400),
        max_failures_per_user=_int(
            raw.get("max_failures_per_user", 5), "auth.max_failures_per_user", 1, 10_000
        ),
        max_failures_per_address=_int(
            raw.get("max_failures_per_address", 20), "auth.max_failures_per_address", 1, 100_000
        ),
        max_failures_per_user_total=_int(
            raw.get("max_failures_per_user_total", 100),
            "auth.max_failures_per_user_total",
            1,
            1_000_000,
        ),
        sign_in_link_ttl=_int(
            raw.get("sign_in_link_ttl", 900), "auth.sign_in_link_ttl", 10, 7 * 86400
        ),
        password_hash=password_hash,
        max_concurrent_hashes=_int(
            raw.get("max_concurrent_hashes", 1), "auth.max_concurrent_hashes", 1, 256
        ),
        max_session_age=_int(
            raw.get("max_session_age", 43200), "auth.max_session_age", 60, 365 * 86400
        ),
    )


def _sql_settings(
    raw: dict[str, Any], environ: Mapping[str, str], base_dir: Path, backend: str
) -> SqlSettings:
    _reject_unknown(
        raw,
        {"roles", "time_limit", "max_rows", "database_url", "connections", "allow_with_rules"},
        "sql.",
    )
    roles = raw.get("roles", ["admin"])
    if roles is None:
        roles = []
    if not isinstance(roles, list) or not all(role in ROLES for role in roles):
        raise SettingsError(
            f"sql.roles must be a list of roles ({', '.join(ROLES)}), not {roles!r}"
        )
    url_text = environ.get("WEBAPP_SQL_DATABASE_URL") or raw.get("database_url")
    url_key = (
        "WEBAPP_SQL_DATABASE_URL" if environ.get("WEBAPP_SQL_DATABASE_URL") else "sql.database_url"
    )
    url = _parse_url(str(url_text), url_key, base_dir) if url_text else None
    if url is not None and SUPPORTED_DRIVERS[url.drivername] != backend:
        raise SettingsError(f"{url_key} must be an account on the same {backend} database")
    if url is not None and backend == "sqlite":
        raise SettingsError(
            f"{url_key} is for MySQL and PostgreSQL; on SQLite the console opens database.url "
            "read-only"
        )
    return SqlSettings(
        roles=frozenset(roles),
        time_limit=_number(raw.get("time_limit", 10.0), "sql.time_limit"),
        max_rows=_int(raw.get("max_rows", 1000), "sql.max_rows", 1, 100_000),
        database_url=url,
        connections=_int(raw.get("connections", 2), "sql.connections", 1, 100),
        allow_with_rules=_bool(raw.get("allow_with_rules", False), "sql.allow_with_rules"),
    )


ORIGIN_PATTERN = re.compile(
    r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$"
)


def _metrics_settings(raw: dict[str, Any], environ: Mapping[str, str]) -> MetricsSettings:
    _reject_unknown(raw, {"token", "allow"}, "metrics.")
    key = "WEBAPP_METRICS_TOKEN" if environ.get("WEBAPP_METRICS_TOKEN") else "metrics.token"
    token = environ.get("WEBAPP_METRICS_TOKEN") or raw.get("token")
    if token is not None:
        if not isinstance(token, str) or len(token.strip()) < MIN_METRICS_TOKEN_LENGTH:
            raise SettingsError(
                f"{key} must be a text of at least {MIN_METRICS_TOKEN_LENGTH} characters"
            )
        token = token.strip()
    return MetricsSettings(token=token, allow=_networks(raw.get("allow"), "metrics.allow"))


def _api_settings(raw: dict[str, Any]) -> ApiSettings:
    _reject_unknown(raw, {"cors_origins"}, "api.")
    origins = raw.get("cors_origins") or []
    if not isinstance(origins, list) or not all(
        isinstance(origin, str) and ORIGIN_PATTERN.match(origin) for origin in origins
    ):
        raise SettingsError(
            "api.cors_origins must be a list of origins such as https://example.com "
            f"(scheme, host and port only), not {origins!r}"
        )
    return ApiSettings(cors_origins=frozenset(origin.lower() for origin in origins))


def table_options(raw: Any, max_page_size: int = DEFAULT_MAX_PAGE_SIZE) -> dict[str, TableOptions]:
    """The `tables:` section as typed options, checked for shape (names are checked against
    the database at startup)."""
    if not isinstance(raw, dict):
        raise SettingsError("tables must be a mapping of table name to options")
    out: dict[str, TableOptions] = {}
    for name, options in raw.items():
        prefix = f"tables.{name}"
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise SettingsError(f"{prefix} must be a mapping of options")
        _reject_unknown(options, set(TABLE_OPTION_KEYS), f"{prefix}.")
        page_size = options.get("page_size")
        sort = options.get("sort")
        if sort is not None and (not isinstance(sort, str) or sort.lstrip("-") == ""):
            raise SettingsError(f"{prefix}.sort must be a column name, or -name for descending")
        label = options.get("label_column")
        if label is not None and not isinstance(label, str):
            raise SettingsError(f"{prefix}.label_column must be a column name")
        out[str(name)] = TableOptions(
            columns=_names(options.get("columns"), f"{prefix}.columns"),
            hidden_columns=frozenset(
                _names(options.get("hidden_columns"), f"{prefix}.hidden_columns")
            ),
            search_columns=_names(options.get("search_columns"), f"{prefix}.search_columns"),
            facet_columns=_names(options.get("facet_columns"), f"{prefix}.facet_columns"),
            label_column=label,
            sort=sort,
            page_size=(
                None
                if page_size is None
                else _int(page_size, f"{prefix}.page_size", 1, max_page_size)
            ),
            read_only=_bool(options.get("read_only", False), f"{prefix}.read_only"),
            hidden=_bool(options.get("hidden", False), f"{prefix}.hidden"),
            read_only_columns=frozenset(
                _names(options.get("read_only_columns"), f"{prefix}.read_only_columns")
            ),
            roles=_role_rules(options.get("roles"), f"{prefix}.roles"),
        )
    return out


def _role_rules(raw: Any, prefix: str) -> dict[str, RoleRules]:
    """`tables.<name>.roles:` as typed rules per role."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SettingsError(f"{prefix} must be a mapping of role to rules")
    out: dict[str, RoleRules] = {}
    for role, rules in raw.items():
        if role not in ROLES:
            raise SettingsError(f"{prefix}: unknown role {role!r} (roles: {', '.join(ROLES)})")
        key = f"{prefix}.{role}"
        rules = {} if rules is None else rules
        if not isinstance(rules, dict):
            raise SettingsError(f"{key} must be a mapping of rules")
        _reject_unknown(rules, set(ROLE_RULE_KEYS), f"{key}.")
        out[role] = RoleRules(
            hidden=_bool(rules.get("hidden", False), f"{key}.hidden"),
            read_only=_bool(rules.get("read_only", False), f"{key}.read_only"),
            hidden_columns=frozenset(_names(rules.get("hidden_columns"), f"{key}.hidden_columns")),
            read_only_columns=frozenset(
                _names(rules.get("read_only_columns"), f"{key}.read_only_columns")
            ),
        )
    return out


def _names(value: Any, key: str) -> tuple[str, ...]:
    """A list of column names without repeats."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise SettingsError(f"{key} must be a list of column names")
    if len(set(value)) != len(value):
        repeated = next(item for item in value if value.count(item) > 1)
        raise SettingsError(f"{key} names {repeated!r} more than once")
    return tuple(value)


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name) or {}
    if not isinstance(value, dict):
        raise SettingsError(f"{name} must be a mapping")
    return value


def _reject_unknown(section: dict[str, Any], known: set[str], prefix: str) -> None:
    unknown = sorted(str(key) for key in section if key not in known)
    if unknown:
        allowed = ", ".join(sorted(known))
        raise SettingsError(f"unknown setting {prefix}{unknown[0]} (known here: {allowed})")


def _parse_url(text: str, key: str, base_dir: Path) -> URL:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text)
    except ArgumentError:
        raise SettingsError(f"{key} is not a database URL: {text!r}") from None
    if url.drivername not in SUPPORTED_DRIVERS:
        supported = ", ".join(sorted(SUPPORTED_DRIVERS))
        raise SettingsError(f"{key} uses the driver {url.drivername!r}; supported: {supported}")
    if url.drivername.startswith("sqlite"):
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise SettingsError(f"{key} must name a SQLite file, e.g. sqlite+aiosqlite:///data.db")
        path = Path(database)
        if not path.is_absolute():
            url = url.set(database=str(base_dir / path))
    return url


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{key} must be true or false, not {value!r}")


def _int(value: Any, key: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise SettingsError(f"{key} must be a whole number from {low} to {high}, not {value!r}")
    return number


def _number(value: Any, key: str, *, allow_zero: bool = False) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        number = -1.0
    lowest_ok = number >= 0 if allow_zero else number > 0
    if not lowest_ok or number > 3600:
        lowest = "0 or more" if allow_zero else "above 0"
        raise SettingsError(f"{key} must be a number of seconds {lowest}, not {value!r}")
    return number
