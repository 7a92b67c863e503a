"""Per-role table and column rules from config.yaml (`tables.<name>.roles.<role>`): checked
for shape when settings load and against the database at startup, and enforced by every
handler: a hidden table or column is on no page, in no link, message, filter, sort, search,
facet, lookup or download; read-only tables and columns refuse writes on the server."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.find_fixtures import install, items, owners, startup_error
from tests.helpers import ROLE_RULES, form_token, link, page_ids, write_config
from webapp.changes.writes import insert_row, read_row, row_version, update_row
from webapp.listing.queries import key_condition
from webapp.settings import SettingsError, load_settings, table_options
from webapp.web.appkeys import ROLE_CATALOGS
from webapp.web.errors import Forbidden

# What a viewer must never see: the hidden columns' names and values, and the hidden table
# (its name, its rows' labels and values).
# The hidden owners table's labels ("Owner 1" ...): its data, unlike the visible column
# owner_id, whose heading reads "Owner ID".
OWNER_LABELS = tuple(f"Owner {n}" for n in range(1, 6))
VIEWER_SECRETS = ("secret", "s3cr3t", "note", "owners", *OWNER_LABELS, "owner-secret")


async def start(engine: AsyncEngine, make_client, role: str, rules: dict = ROLE_RULES):
    await install(engine)
    return await make_client(role=role, tables=table_options(rules))


@pytest.fixture(scope="module")
async def start_shared(module_engine: AsyncEngine, module_client):
    """`await start_shared(role, rules)`: like `start`, on the module's database, shared by
    the tests that only read."""
    await install(module_engine)

    async def start_(role: str, rules: dict = ROLE_RULES):
        return await module_client(role=role, tables=table_options(rules))

    return start_


RANDOM_TOKENS = re.compile(r'(name="csrf_token" value="|[?&;]cursor=)[A-Za-z0-9_.~%=-]+')


def assert_absent(body: str, secrets: tuple[str, ...], where: str) -> None:
    """Fail if any secret shows on the page; CSRF tokens and cursors are random text, so a
    short secret such as "C2" could turn up inside one by chance: those are cut out first."""
    body = RANDOM_TOKENS.sub(r"\1", body)
    for secret in secrets:
        assert secret not in body, f"{secret!r} on {where}"


async def item_snapshot(engine: AsyncEngine) -> list[tuple]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(select(items).order_by(items.c.id))]


async def owner_snapshot(engine: AsyncEngine) -> list[tuple]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(select(owners).order_by(owners.c.id))]


# --- hidden columns and tables: reading ---------------------------------------------------


async def test_viewer_pages_show_no_hidden_column_or_table(start_shared, module_client) -> None:
    client = await start_shared("viewer")
    paths = [
        "/",
        "/t/items?size=500",
        "/t/items?size=500&facets=1",
        "/t/items/r/3",
        "/t/items/r/10",
        "/t/items?sort=-rank&size=5",
        "/t/items?q=Item",
    ]
    for path in paths:
        response = await client.get(path)
        assert response.status == 200, path
        assert_absent(await response.text(), VIEWER_SECRETS, path)
    body = await (await client.get("/")).text()
    assert 'href="/t/items"' in body
    # Following the cursor of a keyset-paged order reaches every row without a secret.
    seen: list[int] = []
    path: str | None = "/t/items?sort=rank&size=7"
    while path is not None:
        response = await client.get(path)
        assert response.status == 200, path
        body = await response.text()
        assert_absent(body, VIEWER_SECRETS, path)
        seen += page_ids(body)
        path = link(body, "next")
    assert sorted(seen) == list(range(1, 61))


@pytest.mark.parametrize(
    "query",
    [
        "secret__exact=s3cr3t-1",
        "secret__isnull=1",
        "note__contains=note",
        "sort=secret",
        "sort=-note",
    ],
)
async def test_viewer_cannot_filter_or_sort_on_a_hidden_column(
    start_shared, module_client, query: str
) -> None:
    client = await start_shared("viewer")
    response = await client.get(f"/t/items?{query}")
    assert response.status == 400
    body = await response.text()
    assert "no such" in body
    assert_absent(body, ("s3cr3t", "owners", *OWNER_LABELS), query)


async def test_viewer_search_does_not_look_in_hidden_columns(start_shared, module_client) -> None:
    client = await start_shared("viewer")
    for term in ("s3cr3t", "note 5"):
        response = await client.get(f"/t/items?q={term}")
        assert response.status == 200
        assert page_ids(await response.text()) == [], term
    admin = await module_client(role="admin", tables=table_options(ROLE_RULES))
    assert 5 in page_ids(await (await admin.get("/t/items?q=s3cr3t-5")).text())


@pytest.mark.parametrize(
    "path",
    [
        "/t/items/r/3/raw/secret",
        "/t/items/r/3/raw/note",
        "/t/owners",
        "/t/owners?facets=1",
        "/t/owners/r/1",
        "/t/owners/r/1/raw/secret",
        "/t/owners/lookup?q=Own",
        "/t/owners/new",
        "/t/owners/r/1/edit",
        "/t/owners/r/1/delete",
    ],
)
async def test_hidden_table_and_column_urls_are_not_found_for_the_viewer(
    start_shared, module_client, path: str
) -> None:
    client = await start_shared("viewer")
    response = await client.get(path)
    assert response.status == 404
    assert_absent(await response.text(), ("s3cr3t", *OWNER_LABELS, "owner-secret"), path)


async def test_hidden_table_writes_are_not_found_and_change_nothing(
    engine: AsyncEngine, make_client
) -> None:
    rules = {"owners": {"roles": {"editor": {"hidden": True}}}}
    client = await start(engine, make_client, "editor", rules)
    before = await owner_snapshot(engine)
    token = await form_token(client, "/t/items/new")
    for path in ("/t/owners/new", "/t/owners/r/1/edit", "/t/owners/r/1/delete"):
        response = await client.post(
            path, data={"csrf_token": token, "c0": "99", "c1": "x", "row_version": "x"}
        )
        assert response.status == 404, path
        assert_absent(await response.text(), (*OWNER_LABELS, "owner-secret"), path)
    assert await owner_snapshot(engine) == before


async def test_rows_of_a_hidden_table_are_not_listed_as_referencing(
    start_shared, module_client
) -> None:
    rules = {"items": {"roles": {"viewer": {"hidden": True}}}}
    viewer = await start_shared("viewer", rules)
    body = await (await viewer.get("/t/owners/r/2")).text()
    assert "Owner 2" in body
    assert_absent(body, ("items", "Item "), "owner record")
    admin = await module_client(role="admin", tables=table_options(rules))
    assert "/t/items?owner_id__exact=2" in await (await admin.get("/t/owners/r/2")).text()


async def test_admin_without_rules_sees_what_the_viewer_may_not(
    start_shared, module_client
) -> None:
    client = await start_shared("admin")
    body = await (await client.get("/t/items/r/3")).text()
    assert "s3cr3t-3" in body and "note 3" in body and "Owner " in body
    assert (await client.get("/t/owners/r/1")).status == 200
    assert (await client.get("/t/items/r/3/raw/secret")).status == 200


# --- hidden columns in the editor's forms ---------------------------------------------------


async def test_editor_forms_omit_hidden_columns_and_leave_them_alone(
    engine: AsyncEngine, make_client, open_form
) -> None:
    client = await start(engine, make_client, "editor")
    for path in ("/t/items/new", "/t/items/r/3/edit", "/t/items/r/3/delete", "/t/items/r/3"):
        response = await client.get(path)
        assert response.status == 200, path
        assert_absent(await response.text(), ("secret", "s3cr3t"), path)
    form = await open_form(client, "/t/items/r/3/edit")
    form.set("name", "Renamed")
    response = await form.submit(client)
    assert response.status == 303, await response.text()
    async with engine.connect() as conn:
        row = (await conn.execute(select(items).where(items.c.id == 3))).one()
    assert row.name == "Renamed" and row.secret == "s3cr3t-3"


async def test_database_refusal_naming_a_hidden_column_hides_its_text(
    engine: AsyncEngine, make_client, open_form
) -> None:
    members = Table(
        "members",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(50), nullable=False),
        Column("pin_hash", String(64), nullable=False),
    )
    async with engine.begin() as conn:
        await conn.run_sync(members.metadata.create_all)
    rules = {"members": {"roles": {"editor": {"hidden_columns": ["pin_hash"]}}}}
    client = await make_client(role="editor", tables=table_options(rules))
    form = await open_form(client, "/t/members/new")
    form.set("id", "1")
    form.set("name", "Ann")
    response = await form.submit(client)
    assert response.status == 400
    body = await response.text()
    assert "A value is required." in body or "The database refused" in body
    assert "pin_hash" not in body
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(members)) == 0


async def test_delete_refused_by_a_hidden_tables_rows_does_not_name_it(
    engine: AsyncEngine, make_client
) -> None:
    rules = {"items": {"roles": {"editor": {"hidden": True}}}}
    client = await start(engine, make_client, "editor", rules)
    page = await (await client.get("/t/owners/r/2/delete")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    version = re.search(r'name="row_version" value="([^"]+)"', page).group(1)
    response = await client.post(
        "/t/owners/r/2/delete", data={"csrf_token": token, "row_version": version}
    )
    assert response.status == 409
    assert_absent(await response.text(), ("items", "owner_id", "Item "), "delete refusal")
    async with engine.connect() as conn:
        assert await conn.scalar(select(owners.c.name).where(owners.c.id == 2)) == "Owner 2"


# --- read-only tables and columns -----------------------------------------------------------


async def test_table_read_only_for_a_role_refuses_every_write(
    engine: AsyncEngine, make_client
) -> None:
    client = await start(engine, make_client, "editor")
    body = await (await client.get("/t/owners/r/1")).text()
    assert "read-only for your role (editor)" in body
    assert 'href="/t/owners/r/1/edit"' not in body
    for path in ("/t/owners/new", "/t/owners/r/1/edit", "/t/owners/r/1/delete"):
        response = await client.get(path)
        assert response.status == 403, path
        assert "read-only for your role (editor)" in await response.text()
    before = await owner_snapshot(engine)
    token = await form_token(client, "/t/items/new")
    version = row_version(client.server.app[ROLE_CATALOGS]["editor"].tables["owners"], {"id": 1})
    for path in ("/t/owners/new", "/t/owners/r/1/edit", "/t/owners/r/1/delete"):
        response = await client.post(
            path, data={"csrf_token": token, "c0": "99", "c1": "x", "row_version": version}
        )
        assert response.status == 403, path
        assert "read-only for your role (editor)" in await response.text()
    assert await owner_snapshot(engine) == before


async def test_read_only_column_is_shown_but_not_editable(
    engine: AsyncEngine, make_client, open_form
) -> None:
    client = await start(engine, make_client, "editor")
    body = await (await client.get("/t/items/r/4/edit")).text()
    assert "price" in body and "6.00" in body and "(not editable here)" in body
    form = await open_form(client, "/t/items/r/4/edit")
    form.set("name", "Cheaper")
    form.fields.append([form.name("price"), "0.01", "text"])  # forged: the form has no input
    response = await form.submit(client)
    assert response.status == 303, await response.text()
    async with engine.connect() as conn:
        row = (await conn.execute(select(items).where(items.c.id == 4))).one()
    assert row.name == "Cheaper" and row.price == Decimal("6.00")


async def test_writes_refuse_read_only_and_hidden_columns_on_the_server(
    engine: AsyncEngine, make_client
) -> None:
    client = await start(engine, make_client, "editor")
    app = client.server.app
    info = app[ROLE_CATALOGS]["editor"].tables["items"]
    before = await item_snapshot(engine)
    condition = key_condition(info, ["4"])
    async with engine.connect() as conn:
        version = row_version(info, await read_row(conn, info, condition, lock=False))
    for values, message in [
        ({"price": Decimal("0.01")}, "The column 'price' is read-only."),
        ({"secret": "leak"}, "This change names a column you may not change."),
    ]:
        with pytest.raises(Forbidden) as caught:
            async with engine.connect() as conn, conn.begin():
                await update_row(conn, info, condition, version, values)
        assert str(caught.value) == message
        with pytest.raises(Forbidden):
            async with engine.connect() as conn, conn.begin():
                await insert_row(
                    conn, info, {"id": 99, "name": "x", "active": True, "rank": 1, **values}
                )
    assert await item_snapshot(engine) == before


async def test_table_wide_read_only_column_applies_to_admins_too(
    engine: AsyncEngine, make_client, open_form
) -> None:
    client = await start(engine, make_client, "admin", {"items": {"read_only_columns": ["code"]}})
    form = await open_form(client, "/t/items/r/1/edit")
    assert form.name("code") not in {field[0] for field in form.fields}
    form.fields.append([form.name("code"), "CHANGED", "text"])
    response = await form.submit(client)
    assert response.status == 303
    async with engine.connect() as conn:
        assert await conn.scalar(select(items.c.code).where(items.c.id == 1)) == "C1"


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("tables:\n  t:\n    roles:\n      guest: {hidden: true}\n", "unknown role 'guest'"),
        ("tables:\n  t:\n    roles:\n      viewer: {hide: true}\n", "tables.t.roles.viewer.hide"),
        ("tables:\n  t:\n    roles:\n      viewer: [a]\n", "tables.t.roles.viewer must be"),
        ("tables:\n  t:\n    roles: [viewer]\n", "tables.t.roles must be a mapping"),
        (
            "tables:\n  t:\n    roles:\n      editor: {read_only_columns: a}\n",
            "tables.t.roles.editor.read_only_columns must be a list",
        ),
        ("tables:\n  t:\n    read_only_columns: [a, a]\n", "names 'a' more than once"),
        ("tables:\n  t:\n    read_only_for_role: viewer\n", "unknown setting"),
    ],
)
def test_role_rules_of_the_wrong_shape_are_one_line_errors(
    tmp_path, body: str, message: str
) -> None:
    path = write_config(tmp_path, "database:\n  url: sqlite+aiosqlite:///x.db\n" + body)
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"items": {"roles": {"viewer": {"hidden_columns": ["nope"]}}}},
            "tables.items.roles.viewer.hidden_columns: 'items' has no column 'nope'",
        ),
        (
            {"items": {"roles": {"editor": {"read_only_columns": ["nope"]}}}},
            "tables.items.roles.editor.read_only_columns: 'items' has no column 'nope'",
        ),
        (
            {"items": {"roles": {"viewer": {"hidden_columns": ["id"]}}}},
            "tables.items.roles.viewer.hidden_columns: 'id' is part of the primary key",
        ),
        (
            {"items": {"read_only_columns": ["nope"]}},
            "tables.items.read_only_columns: 'items' has no column 'nope'",
        ),
        (
            {"nothing": {"roles": {"viewer": {"hidden": True}}}},
            "tables.nothing: there is no table or view named 'nothing'",
        ),
    ],
)
async def test_role_rules_naming_what_the_database_lacks_stop_startup(
    engine: AsyncEngine, db_url: str, options: dict, message: str
) -> None:
    error = await startup_error(engine, db_url, options)
    assert message in error
    assert "\n" not in error


async def test_role_rules_narrow_listed_label_and_sort_columns(start_shared, module_client) -> None:
    rules = {
        "items": {
            "columns": ["id", "name", "secret"],
            "sort": "-secret",
            "label_column": "code",
            "roles": {"viewer": {"hidden_columns": ["secret", "code"]}},
        }
    }
    client = await start_shared("viewer", rules)
    body = await (await client.get("/t/items?size=500")).text()
    assert_absent(body, ("secret", "s3cr3t", "C1", "C2"), "narrowed listing")
    assert page_ids(body) == list(range(1, 61))  # no configured sort left: the primary key


# --- the permission matrix for roles narrowed by rules ----------------------------------------

NARROWING = {
    "secrets": {"roles": {"viewer": {"hidden": True}, "editor": {"read_only": True}}},
    "notes": {"roles": {"editor": {"hidden_columns": ["pin"], "read_only_columns": ["tag"]}}},
}
# (method, path, expected status for viewer, editor, admin); a POST sends the form its GET
# page shows when that page opens, else a made-up one.
NARROWED_MATRIX = [
    ("GET", "/", (200, 200, 200)),
    ("GET", "/t/secrets", (404, 200, 200)),
    ("GET", "/t/secrets?facets=1", (404, 200, 200)),
    ("GET", "/t/secrets/r/1", (404, 200, 200)),
    ("GET", "/t/secrets/r/1/raw/body", (404, 200, 200)),
    ("GET", "/t/secrets/lookup?q=1", (404, 200, 200)),
    ("GET", "/t/secrets/new", (404, 403, 200)),
    ("POST", "/t/secrets/new", (404, 403, 303)),
    ("GET", "/t/secrets/r/1/edit", (404, 403, 200)),
    ("POST", "/t/secrets/r/1/edit", (404, 403, 303)),
    ("GET", "/t/secrets/r/2/delete", (404, 403, 200)),
    ("POST", "/t/secrets/r/2/delete", (404, 403, 303)),
    ("GET", "/t/notes", (200, 200, 200)),
    ("GET", "/t/notes/r/1", (200, 200, 200)),
    ("GET", "/t/notes/r/1/raw/pin", (200, 404, 200)),
    ("GET", "/t/notes?pin__exact=pin-1", (200, 400, 200)),
    ("GET", "/t/notes?sort=-pin", (200, 400, 200)),
    ("GET", "/t/notes/new", (403, 200, 200)),
    ("POST", "/t/notes/new", (403, 303, 303)),
    ("GET", "/t/notes/r/1/edit", (403, 200, 200)),
    ("POST", "/t/notes/r/1/edit", (403, 303, 303)),
    ("GET", "/t/notes/r/2/delete", (403, 200, 200)),
    ("POST", "/t/notes/r/2/delete", (403, 303, 303)),
]
# What each role must never see anywhere: the hidden table, or the hidden column.
NEVER_SEEN = {"viewer": ("secrets", "sec-"), "editor": ("pin",), "admin": ()}


async def both_snapshots(engine: AsyncEngine) -> list[list[tuple]]:
    async with engine.connect() as conn:
        return [
            [tuple(row) for row in await conn.execute(text(f"SELECT * FROM {name} ORDER BY id"))]
            for name in ("notes", "secrets")
        ]


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
async def test_every_data_route_answers_a_narrowed_role_as_expected(
    engine: AsyncEngine, make_client, open_form, role: str
) -> None:
    metadata = MetaData()
    for name, extra in (("notes", ("pin", "tag")), ("secrets", ())):
        Table(
            name,
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("body", String(50)),
            *(Column(column, String(50)) for column in extra),
        )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for n in (1, 2, 3):
            await conn.execute(
                metadata.tables["notes"]
                .insert()
                .values(id=n, body=f"note-{n}", pin=f"pin-{n}", tag=f"tag-{n}")
            )
            await conn.execute(metadata.tables["secrets"].insert().values(id=n, body=f"sec-{n}"))
    client = await make_client(role=role, tables=table_options(NARROWING))
    token = await form_token(client, "/")
    seen = []
    for method, path, expected in NARROWED_MATRIX:
        want = expected[["viewer", "editor", "admin"].index(role)]
        before = await both_snapshots(engine)
        if method == "GET":
            response = await client.get(path, allow_redirects=False)
        elif (await client.get(path)).status == 200:
            form = await open_form(client, path)
            if path.endswith("/new"):
                form.set("id", "9")
            if "body" in form.labels and not path.endswith("/delete"):
                form.set("body", "changed")
            response = await form.submit(client)
        else:
            data = {"csrf_token": token, "c0": "9", "c1": "x", "row_version": "x"}
            response = await client.post(path, data=data, allow_redirects=False)
        body = await response.text()
        seen.append((method, path, response.status, want))
        named = [secret for secret in NEVER_SEEN[role] if secret in path]
        if not named:
            assert_absent(body, NEVER_SEEN[role], f"{method} {path}")
        elif method == "GET":
            # A URL naming a hidden table or column gets the very answer a name that does
            # not exist gets (which repeats the name asked for, and nothing else).
            other = await client.get(path.replace(named[0], "nosuch"), allow_redirects=False)
            assert other.status == response.status, path
            assert body.replace(named[0], "nosuch") == await other.text(), path
        if want >= 400:
            assert await both_snapshots(engine) == before, (method, path)
    assert [(m, p, got) for m, p, got, _ in seen] == [(m, p, want) for m, p, _, want in seen]
    notes = (await both_snapshots(engine))[0]
    if role == "editor":
        # The editor's writes kept the hidden pin and the read-only tag as they were.
        assert (1, "changed", "pin-1", "tag-1") in notes
        created = [row for row in notes if row[0] not in (1, 2, 3)]
        assert [row[1:] for row in created] == [("changed", None, None)]
