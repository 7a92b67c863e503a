"""The benchmark's own logic: reading wrk's report, judging the benchmark's targets, finding
the Next link of a page and walking to the deep page (against a stand-in server). No load,
no database, no timing."""

from __future__ import annotations

import math

import pytest
from aiohttp import web

from bench.export import download, exports_table
from bench.report import evaluate_targets, render_report, results_table
from bench.scenarios import (
    NotAnswering,
    check_answers_200,
    find_deep_page,
    next_link,
    offset_deep_path,
    uses_cursor,
    walk_steps,
    with_query,
)
from bench.servers import parse_vm_rss
from bench.wrk import WrkOutputError, WrkResult, parse_duration_ms, parse_wrk_output, wrk_command

WRK_CLEAN = """\
Running 10s test @ http://127.0.0.1:45067/t/records
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   393.87ms  192.31ms   1.07s    65.24%
    Req/Sec    44.36     24.11    90.00     53.19%
  Latency Distribution
     50%  390.98ms
     75%  515.81ms
     90%  648.52ms
     99%  906.86ms
  228 requests in 3.01s, 8.90MB read
Requests/sec:     75.84
Transfer/sec:      2.96MB
"""

WRK_WITH_ERRORS = """\
Running 10s test @ http://127.0.0.1:8080/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   850.12us  120.00us   4.20ms   90.00%
    Req/Sec     1.23k   100.00     1.50k    70.00%
  Latency Distribution
     50%  812.00us
     75%    0.90ms
     90%    1.10ms
     99%    2.50ms
  24600 requests in 10.00s, 300.00MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:   2459.87
Transfer/sec:     30.00MB
"""


def result(rps: float, p50: float, max_ms: float = 100.0, **failures: int) -> WrkResult:
    return WrkResult(
        requests=1000,
        requests_per_second=rps,
        p50_ms=p50,
        p99_ms=p50 * 2,
        max_ms=max_ms,
        **failures,
    )


def test_wrk_report_gives_rate_percentiles_and_max_in_milliseconds() -> None:
    parsed = parse_wrk_output(WRK_CLEAN)
    assert parsed.requests == 228
    assert parsed.requests_per_second == pytest.approx(75.84)
    assert parsed.p50_ms == pytest.approx(390.98)
    assert parsed.p99_ms == pytest.approx(906.86)
    assert parsed.max_ms == pytest.approx(1070.0)
    assert parsed.failures == 0
    assert parsed.failure_summary == "0"


def test_wrk_report_counts_socket_errors_timeouts_and_non_2xx_as_failures() -> None:
    parsed = parse_wrk_output(WRK_WITH_ERRORS)
    assert (parsed.connect_errors, parsed.read_errors, parsed.write_errors) == (1, 2, 3)
    assert parsed.timeouts == 4
    assert parsed.non_2xx == 5
    assert parsed.failures == 15
    assert parsed.failure_summary == (
        "4 timeouts, 5 non-2xx, 1 connect errors, 2 read errors, 3 write errors"
    )
    assert parsed.p50_ms == pytest.approx(0.812)
    assert parsed.max_ms == pytest.approx(4.2)
    assert parsed.requests_per_second == pytest.approx(2459.87)


@pytest.mark.parametrize(
    ("text", "ms"),
    [("850.00us", 0.85), ("1.23ms", 1.23), ("2.00s", 2000.0), ("1.50m", 90_000.0)],
)
def test_wrk_durations_convert_every_unit_to_milliseconds(text: str, ms: float) -> None:
    assert parse_duration_ms(text) == pytest.approx(ms)


def test_wrk_report_without_latency_distribution_is_refused_with_what_is_missing() -> None:
    without = "\n".join(line for line in WRK_CLEAN.splitlines() if "%" not in line[:10])
    with pytest.raises(WrkOutputError, match="50%"):
        parse_wrk_output(without)


WRK_NOTHING_ANSWERED = """\
Running 2s test @ http://127.0.0.1:34283/t/records?page=20000
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     0.00      0.00     0.00      -nan%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  0 requests in 2.00s, 0.00B read
Requests/sec:      0.00
Transfer/sec:       0.00B
"""


def test_a_run_in_which_nothing_answered_has_infinite_latency_and_fails_targets() -> None:
    parsed = parse_wrk_output(WRK_NOTHING_ANSWERED)
    assert parsed.requests == 0
    assert parsed.requests_per_second == 0
    assert math.isinf(parsed.p50_ms)
    assert math.isinf(parsed.max_ms)
    verdicts = evaluate_targets(all_results(deep=parsed, first=parsed), 0)
    assert [v.outcome for v in verdicts][:4] == ["FAIL", "FAIL", "FAIL", "PASS"]
    assert "no response" in verdicts[2].detail
    assert "| deep | `` | 0 | 0.00 | no response |" in results_table(
        {**all_results(), "deep": parsed}, {}
    )


