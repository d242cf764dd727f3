"""Apps served for tests: in process over ASGI with their lifespan, or as real server
processes on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client for `app` with its lifespan run around it, as a server would."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], timeout: float = 60, log: Path | None = None
) -> None:
    """Wait until `url` answers 200; fail at once if `process` exits, with `log`'s tail."""

    def tail() -> str:
        return log.read_text(errors="replace")[-3000:] if log is not None else ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{tail()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not up after {timeout}s:\n{tail()}")


class ExampleAppServer:
    """`uvicorn examples.app:app` in one process, started and stopped (or killed) at will.

    Auth is on unless `env` says otherwise, with a signing key that outlives restarts;
    `workers` above 1 runs that many worker processes on the one port.
    """

    def __init__(self, cwd: Path, env: Mapping[str, str], workers: int = 1) -> None:
        self.cwd = cwd
        self.workers = workers
        self.env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
            "FASTAPI_ISSUES_SECRET_KEY": secrets.token_urlsafe(48),
            **env,
        }
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.headers: dict[str, str] = {}

    def start(self, timeout: float = 60) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "uvicorn", "examples.app:app",
                    "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                    *(["--workers", str(self.workers)] if self.workers > 1 else []),
                ],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until_up(f"{self.base_url}/health", self.process, timeout, self.log)

    def add_user(self, username: str, password: str) -> None:
        """`fastapi-issues user add` on the server's store, as an operator would."""
        command = Path(sys.executable).with_name("fastapi-issues")
        subprocess.run(
            [str(command), "user", "add", username, "--password-stdin"],
            input=password + "\n",
            text=True,
            cwd=self.cwd,
            env=self.env,
            check=True,
            capture_output=True,
        )

    def login(self, username: str, password: str) -> dict[str, str]:
        """Headers carrying a fresh bearer token for `username`."""
        response = httpx.post(
            f"{self.base_url}/token",
            data={"username": username, "password": password},
            timeout=30,
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no lifespan end."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def __enter__(self) -> ExampleAppServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
