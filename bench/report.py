"""The targets of issue 7, checked against one run, and the run written as JSON and Markdown."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class CaseResult:
    store: str
    size: int | None
    auth: bool
    case: str
    connections: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_mb: float
    server_cpu: float
    other_cpu: float
    ratio: float | None = None
    cpu_ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int | None, bool, str]:
        return (self.store, self.size, self.auth, self.case)


@dataclass
class Target:
    name: str
    measured: float | None
    needed: str
    met: bool | None  # None: not measured in this run
    detail: str = ""


def _find(results: Iterable[CaseResult], **want: Any) -> CaseResult | None:
    for result in results:
        if all(getattr(result, k) == v for k, v in want.items()):
            return result
    return None


def _at_least(name: str, value: float | None, floor: float, detail: str = "") -> Target:
    if value is None:
        return Target(name, None, f">= {floor:g}", None, detail or "not measured")
    return Target(name, round(value, 3), f">= {floor:g}", value >= floor, detail)


def check_targets(results: Sequence[CaseResult], sizes: Sequence[int]) -> list[Target]:
    targets: list[Target] = []
    small, large_json, large = min(sizes), min(max(sizes), 10_000), max(sizes)

    for size in sorted({small, large_json}):
        for case, floor in (("get_one", 0.6), ("get_page", 0.45)):
            hit = _find(results, store="json", size=size, auth=False, case=case)
            targets.append(
                _at_least(
                    f"JSON {size:,} issues, auth off: {case} / baseline",
                    hit.ratio if hit else None,
                    floor,
                )
            )

    stores_seen = sorted({r.store for r in results if r.store in ("sqlite", "postgres")})
    for store in stores_seen:
        for size in sizes:
            hit = _find(results, store=store, size=size, auth=False, case="get_one")
            targets.append(
                _at_least(
                    f"{store} {size:,} issues: get_one / baseline", hit.ratio if hit else None, 0.35
                )
            )

    for result in results:
        if not result.auth or result.case not in ("get_one", "get_page", "patch", "post"):
            continue
        open_ = _find(results, store=result.store, size=result.size, auth=False, case=result.case)
        targets.append(
            _at_least(
                f"{result.store} {result.size:,}: {result.case} auth on / auth off",
                result.rate / open_.rate if open_ and open_.rate else None,
                0.8,
            )
        )

    flat_cases: dict[str, tuple[str, ...]] = {"json": ("get_one", "get_page")}
    for store in stores_seen:
        flat_cases[store] = ("get_one", "get_page", "patch", "post")
    for store, cases in flat_cases.items():
        top = large_json if store == "json" else large
        if top == small:
            continue
        for case in cases:
            low = _find(results, store=store, size=small, auth=False, case=case)
            high = _find(results, store=store, size=top, auth=False, case=case)
            targets.append(
                _at_least(
                    f"{store} {case}: rate at {top:,} / rate at {small:,}",
                    high.rate / low.rate if high and low and low.rate else None,
                    0.8,
                )
            )

    post = _find(results, store="json", size=large_json, auth=False, case="post")
    if post is not None:
        lost = post.extra.get("lost")
        targets.append(
            _at_least(
                f"JSON {large_json:,} issues, {post.connections} connections: created/s",
                post.extra.get("created_per_s"),
                500,
            )
        )
        targets.append(Target("... with zero errors", post.errors, "== 0", post.errors == 0))
        targets.append(
            Target(
                "... and zero acknowledged creates missing on disk",
                lost,
                "== 0",
                lost == 0,
                f"{post.extra.get('acked')} acknowledged, {post.extra.get('on_disk_added')} "
                "added on disk",
            )
        )
    else:
        targets.append(
            Target("JSON store created/s at 32 connections", None, ">= 500", None, "not measured")
        )

    stalls = [r for r in results if r.case == "get_one+logins"]
    for stall in stalls:
        alone = _find(results, store=stall.store, size=stall.size, auth=True, case="get_one")
        targets.append(
            _at_least(
                f"{stall.store} {stall.size:,}: get_one with 8 logins in flight / alone",
                stall.rate / alone.rate if alone and alone.rate else None,
                0.5,
            )
        )
    if not stalls:
        targets.append(
            Target(
                "get_one with 8 logins in flight / alone",
                None,
                ">= 0.5",
                None,
                "not measured (no auth in the example app)",
            )
        )

    targets += _event_targets(results)
    targets += _hook_targets(results)

    sqlite_large = [r for r in results if r.store == "sqlite" and r.size == large]
    if sqlite_large:
        peak = max(r.rss_mb for r in sqlite_large)
        targets.append(
            Target(
                f"server RSS at {large:,} SQLite issues under load (MB)",
                round(peak, 1),
                "< 150",
                peak < 150,
            )
        )
    else:
        targets.append(
            Target(
                "server RSS at SQLite issues under load (MB)", None, "< 150", None, "not measured"
            )
        )
    return targets


def _event_targets(results: Sequence[CaseResult]) -> list[Target]:
    """Issue 17's: live events reach another worker quickly, and subscribers cost readers
    and writers little."""
    targets: list[Target] = []
    for r in results:
        if r.case == "event_latency":
            met = r.errors == 0 and r.p99_ms < 150
            detail = f"{r.extra.get('writes')} writes, {r.errors} never arrived"
            name = f"{r.store}: event latency to another worker, p99 ms"
            targets.append(Target(name, round(r.p99_ms, 1), "< 150", met, detail))
        elif r.case in ("get_one+1000_idle_sse", "post+100_sse"):
            name = f"{r.store} {r.case} / without subscribers"
            detail = f"{r.extra.get('x_without_per_cpu')} per CPU-s"
            if "rss_kb_per_subscriber" in r.extra:
                detail += f"; {r.extra['rss_kb_per_subscriber']} KB RSS per idle subscriber"
            targets.append(_at_least(name, r.extra.get("x_without"), 0.8, detail))
    if not targets:
        targets.append(Target("event cases", None, "", None, "not measured"))
    return targets


def _hook_targets(results: Sequence[CaseResult]) -> list[Target]:
    """Issue 18's: deliveries never on the request path, and every one arriving, signed,
    once."""
    targets: list[Target] = []
    for r in results:
        x = r.extra
        if r.case == "post+5_hooks":
            detail = (
                f"{x.get('x_without_per_cpu')} per CPU-s; {x.get('deliveries_per_s_under_load')} "
                f"deliveries/s under load, backlog {x.get('backlog_at_end')} at its end, drained "
                f"in {x.get('drain_s')} s{' (estimated)' if x.get('drain_estimated') else ''} "
                f"at {x.get('deliveries_per_s_draining')}/s"
            )
            name = f"{r.store} post with 5 active hooks / without"
            targets.append(_at_least(name, x.get("x_without"), 0.9, detail))
        elif r.case == "deliveries":
            bad = str(x.get("bad_signatures", "")).split(" ", 1)[0]
            met = r.errors == 0 and x.get("duplicates") == 0 and bad == "0"
            detail = (
                f"{x.get('deliveries')} of {x.get('expected')} arrived, {x.get('duplicates')} "
                f"twice, bad signatures {x.get('bad_signatures')}"
            )
            name = f"{r.store}: deliveries per second, {x.get('hooks')} hooks"
            targets.append(Target(name, round(r.rate, 1), "all, once, signed", met, detail))
    return targets


DISTURBED = 0.3


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _verdict(target: Target) -> str:
    return {True: "met", False: "NOT MET", None: "not measured"}[target.met]


def markdown(meta: dict[str, Any], results: Sequence[CaseResult], targets: Sequence[Target]) -> str:
    lines = [
        f"# fastapi-issues benchmark, {meta['started']}",
        "",
        f"- Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, "
        f"{meta['machine']['kernel']}; server on core(s) {meta['server_cores']}, "
        f"wrk on core(s) {meta['load_cores']}.",
        f"- Software: {meta['software']}.",
        f"- Each case: {meta['seconds']:g} s of load after {meta['warmup']:g} s of warm-up, "
        f"{meta['connections']} connections unless said.",
        "- Baseline runs: "
        + ", ".join(f"{rate:,.0f}" for rate in meta["baseline_runs"])
        + " req/s, one before the first store and one after each; every store's cases are "
        "held against the mean of the runs just before and just after them.",
        "",
        "| store | issues | auth | case | conns | req/s | p50 ms | p99 ms | errors | x baseline "
        "| x baseline per CPU-s | RSS MB | server CPU | other CPU |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    disturbed = False
    for r in results:
        mark = ""
        if r.other_cpu > DISTURBED:
            mark, disturbed = " †", True
        lines.append(
            f"| {r.store} | {'' if r.size is None else f'{r.size:,}'} | "
            f"{'on' if r.auth else 'off'} | {r.case}{mark} | {r.connections} | {r.rate:,.0f} | "
            f"{r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | {_ratio(r.ratio)} | "
            f"{_ratio(r.cpu_ratio)} | {r.rss_mb:.0f} | {r.server_cpu:.2f} | {r.other_cpu:.2f} |"
        )
    lines += ["", "| target | measured | needed | verdict |", "|---|---:|---|---|"]
    for t in targets:
        measured = "" if t.measured is None else f"{t.measured:g}"
        detail = f" ({t.detail})" if t.detail else ""
        lines.append(f"| {t.name}{detail} | {measured} | {t.needed} | {_verdict(t)} |")
    if meta.get("notes"):
        lines += ["", *(f"- {note}" for note in meta["notes"])]
    if disturbed:
        lines += [
            "",
            f"† other processes used more than {DISTURBED:g} of a core during this case: its "
            "req/s is less trustworthy; compare its ratio per CPU-second too.",
        ]
    lines += [
        "",
        "x baseline per CPU-s: requests per CPU-second of the server, against the baseline's "
        "(how much work a request costs, whatever else ran on the machine). "
        "server CPU: the share of its core the server used during the case (1.00 = saturated). "
        "other CPU: cores' worth of time used by processes other than the server and wrk "
        "(another load on the machine makes a case's numbers less trustworthy).",
    ]
    return "\n".join(lines) + "\n"


def write(
    out: Path,
    stamp: str,
    meta: dict[str, Any],
    results: Sequence[CaseResult],
    targets: Sequence[Target],
) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "meta": meta,
        "cases": [asdict(r) for r in results],
        "targets": [asdict(t) for t in targets],
    }
    text = markdown(meta, results, targets)
    json_path, md_path = out / f"bench-{stamp}.json", out / f"bench-{stamp}.md"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    md_path.write_text(text)
    (out / "latest.json").write_text(json_path.read_text())
    (out / "latest.md").write_text(text)
    return json_path, md_path
