"""Run an ASGI app under uvicorn in a process of its own, pinned to a core, and watch it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

HOST = "127.0.0.1"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def split_cores() -> tuple[set[int] | None, set[int] | None]:
    """The cores for the server and for the load generator, or (None, None) when there is
    only one to share."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None
    return {cores[0]}, {cores[1]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`uvicorn APP` with one worker on 127.0.0.1, started by `start` and ended by `stop`."""

    def __init__(
        self,
        app: str,
        *,
        env: Mapping[str, str],
        cwd: Path,
        log: Path,
        cores: set[int] | None,
        ready_path: str,
    ) -> None:
        self.app = app
        self.env = dict(env)
        self.cwd = cwd
        self.log = log
        self.cores = cores
        self.ready_path = ready_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> None:
        command = [
            sys.executable, "-m", "uvicorn", self.app,
            "--host", HOST, "--port", str(self.port), "--workers", "1",
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        cores = self.cores
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.app} exited with {self.process.returncode}; see {self.log}"
                )
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.app} did not answer {self.ready_path} in {timeout}s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        # utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def rss_bytes(self) -> int:
        with open(f"/proc/{self.pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE


class Watch:
    """Samples a server's memory while a case runs, and how much of a core it used."""

    def __init__(self, server: Server, interval: float = 0.2) -> None:
        self.server = server
        self.interval = interval
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._cpu_start = 0.0
        self._time_start = 0.0
        self.cpu_share = 0.0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self.server.rss_bytes())
            self._stop.wait(self.interval)

    def __enter__(self) -> Watch:
        self._cpu_start = self.server.cpu_seconds()
        self._time_start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, self.server.rss_bytes())
        elapsed = time.monotonic() - self._time_start
        self.cpu_share = (self.server.cpu_seconds() - self._cpu_start) / elapsed
