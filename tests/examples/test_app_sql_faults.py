"""PostgreSQL outages under load: the example app talks to the database through a proxy the
test controls, which cuts every connection mid-load and refuses new ones for a while.

While the database is unreachable every request must answer 503 saying the store is
unavailable, quickly (never a 500, never a hang); once it is reachable again the app must
serve again by itself, without a restart; and every create acknowledged with a 201 must be
in the database.
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio.to_thread
import httpx
import pytest
from examples.app import create_app
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from fastapi_issues.cli import main
from fastapi_issues.storage.sql._database import POSTGRES_CONNECT_TIMEOUT
from fastapi_issues.storage.sql._schema import issues
from tests.tcp_proxy import TCPProxy

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SECRET_KEY = "example-app-sql-faults-key-" + "k" * 40
BASE = "/api/v1/issues"
CLIENTS = 6
WARM_UP = 2.0  # seconds of load before the outage
AFTER = 6.0  # seconds of load after the database is reachable again
# How new connections fail during the outage, how long it lasts, and the slowest answer
# allowed. Refused connections fail at once, so 3 s (against tens of milliseconds per
# request on a loaded 2-core machine) is only reached by waiting on something that should
# not be waited on: a pool checkout, a connect or a statement that never ends (before the
# fix, 60 s). Requests caught at the very instant the database went away took up to 2.2 s
# while the whole suite ran beside them. Connections that get no answer are given up after
# the connect timeout; that outage outlasts it.
OUTAGES = {
    "refused": (3.0, 3.0),
    "stalled": (POSTGRES_CONNECT_TIMEOUT + 2, POSTGRES_CONNECT_TIMEOUT + 1),
}
HANG = 20.0  # a request still unanswered after this is recorded as a hang


@dataclass
class Outcome:
    kind: str
    started: float
    ended: float
    status: int | str  # "hang" when unanswered
    detail: object = None


@dataclass
class Ledger:
    outcomes: list[Outcome] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)


@asynccontextmanager
async def serving(storage_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app({"ISSUES_STORAGE_URL": storage_url, "FASTAPI_ISSUES_SECRET_KEY": SECRET_KEY})
    async with app.router.lifespan_context(app):
        # An unhandled error answers 500, as under a server, instead of raising here.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def timed(
    ledger: Ledger, kind: str, request: Awaitable[httpx.Response]
) -> httpx.Response | None:
    started = time.monotonic()
    try:
        response = await asyncio.wait_for(request, HANG)
    except TimeoutError:
        ledger.outcomes.append(Outcome(kind, started, time.monotonic(), "hang"))
        return None
    ended = time.monotonic()
    ledger.outcomes.append(Outcome(kind, started, ended, response.status_code, detail(response)))
    return response


def detail(response: httpx.Response) -> object:
    if response.status_code < 400:
        return None
    try:
        return response.json().get("detail")
    except ValueError:  # a 500's plain text, say
        return response.text


async def client_loop(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    ledger: Ledger,
    name: str,
    stop: asyncio.Event,
) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        body = {"title": f"{name} #{n}", "description": "written through the proxy"}
        created = await timed(ledger, "create", client.post(BASE, json=body, headers=headers))
        if created is not None and created.status_code == 201:
            issue_id = created.json()["id"]
            ledger.acknowledged.append(issue_id)
            read = client.get(f"{BASE}/{issue_id}", headers=headers)
        else:
            read = client.get(BASE, params={"limit": 5}, headers=headers)
        await timed(ledger, "read", read)
        await asyncio.sleep(0.01)  # a bounded load, not a flat-out loop


def proxied(url: str, proxy: TCPProxy) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)


async def stored_ids(url: str, wanted: list[str]) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(select(issues.c.id).where(issues.c.id.in_(wanted)))
            return set(found.scalars())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("new_connections", list(OUTAGES))
async def test_postgres_outage_answers_503_fast_and_recovers_without_losing_writes(
    new_connections: str, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    added = await anyio.to_thread.run_sync(
        main, ["user", "add", "grace", "--password-stdin", "--storage-url", postgres_database]
    )
    assert added == 0
    outage, slowest_answer = OUTAGES[new_connections]
    database = make_url(postgres_database)
    proxy = TCPProxy(database.host or "127.0.0.1", database.port or 5432)
    await proxy.accept()
    ledger = Ledger()
    try:
        async with serving(proxied(postgres_database, proxy)) as client:
            login = await client.post(
                "/token", data={"username": "grace", "password": "correct horse battery"}
            )
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            stop = asyncio.Event()
            clients = [
                asyncio.ensure_future(client_loop(client, headers, ledger, f"c{i}", stop))
                for i in range(CLIENTS)
            ]
            await asyncio.sleep(WARM_UP)
            if new_connections == "refused":
                await proxy.refuse()
            else:
                proxy.stall()
            cut_at = time.monotonic()
            cut = proxy.cut()
            await asyncio.sleep(outage)
            await proxy.accept()
            back_at = time.monotonic()
            await asyncio.sleep(AFTER)
            stop.set()
            await asyncio.gather(*clients)
    finally:
        await proxy.aclose()

    outcomes = ledger.outcomes
    report = summary(outcomes, cut_at, back_at)
    assert cut > 0, "no connection was live when the outage began"
    unexpected = [o for o in outcomes if o.status not in (200, 201, 503)]
    assert not unexpected, f"unexpected answers: {unexpected[:5]}\n{report}"
    unclear = [o for o in outcomes if o.status == 503 and "store unavailable" not in str(o.detail)]
    assert not unclear, f"503s without a clear message: {unclear[:5]}"
    slow = [o for o in outcomes if o.ended - o.started > slowest_answer]
    assert not slow, f"{len(slow)} answers took over {slowest_answer}s: {slow[:5]}\n{report}"

    during = [o for o in outcomes if o.started >= cut_at and o.ended <= back_at]
    assert len(during) >= CLIENTS, report
    served = [o for o in during if o.status != 503]
    assert not served, f"answered without a database: {served[:5]}"

    # Asked: serving again within 5 s. Met at once: connections cut while they sat unused
    # are dropped, not tried, so no request fails once the database can be reached.
    after = [o for o in outcomes if o.started > back_at]
    assert len(after) >= 10, report
    failed = [o for o in after if o.status not in (200, 201)]
    assert not failed, f"failing after the outage: {failed[:5]}\n{report}"

    assert ledger.acknowledged
    missing = set(ledger.acknowledged) - await stored_ids(postgres_database, ledger.acknowledged)
    assert not missing, f"{len(missing)} acknowledged creates are not in the database"


def summary(outcomes: list[Outcome], cut_at: float, back_at: float) -> str:
    """Counts by status before, during and after the outage, the slowest answer, and when
    answers were all successes again; for failure messages and `-s` runs."""
    phases = {
        "before": [o for o in outcomes if o.ended < cut_at],
        "during": [o for o in outcomes if o.started >= cut_at and o.ended <= back_at],
        "after": [o for o in outcomes if o.started > back_at],
    }
    lines = []
    for phase, chosen in phases.items():
        statuses: dict[object, int] = {}
        for o in chosen:
            statuses[o.status] = statuses.get(o.status, 0) + 1
        slowest = max((o.ended - o.started for o in chosen), default=0.0)
        lines.append(f"{phase}: {statuses} slowest {slowest:.3f}s")
    failures_after = [o.ended - back_at for o in phases["after"] if o.status not in (200, 201)]
    lines.append(f"last failure after recovery: {max(failures_after, default=0.0):.3f}s")
    text = "\n".join(lines)
    print(text)
    return text
