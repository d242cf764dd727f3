"""The tables of `SQLIssueStore`, and the `metadata` and column types that other stores in
the same database (the users table of `fastapi_issues.auth.sql`) share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB

from fastapi_issues.schemas import (
    DeliveryState,
    IssueOut,
    IssuePriority,
    IssueStatus,
    StateReason,
)

SCHEMA_VERSION = 1
"""0.1.0's record of the schema, kept in `fastapi_issues_meta` and still checked (a larger
one is refused); the tables' revisions are Alembic's now (`migrations/`), so it stays 1."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class _SQLiteMicroseconds(TypeDecorator[datetime]):
    """A UTC time as integer microseconds since 1970: SQLite has no time type, and integers
    sort, compare and round-trip exactly where ISO text would depend on its formatting."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return (value - _EPOCH) // _MICROSECOND

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return _EPOCH + timedelta(microseconds=value)


# PostgreSQL keeps microseconds in timestamptz and asyncpg returns it in UTC.
UTCTimestamp = DateTime(timezone=True).with_variant(_SQLiteMicroseconds(), "sqlite")

CodePointText = Text().with_variant(Text(collation="C"), "postgresql")
"""Text that sorts by code point like Python strings: "C" makes PostgreSQL compare bytes of
UTF-8, which is the same order; SQLite's default BINARY collation already is."""

# Big on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-assigned rowid.
SequenceNumber = BigInteger().with_variant(Integer(), "sqlite")

PRIORITY_RANK: dict[str, int] = {
    IssuePriority.low.value: 0,
    IssuePriority.medium.value: 1,
    IssuePriority.high.value: 2,
}


