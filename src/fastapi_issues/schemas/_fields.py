"""The fields the models share, each declared once: patterns, lengths and what they refuse."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

MAX_ASSIGNEES = 10
MAX_LABELS_PER_ISSUE = 20

# The user the documented examples assign: the example app's demo user, so that Swagger's
# "Try it out" works there as it stands.
EXAMPLE_USER = "johndoe"

# NUL is refused: PostgreSQL text cannot hold it, and no title needs it.
NO_NUL = r"^[^\x00]*$"

# Patterns name their characters, not `\s` or `\p{...}`: clients' regex engines disagree on
# what those mean, and the OpenAPI schema should state exactly what the server accepts.
#
# Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder
# everything after them on screen until closed ("Trojan Source", CVE-2021-42574): a title or
# name holding one can display as something else, and spill into the text shown beside it.
# The marks U+200E/U+200F are not among them: they only set the direction of the neutral
# characters next to them, cannot reorder other text, and right-to-left writers use them.
_BIDI_CONTROLS = r"\u202a-\u202e\u2066-\u2069"
# What shows nothing on its own: whitespace, control and format characters, zero-width
# characters (the LRM/RLM marks among them), and the blank fillers used for "empty" names.
_INVISIBLE = (
    r"\x01-\x20\x7f-\xa0\xad\u034f\u115f\u1160\u1680\u180e\u2000-\u200f\u2028-\u202f"
    r"\u205f-\u206f\u2800\u3000\u3164\ufeff\uffa0"
)
# C0 and C1 controls, DEL between them: a title is one line of text, and an ESC or a line
# break in one can rewrite what a terminal, a log line or a list shows beside it. Tab too:
# nothing a title needs, and shown differently everywhere.
_CONTROLS = r"\x00-\x1f\x7f-\x9f"
# A title has at least one visible character, and no control or bidirectional control.
_TITLE_CHAR = rf"[^{_CONTROLS}{_BIDI_CONTROLS}]"
_TITLE = rf"^{_TITLE_CHAR}*[^{_CONTROLS}{_BIDI_CONTROLS}{_INVISIBLE}]{_TITLE_CHAR}*$"
Title = Annotated[str, StringConstraints(min_length=3, max_length=100, pattern=_TITLE)]
Description = Annotated[str, StringConstraints(min_length=5, max_length=2000, pattern=NO_NUL)]
# A username is an identifier: nothing invisible, no bidirectional control, anywhere in it.
Username = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=100, pattern=rf"^[^\x00{_INVISIBLE}{_BIDI_CONTROLS}]+$"
    ),
]


def _unique_sorted(names: list[str]) -> list[str]:
    if len(set(names)) != len(names):
        raise ValueError("names must not repeat")
    return sorted(names)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    # Pydantic would also read a number as a Unix timestamp and "2024-05-01T00:00" as a
    # date; the documented format is the calendar date alone, so only that is accepted.
    if isinstance(value, datetime) or (
        not isinstance(value, date) and not (isinstance(value, str) and _ISO_DATE.fullmatch(value))
    ):
        raise ValueError("expected a calendar date as YYYY-MM-DD, e.g. 2024-05-01")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A calendar date, given as `YYYY-MM-DD` (ISO 8601) and never as a timestamp."""

DueDate = Annotated[
    IsoDate | None,
    Field(
        description="When the issue is due: a calendar date (`YYYY-MM-DD`), no time or "
        "zone; null for none.",
        examples=["2024-05-31"],
    ),
]
"""The `due_date` field, declared once for every model that has it."""


Assignees = Annotated[
    list[Username],
    Field(max_length=MAX_ASSIGNEES, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_unique_sorted),
]

# Commas separate names in the `labels=a,b` filter, so a name cannot hold one; nor control
# characters, nor spaces at either end. Said as a pattern, so the OpenAPI schema tells
# clients exactly what is accepted.
_LABEL_END = r"[^,\x00-\x20\x7f-\xa0]"
_LABEL_INSIDE = r"[^,\x00-\x1f\x7f-\x9f]"
LabelName = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=50,
        pattern=rf"^{_LABEL_END}(?:{_LABEL_INSIDE}*{_LABEL_END})?$",
    ),
]
Color = Annotated[
    str,
    StringConstraints(pattern=r"^#?[0-9A-Fa-f]{6}$"),
    AfterValidator(lambda color: color.removeprefix("#").lower()),
]
LabelDescription = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]


# Not blank, and no NUL: the rule lives in the pattern, not in a validator, so the OpenAPI
# schema states exactly what the server accepts. The whitespace class is spelled out because
# regex engines disagree on what `\s` covers.
_NOT_BLANK_NO_NUL = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r ][^\x00]*$"

CommentBody = Annotated[
    str,
    StringConstraints(min_length=1, max_length=10_000, pattern=_NOT_BLANK_NO_NUL),
]


class NamesAKnownField(BaseModel):
    """An edit body: unknown fields beside known ones are ignored, but a body of unknown
    fields only (a typo such as `{"stauts": "closed"}`) is refused rather than read as "change
    nothing". An empty body changes nothing, as an empty JSON merge patch does."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # Said in the schema too, so that clients and fuzzers know `{"stauts": ...}` is
        # refused. Here rather than in `json_schema_extra`, which is left to the examples.
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema["anyOf"] = [
            {"maxProperties": 0},
            *({"required": [name]} for name in schema.get("properties", {})),
        ]
        return schema

    def changes(self) -> dict[str, object]:
        """The fields the client sent, by name."""
        return {name: getattr(self, name) for name in self.model_fields_set}

    @model_validator(mode="before")
    @classmethod
    def _names_a_known_field(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data or not data.keys().isdisjoint(cls.model_fields):
            return data
        unknown = sorted(repr(str(name)[:40]) for name in data)[:20]
        known = sorted(cls.model_fields)
        raise PydanticCustomError(
            "no_known_field",
            "The body names no field this edit knows: unknown {unknown}; known fields are {known}",
            {"unknown": ", ".join(unknown), "known": ", ".join(known)},
        )
