"""Choosing the table page's columns and their order in the URL (`cols=`): the page lists
those, every link of the page keeps them, downloads hold them, the no-script chooser form
builds the URL, and a column the table lacks or hides from the role is refused beside the
chooser, on every backend."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.find_fixtures import install
from tests.helpers import link, page_ids
from webapp.listing.table_state import columns_text, split_column_names
from webapp.settings import table_options

HIDDEN = {"items": {"roles": {"viewer": {"hidden_columns": ["secret"]}}}}


@pytest.fixture(scope="module")
async def client(module_engine: AsyncEngine, module_client):
    await install(module_engine)
    return await module_client(page_size=10, tables=table_options(HIDDEN))


def headings(body: str) -> list[str]:
    """The column names of the page's headings, in order."""
    return re.findall(r'<th[^>]*>(?:<a href="[^"]*"|<span) title="([^"]+?) · ', body)


def page_links(body: str) -> list[str]:
    """Every link of the page to the table's own rows or downloads, but the chooser's way
    back to the table's own columns."""
    hrefs = re.findall(
        r'<a (?:class="(?!columns-reset)[^"]*" )?href="(/t/items(?:\.\w+)?(?:\?[^"]*)?)"', body
    )
    return [h.replace("&amp;", "&") for h in hrefs]


def cols_of(href: str) -> list[str]:
    return parse_qs(urlsplit(href).query).get("cols", [])


async def test_cols_lists_the_chosen_columns_in_their_order(client) -> None:
    response = await client.get("/t/items?cols=name,rank,id")
    body = await response.text()
    assert response.status == 200, body
    assert headings(body) == ["name", "rank", "id"]
    assert page_ids(body) == list(range(1, 11))
    row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", body, re.S).group(1)
    assert re.findall(r"<td[^>]*>(.*?)</td>", row)[1:3] == ["Item 01", "0"]


async def test_a_hidden_key_still_links_each_row_to_its_record(client) -> None:
    body = await (await client.get("/t/items?cols=name,rank")).text()
    assert headings(body) == ["name", "rank"]
    assert re.findall(r'<td class="pk"><a href="/t/items/r/(\d+)">open</a>', body)[:3] == [
        "1",
        "2",
        "3",
    ]


async def test_every_link_of_the_page_keeps_the_columns(client) -> None:
    body = await (await client.get("/t/items?cols=name,rank&sort=rank&q=item&facets=1")).text()
    hrefs = page_links(body)
    kinds = {"sort": False, "next": False, "download": False, "size": False, "facet": False}
    for href in hrefs:
        assert cols_of(href) == ["name,rank"], href
        query = parse_qs(urlsplit(href).query)
        kinds["sort"] |= query.get("sort") == ["-rank"]
        kinds["next"] |= "cursor" in query
        kinds["download"] |= href.startswith("/t/items.csv")
        kinds["size"] |= query.get("size") == ["25"]
        kinds["facet"] |= any("__" in name for name in query)
    assert all(kinds.values()), kinds
    assert cols_of(link(body, "next")) == ["name,rank"]
    # The search and filter forms keep them as fields.
    search = re.search(r'<form class="search".*?</form>', body, re.S).group(0)
    assert '<input type="hidden" name="cols" value="name,rank">' in search
    filters = re.search(r'<form class="add-filter".*?</form>', body, re.S).group(0)
    assert '<input type="hidden" name="cols" value="name,rank">' in filters
    reset = re.search(r'<a class="columns-reset" href="([^"]+)"', body).group(1)
    assert cols_of(reset.replace("&amp;", "&")) == []


async def test_pages_walked_with_columns_keep_them_to_the_end(client) -> None:
    href = "/t/items?cols=rank,name&size=25"
    seen: list[int] = []
    while href:
        body = await (await client.get(href)).text()
        assert headings(body) == ["rank", "name"]
        seen += page_ids(body)
        href = link(body, "next")
    assert seen == list(range(1, 61))