def test_a_run_whose_only_answers_came_after_the_timeout_has_infinite_latency() -> None:
    late = WRK_NOTHING_ANSWERED.replace("0 requests in 2.00s", "32 requests in 10.04s").replace(
        "Transfer/sec", "  Socket errors: connect 0, read 0, write 0, timeout 32\nTransfer/sec"
    )
    parsed = parse_wrk_output(late)
    assert parsed.requests == 32
    assert parsed.timeouts == 32
    assert math.isinf(parsed.p50_ms)
    deep_verdict = evaluate_targets({"deep": parsed, "first": result(100, 10)}, 0)[0]
    assert deep_verdict.outcome == "FAIL"
    assert deep_verdict.detail == "no response vs 10.00 ms"


def test_unparseable_wrk_output_is_refused() -> None:
    with pytest.raises(WrkOutputError):
        parse_wrk_output("unable to connect to 127.0.0.1:9 Connection refused")
    with pytest.raises(WrkOutputError):
        parse_duration_ms("fast")


def test_wrk_command_uses_latency_timeout_and_headers() -> None:
    command = wrk_command(
        "http://127.0.0.1:1/t/x", duration=10, connections=32, headers={"Cookie": "a=b"}
    )
    assert command[:5] == ["wrk", "-t2", "-c32", "-d10s", "--timeout=5s"]
    assert "--latency" in command
    assert command[-3:] == ["-H", "Cookie: a=b", "http://127.0.0.1:1/t/x"]
    assert wrk_command("u", duration=1, connections=1)[1] == "-t1"


def test_wrk_command_runs_a_scenario_script_before_the_url() -> None:
    command = wrk_command("u", duration=1, connections=1, script="/b/fresh_search.lua")
    assert command[-3:] == ["-s", "/b/fresh_search.lua", "u"]


def test_searches_no_index_answers_fail_at_half_a_second_p50_or_any_failure() -> None:
    def verdicts(**overrides: WrkResult) -> list[str]:
        return [
            verdict.outcome
            for verdict in evaluate_targets(all_results(**overrides), None)
            if verdict.target.startswith("search_")
        ]

    assert verdicts(search_fresh=result(5, 499)) == ["PASS", "PASS"]
    assert verdicts(search_fresh=result(5, 500)) == ["PASS", "FAIL"]
    assert verdicts(search_nomatch=result(5, 100, non_2xx=1)) == ["FAIL", "PASS"]
    assert verdicts(search_nomatch=result(5, math.inf)) == ["FAIL", "PASS"]


def all_results(**overrides: WrkResult) -> dict[str, WrkResult]:
    base = {
        "reference": result(1000, 10),
        "first": result(700, 12),
        "deep": result(650, 13),
        "filtered": result(500, 20),
        "search": result(400, 25),
        "record": result(900, 5),
        "reference_json": result(1200, 8),
        "api_first": result(800, 10),
        "reference_record": result(1500, 4),
        "first_alone": result(400, 2.5),
        "first_10k": result(380, 2.7),
        "first_1k": result(390, 2.6),
        "search_nomatch": result(900, 30),
        "search_fresh": result(20, 150),
    }
    base.update(overrides)
    return base


def outcomes(results: dict[str, WrkResult], rss: int | None = 100 * 2**20) -> list[str]:
    return [verdict.outcome for verdict in evaluate_targets(results, rss)]


def test_targets_all_pass_when_every_number_is_within_the_limits() -> None:
    assert outcomes(all_results()) == ["PASS"] * 10


def test_deep_page_fails_above_one_and_a_half_times_the_first_page_p50() -> None:
    assert outcomes(all_results(deep=result(600, 18)))[0] == "PASS"
    assert outcomes(all_results(deep=result(600, 18.1)))[0] == "FAIL"


def test_first_page_fails_below_sixty_percent_of_the_reference_rate() -> None:
    assert outcomes(all_results(first=result(600, 12)))[1] == "PASS"
    assert outcomes(all_results(first=result(599, 12)))[1] == "FAIL"


def test_one_slow_or_failed_response_on_any_url_fails_the_latency_target() -> None:
    slow = evaluate_targets(all_results(search=result(400, 25, max_ms=1000)), 0)[2]
    assert slow.outcome == "FAIL"
    assert "search" in slow.detail
    failed = evaluate_targets(all_results(record=result(900, 5, timeouts=1)), 0)[2]
    assert failed.outcome == "FAIL"
    assert "record" in failed.detail


