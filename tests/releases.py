"""Earlier releases' own code, for upgrade tests: data written by it must still be served.

`tests/fixtures/release-0.1.0-src.tar.gz` is `src/` of 0.1.0 as released (commit d6b2f81),
made with `git archive --format=tar d6b2f81 src | gzip -9n`. It is kept as a file rather
than read from git history at test time, so the tests also run on a shallow clone.
`tests/fixtures/release-0.1.0-example-app.tar.gz` is 0.1.0's example app, made the same way
(`git archive --format=tar d6b2f81 examples/app.py | gzip -9n`).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def extract_0_1_0(into: Path) -> Path:
    """0.1.0's `src` folder, extracted under `into`: put it on a subprocess's PYTHONPATH."""
    with tarfile.open(FIXTURES / "release-0.1.0-src.tar.gz") as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def extract_0_1_0_example_app(into: Path) -> Path:
    """0.1.0's `examples/app.py`, extracted under `into`: put `into` on the path and import
    `examples.app` (with 0.1.0's `src` on the path too)."""
    with tarfile.open(FIXTURES / "release-0.1.0-example-app.tar.gz") as tar:
        tar.extractall(into, filter="data")
    return into
