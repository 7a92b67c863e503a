"""The templates as source: every one compiles, no line is too long to read, and no link
spells out a path that a named route serves (`url('name', ...)` builds it, so a route can
move without a template going stale)."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp_jinja2
import pytest
from aiohttp import web

from webapp.app import TEMPLATES_DIR, create_app
from webapp.settings import settings_for_url

MAX_LINE = 200
TEMPLATES = sorted(path.name for path in TEMPLATES_DIR.glob("*.html"))
# A quoted path in a template: an attribute's value or a string in a Jinja expression.
QUOTED_PATH = re.compile(r"""(?P<quote>["'])(?P<path>/[^"'\s]*)(?P=quote)""")
EXPRESSION = re.compile(r"\{\{.*?\}\}")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> web.Application:
    """The app as create_app builds it (never started: only its router and templates)."""
    path = tmp_path_factory.mktemp("templates") / "unused.db"
    return create_app(settings_for_url(f"sqlite+aiosqlite:///{path}"))


def route_patterns(app: web.Application) -> list[re.Pattern[str]]:
    """For each named route, a pattern of the paths it serves."""
    patterns = []
    for resource in app.router.resources():
        if resource.name is None:
            continue
        info = resource.get_info()
        if "prefix" in info:  # static files: everything under the prefix
            patterns.append(re.compile(re.escape(str(info["prefix"]).rstrip("/")) + r"/.*"))
            continue
        template = str(info.get("formatter", info.get("path", "")))
        parts = re.split(r"\{[^}]+\}", template)
        patterns.append(re.compile("[^/]+".join(re.escape(part) for part in parts)))
    return patterns


def hard_coded_paths(source: str, patterns: list[re.Pattern[str]]) -> list[str]:
    """The quoted paths in `source` that a named route serves; a Jinja expression inside
    one (`/activity/{{ id }}/revert`) stands for one path segment."""
    found = []
    for match in QUOTED_PATH.finditer(EXPRESSION.sub("x", source)):
        path = match["path"].split("?")[0]
        # A path that ends in `/` is the start of a longer one ("/admin/users/" ~ name).
        tails = ("", "x", "x/x", "x/x/x") if path.endswith("/") and path != "/" else ("",)
        if any(pattern.fullmatch(path + tail) for pattern in patterns for tail in tails):
            found.append(match["path"])
    return found


def test_every_route_is_named(app: web.Application) -> None:
    unnamed = [resource.canonical for resource in app.router.resources() if not resource.name]
    assert unnamed == []


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_compiles(app: web.Application, name: str) -> None:
    env = aiohttp_jinja2.get_env(app)
    template = env.get_template(name)
    assert template.name == name


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_line_is_longer_than_200_characters(name: str) -> None:
    lines = (TEMPLATES_DIR / name).read_text(encoding="utf-8").splitlines()
    long = [number for number, line in enumerate(lines, 1) if len(line) > MAX_LINE]
    assert long == [], f"{name}: lines {long} are over {MAX_LINE} characters"


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_hard_coded_path_of_a_named_route(app: web.Application, name: str) -> None:
    source = (TEMPLATES_DIR / name).read_text(encoding="utf-8")
    assert hard_coded_paths(source, route_patterns(app)) == []


@pytest.mark.parametrize(
    "source",
    [
        '<a href="/">Tables</a>',
        '<form action="/activity">',
        '<link href="/static/app.css">',
        '<form action="/activity/{{ entry.id }}/revert">',
        '{% set base = "/admin/users/" ~ name %}',
        '<a href="/t/{{ name }}/r/{{ key }}/edit">',
    ],
)
def test_the_check_finds_paths_written_out(app: web.Application, source: str) -> None:
    assert hard_coded_paths(source, route_patterns(app)) != []


def test_the_check_leaves_other_text_alone(app: web.Application) -> None:
    source = '<a href="{{ url(\'index\') }}" title="a/b">x</a> <abbr title="/not-a-route">'
    assert hard_coded_paths(source, route_patterns(app)) == []


def test_the_breadcrumb_root_is_written_once() -> None:
    sources = {path.name: path.read_text(encoding="utf-8") for path in TEMPLATES_DIR.glob("*")}
    holders = [name for name, text in sources.items() if ">Tables</a>" in text]
    assert holders == ["base.html"]


def test_templates_live_in_the_repository() -> None:
    assert Path(TEMPLATES_DIR).is_dir() and len(TEMPLATES) > 10