def test_rss_target_is_below_200_mb() -> None:
    assert outcomes(all_results(), rss=199 * 2**20)[3] == "PASS"
    assert outcomes(all_results(), rss=200 * 2**20)[3] == "FAIL"
    assert outcomes(all_results(), rss=None)[3] == "SKIP"


def test_targets_whose_urls_were_not_measured_are_skipped() -> None:
    only_deep = {"deep": result(600, 13)}
    assert outcomes(only_deep) == ["SKIP", "SKIP", "PASS", "PASS"] + ["SKIP"] * 6


def test_report_table_shows_each_url_with_its_ratio_to_the_reference() -> None:
    table = results_table(
        {"reference": result(1000, 10), "first": result(650, 12.5, max_ms=1500)},
        {"reference": "/", "first": "/t/records"},
    )
    lines = table.splitlines()
    assert lines[2].startswith("| reference | `/` | 1,000 | 1.00 |")
    assert lines[3] == "| first | `/t/records` | 650 | 0.65 | 12.50 ms | 25.00 ms | 1.50 s | 0 |"
    report = render_report(
        title="T",
        settings=["command: x"],
        results={"first": result(650, 12.5)},
        paths={},
        verdicts=evaluate_targets({"first": result(650, 12.5)}, None),
        memory={"app": 150 * 2**20},
        notes=["pre-merge"],
    )
    assert "| first | `` | 650 | – |" in report
    assert "app 150 MB" in report
    assert "- SKIP: deep page" in report
    assert "- pre-merge" in report


def test_next_link_is_the_unescaped_href_of_the_rel_next_anchor() -> None:
    html = (
        '<nav><a href="/t/records" rel="prev">Prev</a>'
        '<a class="x" rel="next nofollow" href="/t/records?size=500&amp;after=abc.def">Next</a>'
        "</nav>"
    )
    assert next_link(html) == "/t/records?size=500&after=abc.def"
    assert next_link('<a href="/t/records?page=2">2</a>') is None


def test_a_next_link_with_only_page_size_and_sort_is_not_a_cursor() -> None:
    assert not uses_cursor("/t/records?size=500&page=2")
    assert not uses_cursor("/t/records?sort=-id&page=3")
    assert uses_cursor("/t/records?size=500&cursor=eyJpZCI6NTAwfQ.sig")


def test_with_query_replaces_size_and_keeps_the_cursor() -> None:
    assert with_query("/t/records?c=abc&size=500", size=50) == "/t/records?c=abc&size=50"
    assert with_query("/t/records", size=500) == "/t/records?size=500"


def test_the_deep_walk_reaches_twenty_thousand_pages_of_fifty_in() -> None:
    assert walk_steps(1_000_000) == 1_999
    assert offset_deep_path(1_000_000) == "/t/records?page=20000"
    assert walk_steps(20_000) == 39


def test_vm_rss_is_read_from_proc_status_in_bytes() -> None:
    status = "Name:\tpython\nVmPeak:\t  300000 kB\nVmRSS:\t   81234 kB\nThreads:\t3\n"
    assert parse_vm_rss(status) == 81234 * 1024
    assert parse_vm_rss("Name:\tzombie\n") is None


SEEN: web.AppKey[list[str]] = web.AppKey("seen", list)


def cursor_table_app(rows: int) -> web.Application:
    """A stand-in for a table page that pages by cursor: Next carries `after=<last id>` and
    leaves `size` out."""
    seen: list[str] = []

    async def table(request: web.Request) -> web.Response:
        seen.append(request.path_qs)
        size = int(request.query.get("size", "50"))
        after = int(request.query.get("after", "0"))
        last = min(after + size, rows)
        link = f'<a rel="next" href="/t/records?after={last}">Next</a>'  # size dropped
        return web.Response(text=link if last < rows else "", content_type="text/html")

    app = web.Application()
    app[SEEN] = seen
    app.router.add_get("/t/records", table)
    return app


async def test_deep_walk_follows_cursor_links_and_asks_for_fifty_rows_at_the_end(
    aiohttp_server,
) -> None:
    server = await aiohttp_server(cursor_table_app(20_000))
    deep = await find_deep_page(str(server.make_url("")), 20_000, {}, say=lambda _: None)
    assert deep.by_cursor
    assert deep.path == "/t/records?after=19500&size=50"
    seen = server.app[SEEN]
    assert len(seen) == walk_steps(20_000) == 39
    assert seen[0] == "/t/records?size=500"


