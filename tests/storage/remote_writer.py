"""A store's writes from another process, for the tests (and measurements) of live readers
waking across processes.

Run as `python remote_writer.py json PATH` or `python remote_writer.py sql URL [SCHEMA]`:
prints "ready" once the store is open, then creates one issue for each line read from
stdin, printing "wrote <id> <time.time()>" once the write is acknowledged. Ends at EOF.
`RemoteWriter` drives it from a test.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

SCRIPT = str(Path(__file__).resolve())
SRC = str(Path(__file__).resolve().parents[2] / "src")


class RemoteWriter:
    """The script above, running; `async with RemoteWriter(...) as writer`."""

    def __init__(self, *args: str) -> None:
        self._args = args
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> RemoteWriter:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            SCRIPT,
            *self._args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert await self._line(60) == "ready"
        return self

    async def _line(self, seconds: float) -> str:
        assert self._process is not None
        assert self._process.stdout is not None
        async with asyncio.timeout(seconds):
            return (await self._process.stdout.readline()).decode().strip()

    async def write(self) -> float:
        """Create an issue over there; when (`time.time()`) it was acknowledged."""
        assert self._process is not None
        assert self._process.stdin is not None
        self._process.stdin.write(b"create\n")
        await self._process.stdin.drain()
        word, _, at = (await self._line(30)).split()
        assert word == "wrote"
        return float(at)

    async def __aexit__(self, *exc: object) -> None:
        process = self._process
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            async with asyncio.timeout(30):
                await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def _main(kind: str, target: str, schema: str | None) -> None:
    import time

    from fastapi_issues import IssueCreate

    store: Any
    if kind == "json":
        from fastapi_issues.storage import JSONFileIssueStore

        store = JSONFileIssueStore(target)
    else:
        from fastapi_issues.storage.sql import SQLIssueStore

        store = SQLIssueStore(target, schema=schema)
        await store.create_schema()
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    try:
        while await loop.run_in_executor(None, sys.stdin.readline):
            data = IssueCreate(title="From afar", description="Another process")
            issue = await store.create(data)
            print("wrote", issue.id, time.time(), flush=True)
    finally:
        await store.aclose()


if __name__ == "__main__":
    sys.path.insert(0, SRC)
    asyncio.run(_main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
