"""Request and response models of the issue API."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    SecretStr,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError
from typing_extensions import TypedDict

__all__ = [
    "MAX_ASSIGNEES",
    "MAX_LABELS_PER_ISSUE",
    "CommentCreate",
    "CommentOut",
    "CommentUpdate",
    "DeliveryOut",
    "DeliveryState",
    "EventOut",
    "EventType",
    "FieldChange",
    "HookCreate",
    "HookOut",
    "HookUpdate",
    "IssueCreate",
    "IssueLabels",
    "IssueOut",
    "IssuePriority",
    "IssueStatus",
    "IssueUpdate",
    "LabelCreate",
    "LabelOut",
    "LabelUpdate",
    "StateReason",
]

MAX_ASSIGNEES = 10
MAX_LABELS_PER_ISSUE = 20

# The user the documented examples assign: the example app's demo user, so that Swagger's
# "Try it out" works there as it stands.
_EXAMPLE_USER = "johndoe"

# NUL is refused: PostgreSQL text cannot hold it, and no title needs it.
_NO_NUL = r"^[^\x00]*$"

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
Description = Annotated[str, StringConstraints(min_length=5, max_length=2000, pattern=_NO_NUL)]
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
LabelDescription = Annotated[str, StringConstraints(max_length=200, pattern=_NO_NUL)]


# Not blank, and no NUL: the rule lives in the pattern, not in a validator, so the OpenAPI
# schema states exactly what the server accepts. The whitespace class is spelled out because
# regex engines disagree on what `\s` covers.
_NOT_BLANK_NO_NUL = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r ][^\x00]*$"

CommentBody = Annotated[
    str,
    StringConstraints(min_length=1, max_length=10_000, pattern=_NOT_BLANK_NO_NUL),
]


class _NamesAKnownField(BaseModel):
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


class IssuePriority(str, Enum):
    """How urgent an issue is. Sorting by priority orders low < medium < high."""

    low = "low"
    medium = "medium"
    high = "high"


class IssueStatus(str, Enum):
    """Where an issue stands in its life."""

    open = "open"
    in_progress = "in_progress"
    closed = "closed"


class StateReason(str, Enum):
    """Why a closed issue was closed."""

    completed = "completed"
    not_planned = "not_planned"
    duplicate = "duplicate"


class IssueCreate(BaseModel):
    """The body of a create request. Every new issue starts `open`."""

    # Unknown fields are dropped, never stored or echoed back.
    model_config = ConfigDict(
        extra="ignore",
        # Whole bodies that work as they are, against the example app's demo user too.
        json_schema_extra={
            "examples": [
                {
                    "title": "Login button does nothing",
                    "description": "Clicking it on the sign-in page has no effect.",
                    "priority": "high",
                    "assignees": [_EXAMPLE_USER],
                }
            ]
        },
    )

    title: Title = Field(examples=["Login button does nothing"])
    description: Description = Field(examples=["Clicking it on the sign-in page has no effect."])
    priority: IssuePriority = IssuePriority.medium
    assignees: Assignees = Field(
        default_factory=list,
        description=f"Usernames, at most {MAX_ASSIGNEES}, none twice.",
        examples=[[_EXAMPLE_USER]],
    )
    due_date: DueDate = None


class IssueUpdate(_NamesAKnownField):
    """A partial update: only the fields sent are changed.

    `null` is refused rather than read as "unchanged", so a client can never blank a field;
    the one exception is `due_date`, which is optional and cleared by `null`.
    """

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"status": "in_progress", "assignees": [_EXAMPLE_USER]},
                {"status": "closed", "state_reason": "completed"},
            ]
        },
    )

    # The default None only means "not sent"; an explicit null fails validation.
    title: Title = Field(default=None, examples=["Login button does nothing on Safari"])  # type: ignore[assignment]
    description: Description = Field(default=None)  # type: ignore[assignment]
    priority: IssuePriority = Field(default=None)  # type: ignore[assignment]
    status: IssueStatus = Field(default=None)  # type: ignore[assignment]
    assignees: Assignees = Field(
        default=None,  # type: ignore[arg-type]
        description="The new assignees, replacing the old ones; `[]` for none.",
    )
    state_reason: StateReason = Field(  # type: ignore[assignment]
        default=None,
        description=(
            "Why the issue is closed; only with `status: closed` or on a closed issue. "
            "Closing without one means `completed`."
        ),
    )
    # Here None sent is a value ("no due date"): sent or not is told by model_fields_set.
    due_date: DueDate = None

    def changes(self) -> dict[str, object]:
        """The fields the client sent, by name."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class IssueOut(BaseModel):
    """An issue as stored and as returned by the API."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="A UUID string, assigned on create.")
    title: str
    description: str
    priority: IssuePriority
    status: IssueStatus
    created_at: datetime = Field(description="When the issue was created (UTC).")
    updated_at: datetime = Field(description="When the issue last changed (UTC).")
    reporter: str | None = Field(
        default=None, description="Username of whoever created it; null when auth is off."
    )
    version: int = Field(default=1, description="Starts at 1 and grows by one on every change.")
    # Everything below came later: the defaults let files written before load unchanged.
    labels: list[str] = Field(
        default_factory=list, description="Names of the issue's labels, sorted ignoring case."
    )
    assignees: list[str] = Field(default_factory=list, description="Usernames, sorted.")
    state_reason: StateReason | None = Field(
        default=None, description="Why it was closed; null unless the issue is closed."
    )
    closed_at: datetime | None = Field(
        default=None, description="When it was last closed; null unless the issue is closed."
    )
    closed_by: str | None = Field(
        default=None, description="Who closed it; null unless closed by a known user."
    )
    comment_count: int = Field(default=0, description="How many comments the issue has.")
    due_date: DueDate = None


class LabelCreate(BaseModel):
    """The body of a label create request."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{"name": "bug", "color": "d73a4a", "description": "Something is broken"}]
        },
    )

    name: LabelName = Field(
        description="Unique ignoring case; keeps the case given. No commas.", examples=["bug"]
    )
    color: Color = Field(
        default="ededed", description="Six hex digits, `#` optional.", examples=["d73a4a"]
    )
    description: LabelDescription = ""


