"""The headless browser the real-browser tests drive: Debian's chromium, through Playwright.

Needs /usr/bin/chromium (`bash .ci/install-browser`; Playwright's own browser downloads are
not used). Outside CI a missing browser skips the test; in CI (`CI` set) it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")


def launch_chromium() -> Iterator[Browser]:
    """Yield a headless Chromium, closed afterwards: the body of a `browser` fixture."""
    if not CHROMIUM.exists():
        message = (
            f"{CHROMIUM} is missing: run `bash .ci/install-browser` "
            "(apt-get install chromium) to run the real-browser tests"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()
