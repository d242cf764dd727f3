"""Targets are read off the right cases, and an unmeasured one is said to be so."""

from __future__ import annotations

from typing import Any

from bench.report import CaseResult, check_targets


def _case(store: str, size: int, case: str, rate: float, *, auth: bool = False,
          **extra: Any) -> CaseResult:  # fmt: skip
    return CaseResult(
        store=store, size=size, auth=auth, case=case, connections=32, rate=rate, p50_ms=1,
        p99_ms=2, errors=0, rss_mb=60, server_cpu=1, other_cpu=0, ratio=rate / 1000,
        extra=dict(extra),
    )  # fmt: skip


def _by_name(results: list[CaseResult], sizes: list[int]) -> dict[str, Any]:
    return {t.name: t for t in check_targets(results, sizes)}


def test_ratios_to_the_baseline_and_across_sizes() -> None:
    targets = _by_name(
        [
            _case("json", 100, "get_one", 700),
            _case("json", 100, "get_page", 400),
            _case("json", 10_000, "get_one", 650),
            _case("json", 10_000, "get_page", 300),
        ],
        [100, 10_000],
    )
    assert targets["JSON 100 issues, auth off: get_one / baseline"].met is True
    assert targets["JSON 100 issues, auth off: get_page / baseline"].met is False
    flat = targets["json get_page: rate at 10,000 / rate at 100"]
    assert flat.measured == 0.75
    assert flat.met is False
    assert targets["json get_one: rate at 10,000 / rate at 100"].met is True


def test_auth_cost_and_logins_compare_like_with_like() -> None:
    targets = _by_name(
        [
            _case("json", 100, "get_one", 1000),
            _case("json", 100, "get_one", 850, auth=True),
            _case("json", 100, "get_one+logins", 400, auth=True),
        ],
        [100],
    )
    assert targets["json 100: get_one auth on / auth off"].measured == 0.85
    assert targets["json 100: get_one auth on / auth off"].met is True
    stall = targets["json 100: get_one with 8 logins in flight / alone"]
    assert stall.measured == round(400 / 850, 3)
    assert stall.met is False


def test_creates_need_rate_no_errors_and_nothing_lost() -> None:
    post = _case("json", 10_000, "post", 600, created_per_s=590.0, acked=5900, lost=1,
                 on_disk_added=5899)  # fmt: skip
    targets = _by_name([post], [100, 10_000])
    assert targets["JSON 10,000 issues, 32 connections: created/s"].met is True
    assert targets["... and zero acknowledged creates missing on disk"].met is False


def test_what_was_not_run_is_reported_as_not_measured() -> None:
    targets = _by_name([_case("json", 100, "get_one", 700)], [100])
    assert targets["server RSS at SQLite issues under load (MB)"].met is None
    assert targets["get_one with 8 logins in flight / alone"].met is None
    assert targets["JSON 100 issues, auth off: get_page / baseline"].met is None


def test_event_targets_latency_and_subscribers_against_without() -> None:
    latency = _case("sqlite", 100, "event_latency", 0, writes=200)
    latency.p99_ms = 120.0
    slow = _case("postgres", 100, "event_latency", 0, writes=200)
    slow.p99_ms = 180.0
    idle = _case("sqlite", 100, "get_one+1000_idle_sse", 900, x_without=0.85,
                 x_without_per_cpu=0.9, rss_kb_per_subscriber=30.5)  # fmt: skip
    post = _case("sqlite", 100, "post+100_sse", 300, x_without=0.5, x_without_per_cpu=0.6)
    targets = _by_name([latency, slow, idle, post], [100])
    assert targets["sqlite: event latency to another worker, p99 ms"].met is True
    assert targets["postgres: event latency to another worker, p99 ms"].met is False
    held = targets["sqlite get_one+1000_idle_sse / without subscribers"]
    assert (held.measured, held.met) == (0.85, True)
    assert "30.5 KB RSS per idle subscriber" in held.detail
    assert targets["sqlite post+100_sse / without subscribers"].met is False


def test_an_event_that_never_arrived_fails_the_latency_target() -> None:
    lost = _case("sqlite", 100, "event_latency", 0, writes=200)
    lost.errors = 1
    target = _by_name([lost], [100])["sqlite: event latency to another worker, p99 ms"]
    assert target.met is False
    assert "1 never arrived" in target.detail


def test_without_event_cases_the_event_targets_are_not_measured() -> None:
    assert _by_name([], [100])["event cases"].met is None