def _one_of(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = MetaData()
"""Every fastapi-issues table: the ones here, and the stores' of other packages (users)."""

meta = Table(
    "fastapi_issues_meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# A column named like a field of `IssueOut` is read into it and written from it (enums by
# value, times in UTC): a new issue field needs its column here and a revision in
# migrations/versions/, and nothing else in this package.
issues = Table(
    "issues",
    metadata,
    # Creation order: ties in every sort are broken by it, ascending in both directions.
    Column("seq", SequenceNumber, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("title", CodePointText, nullable=False),
    Column("description", Text, nullable=False),
    Column("priority", Text, nullable=False),
    # low < medium < high, so sorting and filtering by priority can use an index.
    Column("priority_rank", SmallInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", UTCTimestamp, nullable=False),
    Column("updated_at", UTCTimestamp, nullable=False),
    Column("reporter", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Column("state_reason", Text, nullable=True),
    Column("closed_at", UTCTimestamp, nullable=True),
    Column("closed_by", Text, nullable=True),
    # Revision issues_0002. A calendar date: PostgreSQL's date, SQLite's YYYY-MM-DD text
    # (SQLAlchemy's Date), which sorts and compares as the dates do.
    Column("due_date", Date, nullable=True),
    CheckConstraint(_one_of("priority", list(PRIORITY_RANK)), name="ck_issues_priority"),
    CheckConstraint(
        " OR ".join(
            f"(priority = '{name}' AND priority_rank = {rank})"
            for name, rank in PRIORITY_RANK.items()
        ),
        name="ck_issues_priority_rank",
    ),
    CheckConstraint(_one_of("status", [s.value for s in IssueStatus]), name="ck_issues_status"),
    CheckConstraint("version >= 1", name="ck_issues_version"),
    CheckConstraint(
        f"state_reason IS NULL OR {_one_of('state_reason', [r.value for r in StateReason])}",
        name="ck_issues_state_reason",
    ),
)

# One index per sort key, each ending in seq so that a page is read straight off it.
# Descending sorts walk them backwards and re-sort only runs of equal keys; priority has
# runs of a third of the table, so it gets a descending index of its own.
Index("ix_issues_created_at", issues.c.created_at, issues.c.seq)
Index("ix_issues_updated_at", issues.c.updated_at, issues.c.seq)
Index("ix_issues_title", issues.c.title, issues.c.seq)
Index("ix_issues_priority", issues.c.priority_rank, issues.c.seq)
Index("ix_issues_priority_desc", issues.c.priority_rank.desc(), issues.c.seq)
# The filters: a status or reporter narrows the rows, in the default (creation) order.
Index("ix_issues_status", issues.c.status, issues.c.created_at, issues.c.seq)
Index("ix_issues_reporter", issues.c.reporter, issues.c.created_at, issues.c.seq)
# due_before/due_after are range filters, and sort=due_date pages by it: both read this
# index rather than the table. Descending, the issues without a due date are one long run
# of equal keys re-sorted by seq, which only pages deep into them pay for (1 s at 50,000
# on SQLite); a second, descending index would spare them that at a cost to every write.
Index("ix_issues_due_date", issues.c.due_date, issues.c.seq)

# An issue's assignees and labels are rows of their own, so a filter is an indexed lookup
# and a label edit changes only the rows it adds or removes.
issue_assignees = Table(
    "issue_assignees",
    metadata,
    Column("issue_id", Text, ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True),
    Column("username", CodePointText, primary_key=True),
)
Index("ix_issue_assignees_username", issue_assignees.c.username, issue_assignees.c.issue_id)

labels = Table(
    "labels",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", CodePointText, nullable=False),
    # The name as compared (`rules.label_key`): unique, and what labels are listed by.
    Column("name_key", CodePointText, nullable=False, unique=True),
    Column("color", Text, nullable=False),
    Column("description", Text, nullable=False),
)

issue_labels = Table(
    "issue_labels",
    metadata,
    Column("issue_id", Text, ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True),
    Column("label_id", Text, ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True),
)
Index("ix_issue_labels_label", issue_labels.c.label_id, issue_labels.c.issue_id)

comments = Table(
    "comments",
    metadata,
    # Creation order, which is the order comments are listed in.
    Column("seq", SequenceNumber, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("issue_id", Text, ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    Column("body", Text, nullable=False),
    Column("author", Text, nullable=True),
    Column("created_at", UTCTimestamp, nullable=False),
    Column("updated_at", UTCTimestamp, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("version >= 1", name="ck_comments_version"),
)
Index("ix_comments_issue", comments.c.issue_id, comments.c.seq)

# JSON values (NULL when absent, not JSON null): PostgreSQL's binary JSONB, SQLite's text.
EventJSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

# Revision issues_0003. The event log: every change, in the order it became visible. No
# foreign key to `issues`: a deleted issue's events stay in the feed.
issue_events = Table(
    "issue_events",
    metadata,
    # Given by `issue_event_ids`, never by the database (see `_events.py`).
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("type", Text, nullable=False),
    Column("issue_id", Text, nullable=True),
    Column("actor", Text, nullable=True),
    Column("created_at", UTCTimestamp, nullable=False),
    Column("changes", EventJSON, nullable=True),
    Column("issue", EventJSON, nullable=True),
    Column("comment", EventJSON, nullable=True),
)
# An issue's timeline, and the feed filtered by issue; prune's range delete.
Index("ix_issue_events_issue", issue_events.c.issue_id, issue_events.c.id)
Index("ix_issue_events_created_at", issue_events.c.created_at)

# The last event id given out: one row, advanced inside each write's own transaction, so
# its row lock orders writers' commits as their ids (see `_events.py`).
issue_event_ids = Table(
    "issue_event_ids",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("last_id", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="ck_issue_event_ids_one_row"),
)


# Revision issues_0004. Webhooks: the hooks, with their secret and their place in the log.
hooks = Table(
    "hooks",
    metadata,
    # Creation order, which hooks are listed in.
    Column("seq", SequenceNumber, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("url", Text, nullable=False),
    # UTF-8 bytes: a secret may hold any character, NUL too, which PostgreSQL text cannot.
    Column("secret", LargeBinary, nullable=False),
    # The event types wanted, as sent (a JSON array; ["*"] for all).
    Column("events", EventJSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCTimestamp, nullable=False),
    Column("updated_at", UTCTimestamp, nullable=False),
    Column("failing_since", UTCTimestamp, nullable=True),
    # The last event id turned into this hook's deliveries (or skipped).
    Column("cursor", BigInteger, nullable=False),
)

# One event's (or ping's) delivery to one hook. No foreign key to `issue_events`: the body
# is kept here, so a pruned event's delivery can still be attempted and redelivered.
hook_deliveries = Table(
    "hook_deliveries",
    metadata,
    # The order deliveries were made in: per hook, queued ones go out in it.
    Column("seq", SequenceNumber, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("hook_id", Text, ForeignKey("hooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", BigInteger, nullable=True),
    Column("event", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    # True for an event's delivery, which waits behind the hook's older pending ones;
    # false for pings and redeliveries of finished ones, which go at once.
    Column("queued", Boolean, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("duration_ms", Float, nullable=True),
    Column("response", Text, nullable=True),
    Column("created_at", UTCTimestamp, nullable=False),
    Column("last_attempt_at", UTCTimestamp, nullable=True),
    Column("next_attempt_at", UTCTimestamp, nullable=True),
    CheckConstraint(
        _one_of("state", [state.value for state in DeliveryState]),
        name="ck_hook_deliveries_state",
    ),
)
# What is due: the pending ones, by when (delivered and failed ones, the many, are skipped).
Index(
    "ix_hook_deliveries_due",
    hook_deliveries.c.state,
    hook_deliveries.c.next_attempt_at,
    hook_deliveries.c.seq,
)
# The head of a hook's queue: its oldest pending queued delivery, the first entry here.
Index(
    "ix_hook_deliveries_queue",
    hook_deliveries.c.hook_id,
    hook_deliveries.c.queued,
    hook_deliveries.c.state,
    hook_deliveries.c.seq,
)
# A hook's deliveries, newest first (and the cascade when it is deleted).
Index("ix_hook_deliveries_hook", hook_deliveries.c.hook_id, hook_deliveries.c.seq)

# Who delivers: one row, its owner's until `expires_at` unless renewed (`_hooks.py`). In
# the store's schema, so stores in different PostgreSQL schemas have leases of their own.
hook_lease = Table(
    "hook_lease",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("owner", Text, nullable=False),
    Column("expires_at", UTCTimestamp, nullable=False),
    CheckConstraint("id = 1", name="ck_hook_lease_one_row"),
)

ISSUE_COLUMNS = tuple(column for column in issues.c if column.name in IssueOut.model_fields)
"""The columns of `issues` an `IssueOut` is read from and written to: those named like its
fields, in table order. `seq` and `priority_rank` are the database's own."""

LABEL_COLUMNS = (labels.c.id, labels.c.name, labels.c.color, labels.c.description)
"""The columns a `LabelOut` is read from, in its field order."""

EVENT_COLUMNS = (
    issue_events.c.id,
    issue_events.c.type,
    issue_events.c.issue_id,
    issue_events.c.actor,
    issue_events.c.created_at,
    issue_events.c.changes,
    issue_events.c.issue,
    issue_events.c.comment,
)
"""The columns an `EventOut` is read from, in its field order."""

COMMENT_COLUMNS = (
    comments.c.id,
    comments.c.issue_id,
    comments.c.body,
    comments.c.author,
    comments.c.created_at,
    comments.c.updated_at,
    comments.c.version,
)
"""The columns a `CommentOut` is read from, in its field order."""
