"""The delivery lease of the SQL stores' webhooks: the one row of `hook_lease`.

A row lease on both databases: its owner's until `expires_at` unless renewed, taken over by
anyone once expired. A session-level advisory lock on PostgreSQL would pass to another
process at once when its holder's process dies, but never while that process lives on
with its worker stuck, and `HookStore` promises the lease is lost within 30 s of its
holder no longer renewing it; the row does both, dead or stuck, within `LEASE_SECONDS`.
The table is in the store's schema, so stores in different PostgreSQL schemas have leases
of their own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete, or_

from fastapi_issues.storage.clock import Clock
from fastapi_issues.storage.rules import as_utc
from fastapi_issues.storage.sql._database import SQLDatabase
from fastapi_issues.storage.sql._schema import hook_lease

__all__ = ["LEASE_SECONDS", "RowLease"]

LEASE_SECONDS = 30.0
"""How long the delivery lease lasts unless renewed: `HookStore`'s "lost within 30 s"."""


_RELEASE = delete(hook_lease).where(hook_lease.c.owner == bindparam("owner"))


class RowLease:
    """The delivery lease as the one row of `hook_lease`: taken, kept or taken over by one
    upsert, whose WHERE lets it through only for the owner or once the lease has expired;
    the row it returns says the caller holds the lease."""

    def __init__(self, db: SQLDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._take: Any = None

    def _statement(self) -> Any:
        insert_ = self._db.insert_ignoring()
        statement = insert_(hook_lease).values(
            id=1, owner=bindparam("owner"), expires_at=bindparam("until")
        )
        return statement.on_conflict_do_update(
            index_elements=[hook_lease.c.id],
            set_={"owner": statement.excluded.owner, "expires_at": statement.excluded.expires_at},
            where=or_(
                hook_lease.c.owner == statement.excluded.owner,
                hook_lease.c.expires_at < bindparam("now"),
            ),
        ).returning(hook_lease.c.owner)

    async def hold(self, owner: str) -> bool:
        if self._db.unstorable(owner):
            return False
        if self._take is None:
            self._take = self._statement()
        now = as_utc(self._clock())
        params = {"owner": owner, "now": now, "until": now + timedelta(seconds=LEASE_SECONDS)}
        async with self._db.writing() as conn:
            return (await conn.execute(self._take, params)).first() is not None

    async def release(self, owner: str) -> None:
        if self._db.unstorable(owner):
            return
        async with self._db.writing() as conn:
            await conn.execute(_RELEASE, {"owner": owner})