async def test_deep_walk_falls_back_to_a_page_number_without_cursors(
    aiohttp_server,
) -> None:
    async def numbered(request: web.Request) -> web.Response:
        return web.Response(
            text='<a href="/t/records?size=500&amp;page=2" rel="next">Next</a>',
            content_type="text/html",
        )

    app = web.Application()
    app.router.add_get("/t/records", numbered)
    server = await aiohttp_server(app)
    deep = await find_deep_page(str(server.make_url("")), 1_000_000, {}, say=lambda _: None)
    assert not deep.by_cursor
    assert deep.path == "/t/records?page=20000"
    assert "no cursor" in deep.note


async def test_a_redirect_to_a_login_stops_the_run_and_a_400_skips_only_that_url(
    aiohttp_server,
) -> None:
    async def login_first(request: web.Request) -> web.Response:
        raise web.HTTPFound("/login")

    async def bad_filter(request: web.Request) -> web.Response:
        raise web.HTTPBadRequest(text="unknown operator")

    async def fine(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/private", login_first)
    app.router.add_get("/filtered", bad_filter)
    app.router.add_get("/fine", fine)
    server = await aiohttp_server(app)
    base = str(server.make_url(""))
    with pytest.raises(RuntimeError, match=r"answered 302 \(to /login\).*app_request_headers"):
        await check_answers_200(base, "/private", {})
    with pytest.raises(NotAnswering, match="answered 400; adjust its URL in SCENARIOS"):
        await check_answers_200(base, "/filtered", {})
    assert await check_answers_200(base, "/fine", {}) is None


async def test_export_download_counts_rows_bytes_and_peak_memory(aiohttp_server) -> None:
    """The export measurement against a stand-in server: rows from lines (CSV's header and
    JSON's brackets left out), bytes, the highest memory sample, and a non-200 refused."""
    csv_body = b"id,name\r\n" + b"".join(b"%d,n%d\r\n" % (i, i) for i in range(1000))
    json_body = b"[\n" + b",\n".join(b'{"id": %d}' % i for i in range(1000)) + b"\n]\n"

    async def table(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Cookie") != "s=1":
            return web.Response(status=302, headers={"Location": "/login"})
        body = csv_body if request.match_info["format"] == "csv" else json_body
        response = web.StreamResponse()
        await response.prepare(request)
        for start in range(0, len(body), 4096):
            await response.write(body[start : start + 4096])
        return response

    app = web.Application()
    app.router.add_get("/t/records.{format}", table)
    server = await aiohttp_server(app)
    base_url = str(server.make_url("")).rstrip("/")
    samples = iter([10, 30, 20])
    csv_result = await download(base_url, "csv", {"Cookie": "s=1"}, lambda: next(samples, 5))
    assert (csv_result.rows, csv_result.bytes, csv_result.peak_rss_bytes) == (
        1000,
        len(csv_body),
        30,
    )
    json_result = await download(base_url, "json", {"Cookie": "s=1"}, lambda: None)
    assert (json_result.rows, json_result.peak_rss_bytes) == (1000, None)
    with pytest.raises(RuntimeError, match="answered 302"):
        await download(base_url, "csv", {}, lambda: None)
    report = render_report(
        title="T",
        settings=[],
        results={},
        paths={},
        verdicts=[],
        memory={},
        notes=[],
        exports=[csv_result],
    )
    assert "| `/t/records.csv` | 1,000 |" in report
    assert "| `/t/records.csv` | 1,000 |" in exports_table([csv_result])


def test_api_targets_compare_with_the_json_reference_and_the_html_page() -> None:
    slow = outcomes(all_results(api_first=result(700, 10)))
    assert slow[4:6] == ["FAIL", "PASS"]  # 700 < 60% of 1,200; equal to the HTML page
    below_page = outcomes(all_results(api_first=result(699, 10), first=result(700, 12)))
    assert below_page[5] == "FAIL"


def test_the_record_page_fails_below_half_the_bare_record_handler() -> None:
    assert outcomes(all_results(record=result(750, 5)))[6] == "PASS"
    assert outcomes(all_results(record=result(749, 5)))[6] == "FAIL"
    assert outcomes({"record": result(900, 5)})[6] == "SKIP"


def test_small_tables_fail_when_a_first_page_p50_is_over_1_2_times_another() -> None:
    assert outcomes(all_results(first_1k=result(300, 3.0)))[7] == "PASS"  # 3.0 / 2.5
    verdict = evaluate_targets(all_results(first_10k=result(300, 3.1)), 0)[7]
    assert verdict.outcome == "FAIL"
    assert "first_10k 3.10 ms" in verdict.detail and "1.24x" in verdict.detail


def test_a_scenario_of_several_rounds_reports_the_round_of_median_p50() -> None:
    from bench.run import median_round

    rounds = [result(600, 19.0), result(700, 12.0), result(650, 13.0)]
    assert median_round(rounds) is rounds[2]
    assert median_round(rounds[:1]) is rounds[0]