class LabelUpdate(_NamesAKnownField):
    """A partial label update; renaming keeps the label on every issue that carries it."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"color": "b60205", "description": "Needs a fix"}]},
    )

    name: LabelName = Field(default=None)  # type: ignore[assignment]
    color: Color = Field(default=None)  # type: ignore[assignment]
    description: LabelDescription = Field(default=None)  # type: ignore[assignment]

    def changes(self) -> dict[str, object]:
        """The fields the client sent, by name."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class LabelOut(BaseModel):
    """A label as stored and returned."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="A UUID string, assigned on create.")
    name: str
    color: str = Field(description="Six lowercase hex digits, no `#`.")
    description: str = ""


class IssueLabels(BaseModel):
    """Label names to set on, add to or remove from an issue, matched ignoring case."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"labels": ["bug"]}]})

    labels: list[LabelName] = Field(max_length=MAX_LABELS_PER_ISSUE, examples=[["bug"]])


class CommentCreate(BaseModel):
    """The body of a comment create request."""

    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"body": "Reproduced on Firefox too."}]}
    )

    body: CommentBody = Field(examples=["Reproduced on Firefox too."])


class CommentUpdate(_NamesAKnownField):
    """A comment edit: the new text."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"body": "Reproduced on Firefox and Safari."}]},
    )

    body: CommentBody


class CommentOut(BaseModel):
    """A comment as stored and returned."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="A UUID string, assigned on create.")
    issue_id: str
    body: str
    author: str | None = Field(
        default=None, description="Username of whoever wrote it; null when auth is off."
    )
    created_at: datetime
    updated_at: datetime
    version: int = Field(default=1, description="Starts at 1 and grows by one on every edit.")


class EventType(str, Enum):
    """What an event records. An update that does several things records one event of
    each kind, in this order: `issue.updated` (plain fields), `issue.closed` or
    `issue.reopened`, `issue.labeled`, `issue.unlabeled`, `issue.assigned`,
    `issue.unassigned`."""

    ISSUE_CREATED = "issue.created"
    ISSUE_UPDATED = "issue.updated"
    ISSUE_CLOSED = "issue.closed"
    ISSUE_REOPENED = "issue.reopened"
    ISSUE_DELETED = "issue.deleted"
    ISSUE_LABELED = "issue.labeled"
    ISSUE_UNLABELED = "issue.unlabeled"
    ISSUE_ASSIGNED = "issue.assigned"
    ISSUE_UNASSIGNED = "issue.unassigned"
    COMMENT_CREATED = "comment.created"
    COMMENT_UPDATED = "comment.updated"
    COMMENT_DELETED = "comment.deleted"


# The functional form: `from` is a keyword. typing_extensions' TypedDict, which Pydantic
# needs before Python 3.12.
FieldChange = TypedDict("FieldChange", {"from": Any, "to": Any})
"""One field's change in an event: its JSON value before and after."""


class EventOut(BaseModel):
    """One entry of the event log, as stored and as returned by the API."""

    model_config = ConfigDict(frozen=True)

    id: int = Field(gt=0, description="Grows with every event, in the order events become visible.")
    type: EventType
    issue_id: str | None = Field(description="The issue the event is about.")
    actor: str | None = Field(
        default=None, description="Who made the change; null when auth is off."
    )
    created_at: datetime = Field(description="When the change was made (UTC).")
    changes: dict[str, FieldChange] | None = Field(
        default=None,
        description="The fields that changed, with their JSON values before and after; "
        "null for creations and deletions.",
    )
    issue: IssueOut | None = Field(
        default=None, description="The issue as it is after the change; null once deleted."
    )
    comment: CommentOut | None = Field(
        default=None,
        description="For comment events: the comment after the change (as it was, when "
        "deleted); null otherwise.",
    )


# -- webhooks ----------------------------------------------------------------------------

PING = "ping"
"""The type of the event a hook's ping delivers; never in the event log."""

ALL_EVENTS = "*"
"""A hook's `events` entry that subscribes it to every type, present and future."""


