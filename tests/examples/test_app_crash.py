"""kill -9 cycles: the example app as a real process, killed at random moments under load.

Several clients stream creates and updates at it; it is killed with SIGKILL 20 times at
seeded-random moments and restarted each time. After every restart the store must open
cleanly and hold every write that was acknowledged with a 2xx, intact: an acknowledged update
is there at its version, or a write attempted after it is.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import ExampleAppServer

SEED = 8
KILLS = 20
CLIENTS = 8
BASE = "/api/v1/issues"
FIELDS = ("title", "description", "priority", "status")

STORES = {
    "json": lambda tmp: str(tmp / "issues.json"),
    "sqlite": lambda tmp: f"sqlite:///{tmp / 'issues.db'}",
}


@dataclass
class Tracked:
    """One issue as the clients know it."""

    acknowledged: dict[str, Any]  # the fields of the newest acknowledged version
    version: int
    # Fields sent in writes after the newest acknowledged one: each may or may not be applied.
    unconfirmed: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Ledger:
    issues: dict[str, Tracked] = field(default_factory=dict)
    attempted_titles: set[str] = field(default_factory=set)
    acknowledged_writes: int = 0


async def client_loop(
    server: ExampleAppServer, ledger: Ledger, rng: random.Random, name: str, stop: asyncio.Event
) -> None:
    mine: list[str] = []
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=server.headers, timeout=10
    ) as client:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if not mine or rng.random() < 0.4:
                    body = {
                        "title": f"{name}-create-{n}",
                        "description": f"Written by {name}, request {n}",
                        "priority": rng.choice(["low", "medium", "high"]),
                    }
                    ledger.attempted_titles.add(body["title"])
                    response = await client.post(BASE, json=body)
                    assert response.status_code == 201, response.text
                    issue = response.json()
                    assert {k: issue[k] for k in body} == body
                    ledger.issues[issue["id"]] = Tracked(
                        {**body, "status": "open"}, issue["version"]
                    )
                    mine.append(issue["id"])
                else:
                    issue_id = rng.choice(mine)
                    tracked = ledger.issues[issue_id]
                    body = {
                        "title": f"{name}-update-{n}",
                        "priority": rng.choice(["low", "medium", "high"]),
                        "status": rng.choice(["open", "in_progress", "closed"]),
                    }
                    ledger.attempted_titles.add(body["title"])
                    tracked.unconfirmed.append(body)
                    response = await client.patch(f"{BASE}/{issue_id}", json=body)
                    assert response.status_code == 200, response.text
                    issue = response.json()
                    assert issue["version"] > tracked.version
                    tracked.acknowledged = {k: issue[k] for k in FIELDS}
                    assert {k: tracked.acknowledged[k] for k in body} == body
                    tracked.version = issue["version"]
                    tracked.unconfirmed = []
                ledger.acknowledged_writes += 1
            except httpx.TransportError:
                return  # the server is gone; whatever was in flight is unacknowledged


async def load_until_killed(server: ExampleAppServer, ledger: Ledger, rng: random.Random) -> None:
    stop = asyncio.Event()
    clients = [
        asyncio.create_task(client_loop(server, ledger, random.Random(rng.random()), f"c{i}", stop))
        for i in range(CLIENTS)
    ]
    # Each cycle first sees some writes acknowledged, so the load is real however slow the
    # machine is; then the kill lands at a seeded-random moment after that.
    floor = ledger.acknowledged_writes + 10
    deadline = asyncio.get_running_loop().time() + 60
    while ledger.acknowledged_writes < floor and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - polled, the ledger has no event
        await asyncio.sleep(0.01)
    await asyncio.sleep(rng.uniform(0.0, 1.0))
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGKILL)
    await asyncio.to_thread(server.process.wait, 30)
    stop.set()
    await asyncio.gather(*clients)


def stored_issues(server: ExampleAppServer) -> dict[str, dict[str, Any]]:
    issues: dict[str, dict[str, Any]] = {}
    page = 1
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=30) as client:
        while True:
            response = client.get(BASE, params={"page": page, "limit": 100})
            assert response.status_code == 200, response.text
            for issue in response.json():
                issues[issue["id"]] = issue
            if len(issues) >= int(response.headers["X-Total-Count"]):
                return issues
            page += 1


def lost_writes(ledger: Ledger, stored: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for issue_id, tracked in ledger.issues.items():
        issue = stored.get(issue_id)
        if issue is None:
            problems.append(f"{issue_id}: acknowledged create is gone")
            continue
        fields = {k: issue[k] for k in FIELDS}
        if issue["version"] == tracked.version:
            if fields != tracked.acknowledged:
                problems.append(f"{issue_id}: v{tracked.version} is {fields}, not {tracked}")
        elif issue["version"] > tracked.version:
            # Only a write sent after the acknowledged one can have made it newer.
            later = issue["version"] - tracked.version
            if later > len(tracked.unconfirmed) or not any(
                {k: fields[k] for k in sent} == sent for sent in tracked.unconfirmed
            ):
                problems.append(f"{issue_id}: v{issue['version']} {fields} was never sent")
        else:
            problems.append(f"{issue_id}: at v{issue['version']}, acknowledged v{tracked.version}")
    for issue_id, issue in stored.items():
        if issue["title"] not in ledger.attempted_titles or issue["reporter"] != "writer":
            problems.append(f"{issue_id}: {issue['title']!r} by {issue['reporter']} never sent")
    return problems


def settle(ledger: Ledger, stored: dict[str, dict[str, Any]]) -> None:
    """Take what survived as the new known state of writes that were in flight."""
    for issue_id, tracked in ledger.issues.items():
        issue = stored[issue_id]
        tracked.acknowledged = {k: issue[k] for k in FIELDS}
        tracked.version = issue["version"]
        tracked.unconfirmed = []


@pytest.mark.slow
@pytest.mark.parametrize("store", sorted(STORES))
def test_kill_9_cycles_lose_no_acknowledged_write(tmp_path: Path, store: str) -> None:
    rng = random.Random(SEED)
    ledger = Ledger()
    server = ExampleAppServer(tmp_path, {"ISSUES_STORAGE_URL": STORES[store](tmp_path)})
    server.add_user("writer", "crash cycles 1")
    try:
        server.start()
        # One token for the whole run: the signing key outlives the restarts.
        server.headers = server.login("writer", "crash cycles 1")
        for cycle in range(KILLS):
            asyncio.run(load_until_killed(server, ledger, rng))
            server.start()  # a store that cannot open stops the server, and the test
            stored = stored_issues(server)
            problems = lost_writes(ledger, stored)
            assert not problems, f"after kill {cycle + 1}: " + "\n".join(problems[:20])
            settle(ledger, stored)
        print(
            f"\n{store}: {KILLS} kills, {ledger.acknowledged_writes} acknowledged writes "
            f"on {len(ledger.issues)} issues, 0 lost"
        )
        assert ledger.acknowledged_writes >= KILLS * 10  # the load really ran
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()
