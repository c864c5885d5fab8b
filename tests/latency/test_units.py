"""The parts of the latency suite that need no server: RESP scanning, percentiles, budgets, charts."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.checks.latency import DOCTOR_SAMPLES, judge
from pytest_nself_redis.checks.results import Status
from pytest_nself_redis.durations import format_ms
from pytest_nself_redis.latency.budgets import (
    COMMANDS,
    BudgetBook,
    BudgetError,
    BudgetRules,
    parse_rule,
    rule_list,
)
from pytest_nself_redis.latency.measure import CommandLatency
from pytest_nself_redis.latency.redis_benchmark import BenchmarkRound, OverheadComparison
from pytest_nself_redis.latency.stats import Percentiles, fewest_samples, meaningful, nearest_rank
from pytest_nself_redis.live.resp import (
    INCOMPLETE,
    ProtocolError,
    encode,
    encode_many,
    first_error,
    replies_end,
    reply_end,
)
from pytest_nself_redis.project.envfile import EnvEntry
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.reporting.charts import Bar, CommandChart, command_chart, latency_section


def test_encode_is_a_resp_array_of_bulk_strings() -> None:
    assert encode("SET", "k", b"v\r\n", 7) == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n$1\r\n7\r\n"
    assert encode_many([("PING",), ("PING",)]) == b"*1\r\n$4\r\nPING\r\n" * 2


@pytest.mark.parametrize(
    ("reply", "end"),
    [
        (b"+PONG\r\n", 7),
        (b":42\r\n", 5),
        (b"$3\r\nabc\r\n", 9),
        (b"$-1\r\n", 5),
        (b"*2\r\n$1\r\na\r\n:1\r\n", 15),
        (b"*-1\r\n", 5),
        (b"-ERR x\r\n", 8),
    ],
)
def test_reply_end_finds_the_end_of_each_reply_type(reply: bytes, end: int) -> None:
    assert reply_end(reply + b"+NEXT\r\n") == end


@pytest.mark.parametrize("partial", [b"", b"+PON", b"$3\r\nab", b"*2\r\n$1\r\na\r\n", b"$3\r\nabc\r"])
def test_an_incomplete_reply_is_reported_incomplete(partial: bytes) -> None:
    assert reply_end(partial) == INCOMPLETE


def test_replies_end_counts_pipelined_replies_and_finds_errors() -> None:
    data = b"+OK\r\n$1\r\nv\r\n-NOPERM no\r\n:3\r\n"
    assert replies_end(data, 4) == len(data)
    assert replies_end(data, 5) == INCOMPLETE
    assert first_error(data, 4) == "NOPERM no"
    assert first_error(b"+OK\r\n", 1) is None


def test_something_that_is_not_resp_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        reply_end(b"HTTP/1.1 400 Bad Request\r\n")


def test_nearest_rank_returns_a_measured_value() -> None:
    values = list(range(1, 1001))
    assert nearest_rank(values, 0.5) == 500
    assert nearest_rank(values, 0.99) == 990
    assert nearest_rank(values, 0.999) == 999
    assert nearest_rank(values, 1.0) == 1000
    assert nearest_rank([7], 0.999) == 7
    stats = Percentiles.of([3000, 1000, 2000])
    assert stats.values_ns == {"p50": 2000, "p95": 3000, "p99": 3000, "p999": 3000, "max": 3000}
    assert stats.ms("p50") == 0.002


def test_tail_percentiles_are_judged_only_with_enough_samples() -> None:
    assert meaningful("p999", 5000)
    assert not meaningful("p999", 300)
    assert meaningful("p99", 300)
    assert not meaningful("p99", 100)
    assert meaningful("max", 1)


def test_the_fewest_samples_for_a_percentile_are_where_it_starts_being_judged() -> None:
    for percentile, fewest in (("p50", 4), ("p95", 40), ("p99", 200), ("p999", 2000)):
        assert fewest_samples(percentile) == fewest
        assert meaningful(percentile, fewest)
        assert not meaningful(percentile, fewest - 1)
    # doctor's short sample still judges p99
    assert meaningful("p99", DOCTOR_SAMPLES)
    assert not meaningful("p999", DOCTOR_SAMPLES)


def test_format_ms_reads_at_every_scale() -> None:
    assert format_ms(0.0312) == "31.2 µs"
    assert format_ms(4.5) == "4.50 ms"
    assert format_ms(250) == "250 ms"


def _entry(key: str, value: str, line: int, name: str = ".env.prod") -> EnvEntry:
    return EnvEntry(key, value, Source(Path("/p") / name, line))


def test_defaults_are_stricter_for_prod_and_cover_every_command() -> None:
    dev, staging, prod = (BudgetBook.defaults(env) for env in ("dev", "staging", "prod"))
    for command in COMMANDS:
        for percentile in ("p50", "p99", "p999"):
            limits = [book.budget(command, percentile) for book in (dev, staging, prod)]
            assert all(limit is not None for limit in limits)
            dev_limit, staging_limit, prod_limit = (limit.limit_ms for limit in limits if limit)
            assert prod_limit < staging_limit <= dev_limit
    budget = prod.budget("GET", "p50")
    assert budget is not None
    assert budget.describe() == "1 ms (default for prod)"
    other = BudgetBook.defaults("qa").budget("GET", "p50")
    assert other is not None
    assert other.source == "default for qa (dev's)"


def test_every_source_is_applied_and_named_later_layers_winning() -> None:
    env_values = {
        "REDIS_LATENCY_BUDGET_GET_P99": _entry("REDIS_LATENCY_BUDGET_GET_P99", "3", 12),
        "REDIS_LATENCY_BUDGET_ALL_P50": _entry("REDIS_LATENCY_BUDGET_ALL_P50", "800us", 13),
        "REDIS_PORT": _entry("REDIS_PORT", "6379", 2),
    }
    book = BudgetBook.resolve(
        "prod",
        env_values,
        ini=["SET:p99=7", "GET:p99=9", "PING:max=40"],
        environ=["INCR:p95=2"],
        option=["HSET:p999=30", "INCR:p95=1.5"],
    )

    def cite(command: str, percentile: str) -> str:
        budget = book.budget(command, percentile)
        assert budget is not None, (command, percentile)
        return budget.describe()

    assert cite("PING", "p99") == "10 ms (default for prod)"
    assert cite("SET", "p99") == "7 ms (ini nself_budget SET:p99=7)"
    assert cite("PING", "max") == "40 ms (ini nself_budget PING:max=40)"
    # The env file beats ini for GET p99, and its ALL rule reaches every command.
    assert cite("GET", "p99") == "3 ms (REDIS_LATENCY_BUDGET_GET_P99=3 (.env.prod:12))"
    assert cite("EVALSHA", "p50") == "0.8 ms (REDIS_LATENCY_BUDGET_ALL_P50=800us (.env.prod:13))"
    # NSELF_BUDGET beats the env files; the option beats NSELF_BUDGET.
    assert cite("INCR", "p95") == "1.5 ms (option --nself-budget INCR:p95=1.5)"
    assert cite("HSET", "p999") == "30 ms (option --nself-budget HSET:p999=30)"
    assert book.budget("GET", "p95") is None


def test_a_specific_rule_beats_all_within_one_layer() -> None:
    book = BudgetBook.resolve("dev", option=["GET:p50=0.5", "ALL:p50=3"])
    assert (book.budget("GET", "p50") or pytest.fail("no budget")).limit_ms == 0.5
    assert (book.budget("SET", "p50") or pytest.fail("no budget")).limit_ms == 3


@pytest.mark.parametrize(
    "text", ["GET:p99", "GET=2", "FLUSHALL:p99=2", "GET:p42=2", "GET:p99=-1", "GET:p99=x"]
)
def test_a_bad_rule_is_an_error_naming_it_and_its_origin(text: str) -> None:
    with pytest.raises(BudgetError) as caught:
        parse_rule(text, "option --nself-budget")
    assert f"{text!r} (option --nself-budget)" in str(caught.value)
    assert "PIPELINE" in str(caught.value)  # the valid choices are listed


def test_a_bad_env_file_budget_names_file_and_line() -> None:
    key = "REDIS_LATENCY_BUDGET_GTE_P99"
    with pytest.raises(BudgetError) as caught:
        BudgetBook.resolve("prod", {key: _entry(key, "2", 14)})
    assert "REDIS_LATENCY_BUDGET_GTE_P99=2 (.env.prod:14)" in str(caught.value)


def test_a_chart_shows_every_percentile_its_budget_and_the_verdict() -> None:
    chart = CommandChart(
        "GET",
        "GET of a <64-byte> string",
        5000,
        (
            Bar("p50", 0.04, 1.0, "default for prod"),
            Bar("p99", 12.0, 10.0, "option --nself-budget GET:p99=10"),
            Bar("p99.9", 30.0, 50.0, "default for prod", judged=False),
            Bar("max", 80.0),
        ),
    )
    svg = command_chart(chart)
    assert 'data-command="GET"' in svg
    assert 'data-over-budget="true"' in svg
    assert svg.count('class="nself-budget"') == 3
    assert "12.00 ms · budget 10.00 ms — OVER" in svg
    assert "30.00 ms · budget 50.00 ms (not judged)" in svg
    assert "&lt;64-byte&gt;" in svg  # escaped
    assert "<script" not in svg
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    section = latency_section("prod", [chart], ["Sampler overhead: ratio 1.01"], [("Budgets", [{"a": 1}])])
    assert section.startswith('<section id="nself-latency"')
    assert "Sampler overhead: ratio 1.01" in section


def _comparison(sampler_ms: float, benchmark_ms: float, tls: bool = False) -> OverheadComparison:
    # one disturbed round (twice as slow) does not move the median of the per-round ratios
    rounds = [
        BenchmarkRound(sampler_ms, benchmark_ms, {}),
        BenchmarkRound(sampler_ms, benchmark_ms, {}),
        BenchmarkRound(sampler_ms * 2, benchmark_ms, {}),
    ]
    return OverheadComparison(
        1000, "redis-benchmark -h 127.0.0.1 -p 1 -c 1 -n 1000 -t ping --csv", tls, rounds
    )


def test_one_disturbed_round_does_not_move_the_overhead_ratio() -> None:
    comparison = _comparison(0.035, 0.031)
    assert round(comparison.ratio, 3) == 1.129  # the median of the per-round ratios
    assert comparison.as_dict()["sampler_p50_ms"] == 0.035  # the best round of each is shown


def test_rule_lists_read_alike_from_every_source() -> None:
    """One reader: NSELF_BUDGET text splits at ``;`` and newlines, ini lines and repeated flags
    are one rule each; blanks and surrounding space go."""
    assert rule_list(" GET:p99=2 ;SET:p50=500us\n\n ; ") == ("GET:p99=2", "SET:p50=500us")
    assert rule_list(["  GET:p99=2 ", "", "  "]) == ("GET:p99=2",)
    assert rule_list(None) == rule_list("") == rule_list([]) == ()
    rules = BudgetRules(ini=rule_list(["GET:p99=9"]), environ=rule_list("GET:p99=8;"), option=())
    book = BudgetBook.resolve("dev", ini=rules.ini, environ=rules.environ, option=rules.option)
    assert (book.budget("GET", "p99") or pytest.fail("no budget")).source == "NSELF_BUDGET GET:p99=8"


def test_a_percentile_with_too_few_samples_is_never_listed_over_budget() -> None:
    # 300 round trips: p99.9 is the maximum under another name, so it is not judged, however slow.
    durations = [50_000] * 299 + [200_000_000]  # one 200 ms stall
    result = CommandLatency(
        "PING", "no key", tuple(durations), Percentiles.of(durations), 30, "127.0.0.1:6379", 0.1
    )
    outcome = judge(result, BudgetBook.defaults("prod"))
    assert outcome.status is Status.OK, outcome.message
    assert outcome.measured["over_budget"] == []
    assert "p99.9" in outcome.measured["not_judged"]
