"""docs/example-app-settings.md lists every setting of the example app as its settings classes
define them: the table between the page's markers is `python -m examples.settings`'s output."""

from __future__ import annotations

from examples.settings import AppSettings, settings_table

from fastapi_issues.auth import AuthEnvSettings
from tests.docs.conftest import DOCS

PAGE = DOCS / "example-app-settings.md"
BEGIN = "<!-- BEGIN settings table"
END = "<!-- END settings table -->"


def table_in_page() -> str:
    text = PAGE.read_text(encoding="utf-8")
    after_begin = text[text.index(BEGIN) :].split("\n", 1)[1]
    return after_begin[: after_begin.index(END)]


def test_the_page_holds_the_table_the_classes_make() -> None:
    assert table_in_page() == settings_table(), "regenerate the table: python -m examples.settings"


def test_the_table_has_a_row_per_setting() -> None:
    rows = settings_table().splitlines()[2:]
    fields = [*AppSettings.model_fields, *AuthEnvSettings.model_fields]
    assert len(rows) == len(fields)
    for row, (name, settings) in zip(
        rows,
        [(n, AppSettings) for n in AppSettings.model_fields]
        + [(n, AuthEnvSettings) for n in AuthEnvSettings.model_fields],
        strict=True,
    ):
        assert f"`{settings.env_names(name)[0]}`" in row
        assert not row.endswith("| None |")
