"""Webhooks: a hook as created, edited and returned, and its deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, StringConstraints
from pydantic_core import PydanticCustomError

from fastapi_issues.schemas._events import EventType
from fastapi_issues.schemas._fields import NamesAKnownField

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


class HookUpdate(NamesAKnownField):
    """A partial hook update. Making a hook active again clears its failure record."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"active": False}]})

    url: HookURL = Field(default=None)  # type: ignore[assignment]
    secret: HookSecret = Field(default=None)  # type: ignore[assignment]
    events: HookEventList = Field(default=None)  # type: ignore[arg-type]
    active: bool = Field(default=None, strict=True)  # type: ignore[assignment]


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
