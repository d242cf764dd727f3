from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from fastapi_issues import (
    CommentUpdate,
    IssueCreate,
    IssuePriority,
    IssueStatus,
    IssueUpdate,
    LabelUpdate,
)


def test_create_defaults_and_ignores_unknown_fields() -> None:
    issue = IssueCreate.model_validate({"title": "Abc", "description": "Hello", "foo": "bar"})
    assert issue.priority is IssuePriority.medium
    assert "foo" not in issue.model_dump()


@pytest.mark.parametrize(
    "data",
    [
        {"title": "ab", "description": "Hello"},
        {"title": "a" * 101, "description": "Hello"},
        {"title": "Abc", "description": "Hell"},
        {"title": "Abc", "description": "x" * 2001},
        {"title": "Abc", "description": "Hello", "priority": "urgent"},
    ],
)
def test_create_rules(data: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        IssueCreate.model_validate(data)


def test_update_knows_which_fields_were_sent() -> None:
    update = IssueUpdate.model_validate({"status": "closed"})
    assert update.changes() == {"status": IssueStatus.closed}
    assert IssueUpdate().changes() == {}


@pytest.mark.parametrize("model", [IssueUpdate, LabelUpdate, CommentUpdate])
def test_an_edit_of_unknown_fields_only_is_refused_naming_them(model: type[BaseModel]) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate({"stauts": "closed"})
    [error] = refused.value.errors()
    assert error["type"] == "no_known_field"
    assert "unknown 'stauts'" in error["msg"]
    assert all(name in error["msg"] for name in model.model_fields)


def test_unknown_fields_beside_known_ones_are_ignored_in_edits() -> None:
    update = IssueUpdate.model_validate({"stauts": "open", "status": "closed"})
    assert update.changes() == {"status": IssueStatus.closed}
    assert LabelUpdate.model_validate({"colour": "x", "color": "#00FF00"}).changes() == {
        "color": "00ff00"
    }
    assert CommentUpdate.model_validate({"bdy": "x", "body": "Hello"}).body == "Hello"


@pytest.mark.parametrize(
    "data",
    [{"title": ""}, {"title": "ab"}, {"title": None}, {"description": None}, {"status": "test"}],
)
def test_update_cannot_blank_or_null_a_field(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        IssueUpdate.model_validate(data)


@pytest.mark.parametrize(
    ("body", "valid"),
    [("Looks good", True), ("  x ", True), ("\r", False), ("  ", False), ("\t\n", False),
     ("a\x00b", False), ("", False)],
)  # fmt: skip
def test_comment_body_is_not_blank_and_the_schema_says_so(body: str, valid: bool) -> None:
    from pydantic import TypeAdapter

    from fastapi_issues.schemas import CommentBody

    adapter = TypeAdapter(CommentBody)
    if valid:
        assert adapter.validate_python(body) == body
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(body)
    # The OpenAPI schema carries the same rule, so clients and fuzzers see it.
    assert "\\r" in adapter.json_schema()["pattern"]


@pytest.mark.parametrize(
    "value", ["2024-5-1", "2024-05-01T00:00:00", "2024-05-01\n", "2024-02-30", 1714521600, True]
)
def test_a_due_date_is_a_calendar_date_written_yyyy_mm_dd(value: object) -> None:
    with pytest.raises(ValidationError, match="due_date"):
        IssueCreate(title="Due", description="Some day", due_date=value)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="due_date"):
        IssueUpdate.model_validate({"due_date": value})


def test_a_due_date_is_optional_and_null_clears_it_in_an_update() -> None:
    assert IssueCreate(title="Due", description="Some day").due_date is None
    created = IssueCreate.model_validate(
        {"title": "Due", "description": "x" * 5, "due_date": "2024-02-29"}
    )
    assert created.due_date == date(2024, 2, 29)
    assert IssueUpdate.model_validate({"due_date": None}).changes() == {"due_date": None}
    assert IssueUpdate.model_validate({"title": "Other"}).changes() == {"title": "Other"}


# A hook URL drawn as scheme, separator, netloc and rest, each from the characters and
# pieces the URL rules turn on, so that near misses of every rule come up often.
_URL_PIECES = ["/", "?", "#", "@", ":", ":80", "[::1]", "[", "8.8.8.8", "é", "%20", " ", "\t",
               "\x00", "\x7f", "\\", "user:pw"]  # fmt: skip
_URLS = st.tuples(
    st.sampled_from(["http", "HTTPS", "hTtP", "https", "ftp", "", "ht tp"]),
    st.sampled_from(["://", ":", ":/", ":///", "//"]),
    st.lists(st.sampled_from(["example.com", *_URL_PIECES]), max_size=3).map("".join),
    st.lists(st.sampled_from(["hook", *_URL_PIECES]), max_size=4).map("".join),
).map("".join)


@given(_URLS)
@settings(max_examples=500)
def test_the_schema_pattern_of_a_hook_url_admits_every_url_the_server_accepts(url: str) -> None:
    from pydantic import TypeAdapter

    from fastapi_issues.schemas import HookURL

    adapter = TypeAdapter(HookURL)
    # A fuzzer reads the pattern as the rule: a URL it forbids must really be refused.
    pattern = re.compile(adapter.json_schema()["pattern"])
    try:
        adapter.validate_python(url)
    except ValidationError:
        return
    assert pattern.search(url), url


@pytest.mark.parametrize(
    "url",
    ["HTTPS://Example.com", "http://8.8.8.8:99999/", "http://[::1]/", "http://é.example/ü",
     "http://a?b@c", "http://a#@b", "https://ci.example.com/hooks/issues"],
)  # fmt: skip
def test_the_hook_url_pattern_matches_urls_the_server_accepts(url: str) -> None:
    from pydantic import TypeAdapter

    from fastapi_issues.schemas import HookCreate, HookURL

    assert TypeAdapter(HookURL).validate_python(url) == url
    pattern = HookCreate.model_json_schema()["properties"]["url"]["pattern"]
    assert re.search(pattern, url)


@pytest.mark.parametrize(
    ("url", "message"),
    [("ftp://8.8.8.8/", "must start with http:// or https://"),
     ("http:8.8.8.8", "must name a host"), ("http:///hook", "must name a host"),
     ("https://user:pw@8.8.8.8/", "must not hold a user name or password"),
     ("https://@8.8.8.8/", "must not hold a user name or password")],
)  # fmt: skip
def test_a_url_the_pattern_forbids_is_refused_with_the_servers_reason(
    url: str, message: str
) -> None:
    from fastapi_issues.schemas import HookCreate

    pattern = HookCreate.model_json_schema()["properties"]["url"]["pattern"]
    assert not re.search(pattern, url)
    # The pattern is only published: the message still says what is wrong.
    with pytest.raises(ValidationError, match=message):
        HookCreate.model_validate({"url": url, "secret": "0123456789abcdef"})
