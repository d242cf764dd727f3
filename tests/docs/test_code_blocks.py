"""No Python on the site that the test suite does not run: every ```python block in the
docs is an include of a sample from docs/examples/, which tests/docs/test_examples.py runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.conftest import DOCS, EXAMPLES

FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\s`{]*)?(?P<rest>.*)$")
PYTHON = {"python", "py", "python3", "py3", "pycon", "pyi"}
INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<target>[^"]+)"\s*$')


def fenced_blocks(text: str) -> list[tuple[int, str, list[str]]]:
    """(first line number, language, body lines) of each fenced code block in `text`."""
    blocks = []
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        if opening is None:
            number += 1
            continue
        fence, language = opening["fence"], (opening["info"] or "").lstrip(".").lower()
        start, body = number + 1, []
        number += 1
        while number < len(lines):
            closing = FENCE.match(lines[number])
            if closing and closing["fence"].startswith(fence) and not closing["info"]:
                break
            body.append(lines[number])
            number += 1
        blocks.append((start, language, body))
        number += 1
    return blocks


def untested_python(text: str) -> list[str]:
    """Python blocks in a page that are not made only of includes from docs/examples/."""
    problems = []
    for line_number, language, body in fenced_blocks(text):
        if language not in PYTHON:
            continue
        content = [line for line in body if line.strip()]
        if not content:
            problems.append(f"line {line_number}: empty python block")
        for line in content:
            include = INCLUDE.match(line)
            target = include["target"].split(":", 1)[0] if include else None
            if target is None or not (EXAMPLES / target).is_file():
                problems.append(f"line {line_number}: {line.strip()!r} is not a tested sample")
    return problems


PAGES = sorted(p for p in DOCS.rglob("*.md") if EXAMPLES not in p.parents)


def test_the_docs_have_pages() -> None:
    assert len(PAGES) >= 9


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_page_has_no_untested_python(page: Path) -> None:
    assert untested_python(page.read_text(encoding="utf-8")) == []


def test_checker_accepts_an_include_of_a_sample() -> None:
    page = '# Page\n\n```python title="main.py"\n--8<-- "home.py"\n```\n'
    assert untested_python(page) == []


def test_checker_accepts_a_section_include_and_other_languages() -> None:
    page = (
        '```py hl_lines="2"\n--8<-- "tutorial/step2_issues.py:mount"\n```\n\n'
        "```bash\npip install fastapi-issues\n```\n"
    )
    assert untested_python(page) == []


@pytest.mark.parametrize(
    "page",
    [
        "```python\nprint('hello')\n```\n",
        '=== "Tab"\n\n    ```python\n    import os\n    ```\n',
        '````python\n--8<-- "home.py"\nextra = 1\n````\n',
        '```Python\n--8<-- "no/such/sample.py"\n```\n',
        "~~~py\nx = 1\n~~~\n",
        "```python\n```\n",
    ],
    ids=["plain", "in-a-tab", "include-plus-code", "missing-sample", "tilde-fence", "empty"],
)
def test_checker_rejects_untested_python(page: str) -> None:
    assert untested_python(page) != []
