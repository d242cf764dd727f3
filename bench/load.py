"""Drive load with wrk, one case at a time, and read its result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

LUA = Path(__file__).with_name("lua")
INSTALL_HINT = (
    "wrk, the HTTP load generator, is not installed. On Debian or Ubuntu: "
    "`sudo apt-get install -y wrk` (or run `.ci/install-wrk` as root)."
)


def find_wrk() -> str | None:
    return shutil.which("wrk")


def wrk_version(wrk: str) -> str:
    reply = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    first = (reply.stdout or reply.stderr or "wrk ?").splitlines()[0]
    return first.split(" [")[0].strip()


@dataclass
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


class Wrk:
    def __init__(self, wrk: str, *, work: Path, cores: set[int] | None) -> None:
        self.wrk = wrk
        self.work = work
        self.cores = cores

    def script(self, name: str) -> Path:
        """`lua/common.lua` followed by `lua/<name>.lua`, as one file wrk can load."""
        path = self.work / f"{name}.lua"
        if not path.exists():
            common, case = (LUA / "common.lua").read_text(), (LUA / f"{name}.lua").read_text()
            path.write_text(common + "\n" + case)
        return path

    def start(
        self,
        url: str,
        script: str,
        *,
        connections: int,
        seconds: float,
        options: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> subprocess.Popen[str]:
        command = [
            self.wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            f"--timeout={timeout:g}s", "-s", str(self.script(script)), url, "--",
            *(f"{key}={value}" for key, value in (options or {}).items()),
        ]  # fmt: skip
        cores = self.cores
        return subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,
        )

    @staticmethod
    def finish(process: subprocess.Popen[str]) -> Load:
        output, _ = process.communicate()
        for line in output.splitlines():
            if line.startswith("BENCH_RESULT "):
                data = json.loads(line.removeprefix("BENCH_RESULT "))
                latency = data["latency_us"]
                return Load(
                    requests=data["requests"],
                    seconds=data["duration_us"] / 1e6,
                    p50_ms=latency["p50"] / 1000,
                    p90_ms=latency["p90"] / 1000,
                    p99_ms=latency["p99"] / 1000,
                    max_ms=latency["max"] / 1000,
                    errors={k: v for k, v in data["errors"].items() if v},
                )
        raise RuntimeError(f"wrk gave no result (exit {process.returncode}):\n{output}")

    def run(self, url: str, script: str, **kwargs: object) -> Load:
        return self.finish(self.start(url, script, **kwargs))  # type: ignore[arg-type]