async def test_download_holds_the_chosen_columns_in_order(client) -> None:
    body = await (await client.get("/t/items?cols=name,id&q=item+0")).text()
    href = next(h for h in page_links(body) if h.startswith("/t/items.csv"))
    text = await (await client.get(href)).text()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "id"]
    assert rows[1:] == [[f"Item 0{i}", str(i)] for i in range(1, 10) if i not in (7, 8, 9)]


@pytest.mark.parametrize("cols", ["name,nope", "nope", "name,secret"])
async def test_a_column_the_role_cannot_see_is_refused_beside_the_chooser(
    client, module_client, cols: str
) -> None:
    viewer = await module_client(role="viewer", page_size=10, tables=table_options(HIDDEN))
    response = await viewer.get(f"/t/items?cols={cols}")
    body = await response.text()
    assert response.status == 400
    missing = [name for name in cols.split(",") if name != "name"]
    error = re.search(r'<p class="field-error" role="alert" id="columns-error">([^<]*)</p>', body)
    assert error is not None
    assert error.group(1) == f"&#39;items&#39; has no column &#39;{missing[0]}&#39; to show."
    assert '<details class="column-chooser" id="columns" open>' in body
    # The columns it may show are shown; a hidden one never is.
    assert "s3cr3t" not in body
    assert headings(body)[0] == ("name" if cols.startswith("name") else "id")
    # The download refuses it outright, as any bad view parameter.
    download = await viewer.get(f"/t/items.csv?cols={cols}")
    assert download.status == 400
    # The admin, who sees the column, gets it.
    if cols == "name,secret":
        admin = await (await client.get(f"/t/items?cols={cols}")).text()
        assert headings(admin) == ["name", "secret"] and "s3cr3t-1" in admin


async def test_the_chooser_form_builds_the_url(client) -> None:
    body = await (await client.get("/t/items?sort=rank&size=25")).text()
    chooser = re.search(r'<form method="get" class="column-form">.*?</form>', body, re.S)
    assert chooser is not None
    names = re.findall(r'name="colname" value="([^"]+)"', chooser.group(0))
    assert names[:3] == ["id", "owner_id", "name"]
    fields = [("columns_form", "1"), ("sort", "rank"), ("size", "25")]
    places = {"name": "1", "rank": "2", "id": "3"}
    for index, name in enumerate(names):
        fields += [("colname", name), ("colplace", places.get(name, str(index + 10)))]
    fields += [("colshow", "id"), ("colshow", "rank"), ("colshow", "name")]
    response = await client.get("/t/items", params=fields, allow_redirects=False)
    assert response.status == 302
    target = response.headers["Location"]
    assert cols_of(target) == ["name,rank,id"]
    assert parse_qs(urlsplit(target).query)["sort"] == ["rank"]
    shown = await (await client.get(target)).text()
    assert headings(shown) == ["name", "rank", "id"]
    # Every column checked in the table's order is no `cols` at all.
    every = [("columns_form", "1")]
    for index, name in enumerate(names):
        every += [("colname", name), ("colplace", str(index + 1)), ("colshow", name)]
    response = await client.get("/t/items", params=every, allow_redirects=False)
    assert response.status == 302 and "cols=" not in response.headers["Location"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([("colname", "id"), ("colplace", "1")], "Choose at least one column to show."),
        (
            [("colname", "id"), ("colplace", "first"), ("colshow", "id")],
            "The place of &#39;id&#39; must be a number, not &#39;first&#39;.",
        ),
        ([("colshow", "nope")], "&#39;items&#39; has no column &#39;nope&#39; to show."),
    ],
)
async def test_a_bad_chooser_submission_says_why_and_changes_nothing(
    client, fields, message
) -> None:
    response = await client.get("/t/items", params=[("columns_form", "1"), *fields])
    body = await response.text()
    assert response.status == 400
    assert message in body
    assert headings(body)[:3] == ["id", "owner_id", "name"]


def test_column_names_with_commas_and_backslashes_survive_the_url() -> None:
    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

    names = ["a,b", "c\\d", "plain", "e\\,f"]
    text = columns_text([Named(name) for name in names])  # type: ignore[misc]
    assert text == "a\\,b,c\\\\d,plain,e\\\\\\,f"
    assert split_column_names(text) == names
    assert split_column_names("a,,b,") == ["a", "b"]