def _hook_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise PydanticCustomError(
            "hook_url_scheme", "A hook URL must start with http:// or https://"
        )
    if not parts.hostname:
        raise PydanticCustomError("hook_url_host", "A hook URL must name a host")
    if parts.username is not None or parts.password is not None:
        # The URL is shown to every admin and kept in logs; a credential belongs in the
        # receiver's check of the signature, not here.
        raise PydanticCustomError(
            "hook_url_credentials", "A hook URL must not hold a user name or password"
        )
    return value


# What `_hook_url` needs, as a pattern for the schema: http or https in any case (urlsplit
# lowers it), then a netloc (which ends at the first / ? or #) without "@" (no credentials).
# Only published: the server checks with `_hook_url`, whose messages name the fault.
# It lets through all the server accepts, and some it refuses ("http://:80"); no `format:
# uri`, which a URL the server accepts (a non-ASCII path) need not meet.
_HOOK_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\x00-\x20\x7f]+([/?#][^\x00-\x20\x7f]*)?$"

HookURL = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2048, pattern=r"^[^\x00-\x20\x7f]+$"),
    AfterValidator(_hook_url),
    Field(json_schema_extra={"pattern": _HOOK_URL_PATTERN}),
]
"""An absolute http(s) URL without credentials, kept as given. Whether its host is a public
address is checked by the webhook router and again at each delivery."""

HookSecret = Annotated[SecretStr, Field(min_length=16, max_length=256)]
"""The HMAC key: at least 16 characters (32 random bytes, hex, is a good choice). A
`SecretStr`, so that no repr, log or dump shows it."""


def _hook_events(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise PydanticCustomError("hook_events_repeated", "An event type is named twice")
    if ALL_EVENTS in value and len(value) > 1:
        raise PydanticCustomError("hook_events_star", '"*" already names every event type')
    return value


def _event_name(value: str) -> str:
    if value != ALL_EVENTS and value not in {member.value for member in EventType}:
        known = ", ".join(member.value for member in EventType)
        raise PydanticCustomError(
            "hook_event_unknown",
            "Unknown event type {value}; known: *, {known}",
            {"value": repr(value[:40]), "known": known},
        )
    return value


HookEventName = Annotated[str, StringConstraints(max_length=40), AfterValidator(_event_name)]
"""An event type a hook delivers (`issue.created`, ...), or `*` for every one."""

HookEventList = Annotated[
    list[HookEventName],
    Field(min_length=1, max_length=len(EventType) + 1, examples=[["*"]]),
    AfterValidator(_hook_events),
]


class HookCreate(BaseModel):
    """The body of a hook create request. The secret is never returned."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://ci.example.com/hooks/issues",
                    "secret": "9c1f0a57d2e84b3f8a6e5d4c3b2a1908",
                    "events": ["issue.created", "issue.closed"],
                    "active": True,
                }
            ]
        },
    )

    url: HookURL = Field(description="Where deliveries are POSTed.")
    secret: HookSecret = Field(description="The key of `X-Issues-Signature-256`; write-only.")
    events: HookEventList = Field(default_factory=lambda: [ALL_EVENTS])
    # Strict: `0` or `"false"` for a flag is refused, as the schema's boolean says.
    active: bool = Field(default=True, strict=True, description="Inactive hooks deliver nothing.")


class HookUpdate(_NamesAKnownField):
    """A partial hook update. Making a hook active again clears its failure record."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"active": False}]})

    url: HookURL = Field(default=None)  # type: ignore[assignment]
    secret: HookSecret = Field(default=None)  # type: ignore[assignment]
    events: HookEventList = Field(default=None)  # type: ignore[arg-type]
    active: bool = Field(default=None, strict=True)  # type: ignore[assignment]

    def changes(self) -> dict[str, object]:
        """The fields the client sent, by name."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class HookOut(BaseModel):
    """A hook as returned: never its secret."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="A UUID string, assigned on create.")
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime
    failing_since: datetime | None = Field(
        default=None,
        description="When its deliveries began to fail, with no success since; a hook "
        "failing for 24 hours is made inactive.",
    )


class DeliveryState(str, Enum):
    """Where a delivery stands: waiting for (another) attempt, answered 2xx, or given up."""

    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class DeliveryOut(BaseModel):
    """One event's delivery to one hook, with its attempts summed up."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="A UUID string: `X-Issues-Delivery`, the same on every attempt.")
    hook_id: str
    event_id: int | None = Field(description="The event delivered; null for a ping.")
    event: str = Field(description="Its type: `X-Issues-Event` (`ping` for a ping).")
    state: DeliveryState
    attempts: int = Field(description="How many attempts were made so far.")
    status_code: int | None = Field(
        default=None, description="The last attempt's HTTP status; null when none answered."
    )
    duration_ms: float | None = Field(default=None, description="The last attempt's duration.")
    response: str | None = Field(
        default=None,
        description="The start of the last answer's body (at most 1,024 characters), or why "
        "no answer came.",
    )
    created_at: datetime
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = Field(
        default=None, description="When a pending delivery is tried next."
    )
