"""Group commit in `DurableJSONArray`: writers arriving just after a rewrite share the next
one, and a lone writer is never made to wait for company."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fastapi_issues.storage.records.durable_file import DurableJSONArray

pytestmark = pytest.mark.anyio


def _array(path: Path) -> DurableJSONArray[dict[str, Any]]:
    return DurableJSONArray(
        path,
        key=lambda record: str(record["id"]),
        decode=lambda item, _mtime: dict(item),
        encode=json.dumps,
    )


def _slow_rewrites(
    array: DurableJSONArray[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, seconds: float
) -> list[int]:
    """Make each rewrite take `seconds`, and count the rewrites."""
    rewrites: list[int] = []
    real = array._replace_file

    def slow(lines: Any) -> None:
        time.sleep(seconds)
        rewrites.append(1)
        real(lines)

    monkeypatch.setattr(array, "_replace_file", slow)
    return rewrites


def _add(n: int) -> Any:
    def change(records: dict[str, dict[str, Any]]) -> int:
        records[str(n)] = {"id": n}
        return n

    return change


async def test_writers_arriving_just_after_a_rewrite_share_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    array = _array(tmp_path / "records.json")
    rewrites = _slow_rewrites(array, monkeypatch, 0.05)
    await asyncio.gather(*(array.write(_add(n)) for n in range(8)))
    assert len(rewrites) == 1

    async def late(n: int) -> int:
        # As the clients of a server do: each answer comes back a little apart.
        await asyncio.sleep(n * 0.002)
        return await array.write(_add(100 + n))

    assert await asyncio.gather(*(late(n) for n in range(8))) == [100 + n for n in range(8)]
    assert len(rewrites) == 2
    assert len(json.loads((tmp_path / "records.json").read_text())["records"]) == 16
    array.close()


async def test_a_lone_writer_does_not_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    array = _array(tmp_path / "records.json")
    rewrites = _slow_rewrites(array, monkeypatch, 0.05)
    await asyncio.gather(*(array.write(_add(n)) for n in range(8)))
    for n in range(3):
        started = time.monotonic()
        await array.write(_add(100 + n))
        # The first write after the batch of 8 may wait for company, up to half a rewrite;
        # after it the batch size is one and nobody waits.
        limit = 0.05 + 0.025 + 0.04 if n == 0 else 0.05 + 0.04
        assert time.monotonic() - started < limit
    assert len(rewrites) == 4
    array.close()


async def test_a_read_does_not_settle_for_a_reload_that_began_before_a_write_it_must_see(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "records.json"
    reader, writer = _array(path), _array(path)
    await writer.write(_add(1))
    # The reader's reload reads the file, then is held there until told to go on.
    file_read, go_on = threading.Event(), threading.Event()
    real_load = reader._load

    def held_load() -> Any:
        snapshot = real_load()
        file_read.set()
        go_on.wait(5)
        return snapshot

    monkeypatch.setattr(reader, "_load", held_load)
    early = asyncio.ensure_future(reader.fresh_records())
    assert await asyncio.to_thread(file_read.wait, 5)
    await writer.write(_add(2))  # acknowledged after that reload read the file
    late = asyncio.ensure_future(reader.fresh_records())
    await asyncio.sleep(0.01)  # the late read has found the reload under way
    go_on.set()
    assert set(await early) == {"1"}
    assert set(await late) == {"1", "2"}
    reader.close()
    writer.close()


async def test_an_older_snapshot_never_replaces_a_newer_one(tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    array, other = _array(path), _array(path)
    await other.write(_add(1))
    stale = array._load()  # read now, published only after a newer write is seen
    await other.write(_add(2))
    assert set(await array.fresh_records()) == {"1", "2"}
    array._publish(stale)
    assert set(await array.fresh_records()) == {"1", "2"}
    array.close()
    other.close()
