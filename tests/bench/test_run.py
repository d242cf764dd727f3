"""The benchmark command still runs end to end (`--quick`); it asserts no speed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load import INSTALL_HINT

REPO = Path(__file__).resolve().parents[2]


def _bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_without_wrk_the_command_says_how_to_get_it(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    reply = _bench("--quick", "--out", str(tmp_path / "results"), env=env)
    assert reply.returncode == 2
    assert "apt-get install -y wrk" in reply.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_quick_run_writes_every_case_as_json_and_markdown(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    reply = _bench("--quick", "--out", str(tmp_path))
    assert reply.returncode == 0, reply.stderr[-3000:]

    data = json.loads((tmp_path / "latest.json").read_text())
    cases = {(c["store"], c["auth"], c["case"]): c for c in data["cases"]}
    expected = ["get_one", "get_page", "patch", "post"]
    for case in ["health", *expected]:
        measured = cases[("json", False, case)]
        assert measured["rate"] > 0, case
        assert measured["errors"] == 0, (case, measured["extra"])
        assert measured["ratio"] > 0
    assert cases[("json", False, "post")]["extra"]["lost"] == 0
    for case in ["get_one", "get_page", "patch", "post", "get_one+logins"]:
        measured = cases[("json", True, case)]
        assert measured["rate"] > 0, case
        assert measured["errors"] == 0, (case, measured["extra"])
    assert ("json", True, "login") in cases
    # A baseline run before the first store and after each; each store's ratios are to the
    # mean of the runs just before and just after it.
    stores_run = list(dict.fromkeys(c["store"] for c in data["cases"] if c["store"] != "baseline"))
    baseline_rates = [c["rate"] for c in data["cases"] if c["store"] == "baseline"]
    assert baseline_rates == data["meta"]["baseline_runs"]
    assert len(baseline_rates) == len(stores_run) + 1
    for number, store in enumerate(stores_run):
        local = (baseline_rates[number] + baseline_rates[number + 1]) / 2
        for case in (c for c in data["cases"] if c["store"] == store):
            assert case["ratio"] == pytest.approx(case["rate"] / local)
    assert data["targets"], "no target was evaluated"

    markdown = (tmp_path / "latest.md").read_text()
    assert re.search(r"^\| json \| 100 \| off \| get_one( †)? \|", markdown, re.MULTILINE)
    assert "| target | measured | needed | verdict |" in markdown
    assert reply.stdout.strip() == markdown.strip()
