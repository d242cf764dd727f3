"""`python -m bench`: the example app's speed on every store, as ratios to bare FastAPI.

Run it from the repository's root after the README's set-up; `--help` lists the options.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench import fill
from bench.events import EVENT_CASES, run_event_cases
from bench.hooks import HOOK_CASES, run_deliveries, run_post_with_hooks
from bench.load import INSTALL_HINT, Load, Wrk, find_wrk, wrk_version
from bench.report import CaseResult, check_targets, write
from bench.servers import Server, Watch, split_cores

REPO = Path(__file__).resolve().parent.parent
PREFIX = "/api/v1/issues"
STORES = ("json", "sqlite", "postgres")
JSON_MAX_SIZE = 10_000
DEMO_USER = ("johndoe", "secret")
LOGINS_IN_FLIGHT = 8
# Overridable, so that two runs on one PostgreSQL server keep out of each other's way.
BENCH_DATABASE = os.environ.get("FASTAPI_ISSUES_BENCH_DATABASE", "fastapi_issues_bench")


@dataclass
class Settings:
    stores: Sequence[str]
    sizes: Sequence[int]
    auth: Sequence[bool]
    cases: set[str] | None
    seconds: float
    warmup: float
    connections: int
    postgres_url: str
    profile: str | None
    out: Path


@dataclass
class Bench:
    settings: Settings
    wrk: Wrk
    work: Path
    logs: Path
    server_cores: set[int] | None
    results: list[CaseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # -- one case ------------------------------------------------------------------------

    def measure(
        self,
        server: Server,
        label: tuple[str, int | None, bool, str],
        script: str,
        *,
        path: str = "",
        options: dict[str, str] | None = None,
        connections: int | None = None,
        alongside: Callable[[], Any] | None = None,
        after_warmup: Callable[[], Any] | None = None,
    ) -> tuple[CaseResult, Load]:
        """Warm up, then load `server` with `script` for the set time and record the case.

        `alongside` starts other load that runs during the measured part and returns a
        function that ends it; `after_warmup` is called between warm-up and measurement.
        """
        store, size, auth, case = label
        s = self.settings
        conns = connections or s.connections
        url = server.url + path
        if s.warmup > 0:
            self.wrk.run(url, script, connections=conns, seconds=s.warmup, options=options)
        if after_warmup is not None:
            time.sleep(0.5)  # let what the warm-up left in flight finish
            after_warmup()
        other_load = alongside() if alongside else None
        profiler = self._profile(server, label)
        busy_before, children_before = _machine_busy(), _children_cpu()
        started = time.monotonic()
        with Watch(server) as watch:
            load = self.wrk.run(url, script, connections=conns, seconds=s.seconds, options=options)
        elapsed = time.monotonic() - started
        extra: dict[str, Any] = {}
        if other_load is not None:
            extra.update(other_load())
        if profiler is not None:
            profiler.wait()
        other = (
            (_machine_busy() - busy_before)
            - (_children_cpu() - children_before)
            - watch.cpu_share * elapsed
        ) / elapsed
        result = CaseResult(
            store=store, size=size, auth=auth, case=case, connections=conns,
            rate=load.rate, p50_ms=load.p50_ms, p99_ms=load.p99_ms, errors=load.error_count,
            rss_mb=watch.peak_rss / 2**20, server_cpu=watch.cpu_share,
            other_cpu=max(0.0, other), extra=extra,
        )  # fmt: skip
        if load.errors:
            result.extra["error_kinds"] = load.errors
        self.results.append(result)
        _progress(result)
        return result, load

    def _profile(
        self, server: Server, label: tuple[str, int | None, bool, str]
    ) -> subprocess.Popen[bytes] | None:
        if not self.settings.profile:
            return None
        store, size, auth, case = label
        folder = self.settings.out / "profiles"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = {"flamegraph": "svg", "speedscope": "json", "raw": "txt"}[self.settings.profile]
        case_name = re.sub(r"[^\w+-]+", "_", case).strip("_")
        name = f"{store}-{size}-{'auth' if auth else 'open'}-{case_name}.{suffix}"
        with open(folder / f"{name}.log", "wb") as log:
            return subprocess.Popen(
                [
                    _py_spy(),
                    "record",
                    "--pid",
                    str(server.pid),
                    "--duration",
                    str(max(1, round(self.settings.seconds))),
                    "--rate",
                    "200",
                    "--nonblocking",
                    "--format",
                    self.settings.profile,
                    "--output",
                    str(folder / name),
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def wanted(self, case: str) -> bool:
        return self.settings.cases is None or case in self.settings.cases

    # -- the baseline --------------------------------------------------------------------

    def baseline(self) -> CaseResult:
        server = self._server("bench.apps:baseline", dict(os.environ), "/", "baseline")
        with server:
            result, _ = self.measure(server, ("baseline", None, False, "GET /"), "static")
        return result

    # -- the example app on one store ----------------------------------------------------

    def example_app(self, store: str, size: int, auth: bool) -> None:
        folder = Path(tempfile.mkdtemp(prefix=f"{store}-{size}-", dir=self.work))
        url, ids = self._fill(store, size, folder)
        env = _app_env(url, auth)
        name = f"{store}-{size}-{'auth' if auth else 'open'}"
        with self._server("examples.app:app", env, "/health", name) as server:
            token = ""
            if auth:
                if not _requires_auth(server.url):
                    self.notes.append("the example app has no auth yet: auth cases not run")
                    return
                token = _login(server.url)
            ids_file = folder / "ids.txt"
            ids_file.write_text("\n".join(ids) + "\n")
            base = {"prefix": PREFIX, "token": token}
            by_id = {**base, "ids": str(ids_file)}

            def label(case: str) -> tuple[str, int, bool, str]:
                return (store, size, auth, case)

            first = store == "json" and size == min(self.settings.sizes) and not auth
            if first and self.wanted("health"):
                self.measure(server, label("health"), "static", path="/health")
            if self.wanted("get_one"):
                self.measure(server, label("get_one"), "get_one", options=by_id)
            if self.wanted("get_page"):
                pages = {**base, "pages": str(max(1, min(10, size // 20))), "limit": "20"}
                self.measure(server, label("get_page"), "get_page", options=pages)
            if auth and self.wanted("login"):
                self.measure(
                    server, label("login"), "login", connections=LOGINS_IN_FLIGHT,
                    options=self._login_options(),
                )  # fmt: skip
            if auth and self.wanted("get_one+logins"):
                self.measure(
                    server, label("get_one+logins"), "get_one", options=by_id,
                    alongside=lambda: self._logins_alongside(server),
                )  # fmt: skip
            if self.wanted("patch"):
                self.measure(server, label("patch"), "patch", options=by_id)
            if self.wanted("post"):
                created = folder / "created"
                before: list[set[str] | None] = []
                result, load = self.measure(
                    server, label("post"), "post", options={**base, "ids_out": str(created)},
                    after_warmup=lambda: before.append(self._stored_ids(store, url)),
                )  # fmt: skip
                self._check_creates(store, url, result, load, before[-1], created)
            if size == min(self.settings.sizes) and not auth:
                post_options = {**base}
                run_event_cases(self, server, env, label, {"get_one": by_id, "post": post_options})
        if size == min(self.settings.sizes) and not auth and self.wanted("post+5_hooks"):
            run_post_with_hooks(self, store, size, {"prefix": PREFIX, "token": ""})
        if size == min(self.settings.sizes) and not auth and self.wanted("deliveries"):
            # With the app stopped, so that the events wait in the log for a fresh process.
            run_deliveries(self, env, store, size, url)

    @contextlib.contextmanager
    def fresh_app(self, store: str, size: int, name: str) -> Iterator[tuple[Server, str]]:
        """The example app (auth off) on a store just filled with `size` issues, for the
        length of a `with`: the server and the store's URL. Cases that compare two runs of
        a writing load start each from the same data this way, as a store that grows with
        every POST gets slower (the JSON store's every commit rewrites its file)."""
        folder = Path(tempfile.mkdtemp(prefix=f"{store}-{size}-{name}-", dir=self.work))
        url, _ = self._fill(store, size, folder)
        with self._server("examples.app:app", _app_env(url, False), "/health",
                          f"{store}-{size}-{name}") as server:  # fmt: skip
            yield server, url

    def second_server(self, env: dict[str, str], label: tuple[str, int, bool, str]) -> Server:
        """Another process of the example app on the same store, as a second worker."""
        store, size, _, name = label
        server = self._server("examples.app:app", env, "/health", f"{store}-{size}-{name}")
        server.cores = None  # the two share the machine, as two workers would
        return server

    def _login_options(self) -> dict[str, str]:
        return {"path": "/token", "username": DEMO_USER[0], "password": DEMO_USER[1]}

    def _logins_alongside(self, server: Server) -> Callable[[], dict[str, Any]]:
        # Runs a little longer than the measured load, so logins are in flight all along.
        process = self.wrk.start(
            server.url, "login", connections=LOGINS_IN_FLIGHT,
            seconds=self.settings.seconds + 2, options=self._login_options(),
        )  # fmt: skip
        time.sleep(0.5)

        def finish() -> dict[str, Any]:
            logins = Wrk.finish(process)
            return {
                "logins_per_s": round(logins.rate, 1),
                "login_p99_ms": round(logins.p99_ms, 1),
                "login_errors": logins.error_count,
            }

        return finish

    def _check_creates(
        self,
        store: str,
        url: str,
        result: CaseResult,
        load: Load,
        before: set[str] | None,
        created: Path,
    ) -> None:
        acked: set[str] = set()
        for part in created.parent.glob(created.name + ".*"):
            acked.update(part.read_text().split())
        result.extra["acked"] = len(acked)
        result.extra["created_per_s"] = round(len(acked) / load.seconds, 1)
        if before is None:
            return
        time.sleep(1)  # requests wrk gave up on at the end may still be committing
        after = self._stored_ids(store, url)
        assert after is not None
        result.extra["on_disk_added"] = len(after - before)
        result.extra["lost"] = len(acked - after)

    def _stored_ids(self, store: str, url: str) -> set[str] | None:
        if store == "json":
            return fill.count_json(Path(url.removeprefix("json://")))
        return None

    def _fill(self, store: str, size: int, folder: Path) -> tuple[str, list[str]]:
        started = time.monotonic()
        if store == "json":
            path = folder / "issues.json"
            ids = fill.fill_json(path, size)
            url = f"json://{path}"
        elif store == "sqlite":
            url = f"sqlite:///{folder / 'issues.db'}"
            ids = fill.fill_sql(url, size)
        else:
            url = fill.fresh_postgres_database(self.settings.postgres_url, BENCH_DATABASE)
            ids = fill.fill_sql(url, size)
        _say(f"filled {store} with {size:,} issues in {time.monotonic() - started:.1f}s")
        return url, ids

    def _server(self, app: str, env: dict[str, str], ready: str, name: str) -> Server:
        return Server(
            app, env=env, cwd=REPO, log=self.logs / f"{name}.log", cores=self.server_cores,
            ready_path=ready,
        )  # fmt: skip


# -- helpers ---------------------------------------------------------------------------------


def _app_env(url: str, auth: bool) -> dict[str, str]:
    """The example app's environment on the store at `url`."""
    # The login throttle answers 429 to many logins of one user in flight at once, which
    # would hide what the logins cost; the benchmark measures that cost.
    env = {
        **os.environ,
        "ISSUES_STORAGE_URL": url,
        "FASTAPI_ISSUES_DEMO": "1",
        "FASTAPI_ISSUES_THROTTLE": "off",
        # The webhook cases deliver to a receiver on 127.0.0.1.
        "FASTAPI_ISSUES_WEBHOOKS_ALLOW_PRIVATE": "1",
    }
    env.pop("FASTAPI_ISSUES_AUTH", None)
    if not auth:
        env["FASTAPI_ISSUES_AUTH"] = "off"
    return env


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress(r: CaseResult) -> None:
    size = "" if r.size is None else f" {r.size:,}"
    _say(
        f"  {r.store}{size} auth {'on' if r.auth else 'off'} {r.case}: {r.rate:,.0f} req/s, "
        f"p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, errors {r.errors}, "
        f"server CPU {r.server_cpu:.2f}, other CPU {r.other_cpu:.2f}"
        + (f", {r.extra}" if r.extra else "")
    )


def _set_ratios(results: Sequence[CaseResult], baselines: Sequence[CaseResult]) -> None:
    """Each result's rate and rate per CPU-second over the mean of `baselines`'."""
    rate = sum(b.rate for b in baselines) / len(baselines)
    per_cpu = sum(_per_cpu(b) for b in baselines) / len(baselines)
    for result in results:
        result.ratio = result.rate / rate if rate else None
        if per_cpu:
            result.cpu_ratio = _per_cpu(result) / per_cpu


def _per_cpu(result: CaseResult) -> float:
    return result.rate / result.server_cpu if result.server_cpu else 0.0


def _py_spy() -> str:
    beside_python = Path(sys.executable).with_name("py-spy")
    return str(beside_python) if beside_python.exists() else "py-spy"


def _machine_busy() -> float:
    """CPU-seconds the whole machine has spent busy since boot."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _requires_auth(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + PREFIX, timeout=10):
            return False
    except urllib.error.HTTPError as exc:
        return exc.code == 401


def _login(base_url: str) -> str:
    body = urllib.parse.urlencode({"username": DEMO_USER[0], "password": DEMO_USER[1]})
    with urllib.request.urlopen(base_url + "/token", body.encode(), timeout=30) as reply:
        token: str = json.load(reply)["access_token"]
        return token


def _postgres_reachable(url: str) -> bool:
    parsed = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5432), 2):
            return True
    except OSError:
        return False


def _store_supported(store: str) -> bool:
    if store == "json":
        return True
    try:
        import fastapi_issues.storage.sql  # noqa: F401
    except ImportError:
        return False
    return True


def _software() -> str:
    names = ["fastapi", "starlette", "pydantic", "uvicorn", "uvloop", "httptools", "sqlalchemy",
             "aiosqlite", "asyncpg"]  # fmt: skip
    found = []
    for name in names:
        with contextlib.suppress(PackageNotFoundError):
            found.append(f"{name} {version(name)}")
    return f"Python {platform.python_version()}, " + ", ".join(found)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


# -- the command -----------------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Benchmark the example app on every store against a bare FastAPI app, with wrk, "
            "on 127.0.0.1. Writes bench/results/latest.{json,md}."
        ),
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 100 issues, 2 s per case (what CI runs)"
    )
    parser.add_argument(
        "--stores",
        default=",".join(STORES),
        help="comma-separated stores to run (default: %(default)s)",
    )
    parser.add_argument(
        "--sizes",
        default="100,10000,100000",
        help="issue counts to fill each store with; the JSON store stops at "
        f"{JSON_MAX_SIZE:,} (default: %(default)s)",
    )
    parser.add_argument(
        "--auth",
        choices=("both", "on", "off"),
        default="both",
        help="auth on (at the smallest size), off, or both",
    )
    parser.add_argument(
        "--cases",
        default=None,
        help="only these cases: health, get_one, get_page, login, get_one+logins, patch, post, "
        + ", ".join(EVENT_CASES + HOOK_CASES),
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="load per case")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up per case")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "FASTAPI_ISSUES_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument(
        "--profile",
        choices=("flamegraph", "speedscope", "raw"),
        help="record each case with py-spy into <out>/profiles/",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    a = parser.parse_args(argv)  # fmt: skip
    sizes = [int(s) for s in a.sizes.split(",") if s]
    seconds, warmup = a.seconds, a.warmup
    if a.quick:
        sizes, seconds, warmup = [100], 2.0, 0.5
    return Settings(
        stores=[s for s in a.stores.split(",") if s],
        sizes=sorted(sizes),
        auth={"both": [False, True], "on": [True], "off": [False]}[a.auth],
        cases=set(a.cases.split(",")) if a.cases else None,
        seconds=seconds,
        warmup=warmup,
        connections=a.connections,
        postgres_url=a.postgres_url,
        profile=a.profile,
        out=a.out,
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = _parse(argv)
    wrk_path = find_wrk()
    if wrk_path is None:
        _say(INSTALL_HINT)
        return 2
    unknown = set(settings.stores) - set(STORES)
    if unknown:
        _say(f"unknown stores: {sorted(unknown)}; choose from {', '.join(STORES)}")
        return 2
    server_cores, load_cores = split_cores()
    if load_cores:
        os.sched_setaffinity(0, load_cores)  # keep this process off the server's core too
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    settings.out.mkdir(parents=True, exist_ok=True)
    logs = settings.out / f"logs-{stamp}"
    logs.mkdir()
    notes: list[str] = []
    if server_cores is None:
        notes.append("one core only: server and wrk share it, so ratios understate the app")

    with tempfile.TemporaryDirectory(prefix="fastapi-issues-bench-") as tmp:
        work = Path(tmp)
        bench = Bench(settings, Wrk(wrk_path, work=work, cores=load_cores), work, logs,
                      server_cores, notes=notes)  # fmt: skip
        _say("baseline: bare FastAPI, `async def` returning a fixed dict")
        baselines = [bench.baseline()]
        # The results measured between baselines[i] and baselines[i + 1]: the machine's
        # speed drifts (turbo, neighbours) by 10-15% over a run, so each store's cases are
        # held against the baseline runs just before and just after them.
        spans: list[tuple[int, int]] = []
        for store in settings.stores:
            if not _store_supported(store):
                notes.append(f"{store}: the package has no such store yet; not run")
                continue
            if store == "postgres" and not _postgres_reachable(settings.postgres_url):
                notes.append(f"postgres: nothing listens at {settings.postgres_url}; not run")
                continue
            sizes = [n for n in settings.sizes if store != "json" or n <= JSON_MAX_SIZE]
            start = len(bench.results)
            for auth in settings.auth:
                for size in sizes if not auth else sizes[:1]:
                    _say(f"{store}, {size:,} issues, auth {'on' if auth else 'off'}")
                    bench.example_app(store, size, auth)
            spans.append((start, len(bench.results)))
            _say("baseline again")
            baselines.append(bench.baseline())
        if "postgres" in settings.stores and _postgres_reachable(settings.postgres_url):
            with contextlib.suppress(Exception):
                fill.drop_postgres_database(settings.postgres_url, BENCH_DATABASE)

    baseline_rate = sum(b.rate for b in baselines) / len(baselines)
    _set_ratios(baselines, baselines)
    for number, (start, end) in enumerate(spans):
        _set_ratios(bench.results[start:end], baselines[number : number + 2])
    targets = check_targets(bench.results, settings.sizes)
    meta = {
        "started": started.isoformat(timespec="seconds"),
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "kernel": f"{platform.system()} {platform.release()}",
            "loadavg_at_start": os.getloadavg(),
        },
        "server_cores": sorted(server_cores) if server_cores else "shared",
        "load_cores": sorted(load_cores) if load_cores else "shared",
        "software": _software() + f", {wrk_version(wrk_path)}",
        "seconds": settings.seconds,
        "warmup": settings.warmup,
        "connections": settings.connections,
        "baseline_rate": baseline_rate,
        "baseline_runs": [b.rate for b in baselines],
        "notes": notes,
    }
    json_path, md_path = write(settings.out, stamp, meta, bench.results, targets)
    print(md_path.read_text())
    _say(f"written: {json_path} and {md_path}")
    return 0
