"""Request and response models of the issue API, one private module per resource.

- `_fields`: the field types the models share (titles, usernames, label names, dates),
  each declared once with the pattern and lengths the OpenAPI schema publishes;
- `_issues`, `_labels`, `_comments`: the resources' create, edit and output models;
- `_events`: the event log's entries; `_hooks`: webhooks and their deliveries.

Import from here, not from the private modules.
"""

from fastapi_issues.schemas._comments import CommentCreate, CommentOut, CommentUpdate
from fastapi_issues.schemas._events import EventOut, EventType, FieldChange
from fastapi_issues.schemas._fields import MAX_ASSIGNEES, MAX_LABELS_PER_ISSUE
from fastapi_issues.schemas._fields import Assignees as Assignees
from fastapi_issues.schemas._fields import Color as Color
from fastapi_issues.schemas._fields import CommentBody as CommentBody
from fastapi_issues.schemas._fields import Description as Description
from fastapi_issues.schemas._fields import DueDate as DueDate
from fastapi_issues.schemas._fields import IsoDate as IsoDate
from fastapi_issues.schemas._fields import LabelDescription as LabelDescription
from fastapi_issues.schemas._fields import LabelName as LabelName
from fastapi_issues.schemas._fields import Title as Title
from fastapi_issues.schemas._fields import Username as Username
from fastapi_issues.schemas._hooks import ALL_EVENTS as ALL_EVENTS
from fastapi_issues.schemas._hooks import PING as PING
from fastapi_issues.schemas._hooks import (
    DeliveryOut,
    DeliveryState,
    HookCreate,
    HookOut,
    HookUpdate,
)
from fastapi_issues.schemas._hooks import HookEventList as HookEventList
from fastapi_issues.schemas._hooks import HookEventName as HookEventName
from fastapi_issues.schemas._hooks import HookSecret as HookSecret
from fastapi_issues.schemas._hooks import HookURL as HookURL
from fastapi_issues.schemas._issues import (
    IssueCreate,
    IssueOut,
    IssuePriority,
    IssueStatus,
    IssueUpdate,
    StateReason,
)
from fastapi_issues.schemas._labels import IssueLabels, LabelCreate, LabelOut, LabelUpdate

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
