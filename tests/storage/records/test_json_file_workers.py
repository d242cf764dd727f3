"""Read-your-writes across processes on one set of JSON files, as under `uvicorn --workers`.

One process creates an issue and a comment on it; the moment both calls have returned, the
ids go to the other processes, each with its own store on the same files, which must find
them at once: with nothing else going on, while a write of their own is in flight (group
commit under way), and by posting a comment on the new issue, as the 404s seen under load
did.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[3] / "src")
ROUNDS = 30
READERS = 2
PROBES = ("get", "get-own-write", "comment-own-write", "post-comment-own-write")

# Creates an issue and a comment, prints both ids, waits for "next" before the following one.
WRITER = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, {src!r})
    from fastapi_issues import CommentCreate, IssueCreate
    from fastapi_issues.storage import JSONFileIssueStore

    async def main(path, rounds):
        store = JSONFileIssueStore(path)
        for n in range(rounds):
            issue = await store.create(IssueCreate(title=f"Issue {{n}}", description="Written"))
            comment = await store.create_comment(issue.id, CommentCreate(body=f"Comment {{n}}"))
            print(issue.id, comment.id, flush=True)
            if sys.stdin.readline().strip() != "next":
                return

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
).format(src=SRC)

# For each "probe issue-id comment-id" line on stdin, answers "probe=ok" or "probe=missing".
# One probe per line: a first read reloads the snapshot, so it would hide what later ones do.
READER = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, {src!r})
    from fastapi_issues import CommentCreate, IssueCreate, IssueNotFound
    from fastapi_issues.storage import JSONFileIssueStore
    from fastapi_issues.storage.errors import CommentNotFound

    async def main(path):
        store = JSONFileIssueStore(path)
        own = []

        async def in_flight():
            # A write of this process, started and under way (its group commit has begun)
            # when the read that follows runs.
            task = asyncio.create_task(
                store.create(IssueCreate(title="Reader's own", description="In flight"))
            )
            own.append(task)
            await asyncio.sleep(0)

        async def probe(read):
            try:
                await read()
            except (IssueNotFound, CommentNotFound):
                return "missing"
            return "ok"

        async def with_own_write(read):
            await in_flight()
            return await probe(read)

        probes = {{
            "get": lambda i, c: probe(lambda: store.get(i)),
            "get-own-write": lambda i, c: with_own_write(lambda: store.get(i)),
            "comment-own-write": lambda i, c: with_own_write(lambda: store.get_comment(i, c)),
            "post-comment-own-write": lambda i, c: with_own_write(
                lambda: store.create_comment(i, CommentCreate(body="Re"))
            ),
        }}
        while line := await asyncio.to_thread(sys.stdin.readline):
            kind, issue_id, comment_id = line.split()
            answer = await probes[kind](issue_id, comment_id)
            await asyncio.gather(*own)
            own.clear()
            print(f"{{kind}}={{answer}}", flush=True)

    asyncio.run(main(sys.argv[1]))
    """
).format(src=SRC)


def _start(script: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _send(process: subprocess.Popen[str], line: str) -> None:
    assert process.stdin is not None
    process.stdin.write(line + "\n")
    process.stdin.flush()


def _receive(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"process {process.pid} exited with {process.wait(timeout=10)}"
    return line.strip()


@pytest.mark.slow
def test_every_process_reads_what_another_acknowledged(tmp_path: Path) -> None:
    path = str(tmp_path / "issues.json")
    (tmp_path / "writer.py").write_text(WRITER)
    (tmp_path / "reader.py").write_text(READER)
    writer = _start(tmp_path / "writer.py", path, str(ROUNDS))
    readers = [_start(tmp_path / "reader.py", path) for _ in range(READERS)]
    started = time.monotonic()
    misses: list[str] = []
    try:
        for n in range(ROUNDS):
            ids = _receive(writer)
            for r, reader in enumerate(readers):
                _send(reader, f"{PROBES[(n + r) % len(PROBES)]} {ids}")
            for reader in readers:
                answer = _receive(reader)
                if answer.endswith("=missing"):
                    misses.append(f"round {n}: {answer}")
            _send(writer, "next")
    finally:
        for process in [writer, *readers]:
            assert process.stdin is not None
            process.stdin.close()
        for process in [writer, *readers]:
            process.wait(timeout=30)
    probes = ROUNDS * READERS
    assert not misses, f"{len(misses)} of {probes} reads missed an acknowledged write: {misses}"
    assert time.monotonic() - started < 30
