"""The tables' revisions, with Alembic: bring a database to this release's schema, or say
why not.

Two branches share one version table (`VERSION_TABLE`, never a host's `alembic_version`):
`issues` (this package's `migrations/versions/`) and `users` (`fastapi_issues/auth/
migrations/`), each upgraded by the store that owns its tables. Every function here takes a
connection that already holds the schema lock inside one transaction (see
`SQLDatabase.run_locked`): what it applies commits together with the version rows, or not
at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, inspect, select
from sqlalchemy.sql.ddl import CreateSchema

from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.sql._schema import SCHEMA_VERSION, meta

VERSION_TABLE = "fastapi_issues_alembic_version"
"""The table Alembic records our revisions in: our own name, so a host's `alembic_version`
is never touched."""

BRANCHES = ("issues", "users")
"""The branch labels: `issues` for `SQLIssueStore`'s tables, `users` for `SQLUserStore`'s."""

MIGRATIONS_DIRECTORY = Path(__file__).parent / "migrations"
"""Alembic's script location: our `env.py`, which runs on the caller's connection."""

VERSION_LOCATIONS: tuple[str, ...] = (
    str(MIGRATIONS_DIRECTORY / "versions"),
    # A path, not an import: the issue store must read the users branch's revisions (they
    # share the version table) without importing auth, which builds on storage.
    str(Path(__file__).parents[2] / "auth" / "migrations"),
)
"""The folders of every branch's revision files."""

UPGRADE_COMMAND = "fastapi-issues db upgrade"

# 0.1.0 recorded each table it made in `fastapi_issues_meta`; one of them stands for its
# branch's first revision.
_FIRST_REVISIONS = {"table:issues": "issues_0001", "table:users": "users_0001"}

StepListener = Callable[[str], None]
"""Told one line per revision applied or stamped."""

ProgressListener = Callable[[str, int, "int | None"], None]
"""Told `("revisions", done, total)` as revisions are applied or stamped (the
`fastapi_issues.progress.ProgressCallback` of an upgrade)."""


def _config(
    conn: Connection,
    schema: str | None,
    on_step: StepListener | None,
    on_progress: Callable[[int], None] | None = None,
) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    # Alembic before 1.16 reads this name instead (later ones read the one above first).
    config.set_main_option("version_path_separator", "os")
    locations = os.pathsep.join(VERSION_LOCATIONS)
    config.set_main_option("version_locations", locations.replace("%", "%%"))

    def report(*, ctx: MigrationContext, step: MigrationInfo, **_: object) -> None:
        if on_step is not None:
            on_step(_describe_step(step))
        if on_progress is not None:
            on_progress(max(len(step.up_revision_ids), 1))

    config.attributes.update(
        connection=conn, version_table=VERSION_TABLE, schema=schema, on_version_apply=report
    )
    return config


def _describe_step(step: MigrationInfo) -> str:
    revisions = ", ".join(step.up_revision_ids) or "base"
    if step.is_stamp:
        return f"stamped {revisions}"
    # A `Script` at run time, which the revision map types only as a `Revision`.
    doc = getattr(step.up_revision, "doc", None)
    return f"applied {revisions}: {doc}" if doc else f"applied {revisions}"


def script_directory() -> ScriptDirectory:
    """Every branch's revisions, as this release knows them."""
    return ScriptDirectory(str(MIGRATIONS_DIRECTORY), version_locations=list(VERSION_LOCATIONS))


def history() -> Iterator[Script]:
    """Every revision this release knows, newest first, branch by branch."""
    script = script_directory()
    for branch in BRANCHES:
        yield from script.iterate_revisions(f"{branch}@head", "base")


@dataclass(frozen=True)
class Revisions:
    """Where a database stands: its recorded revisions, and per branch whether it is
    absent, behind or at this release's head."""

    current: tuple[str, ...]
    """The revisions recorded (for a 0.1.0 database not stamped yet: those it stands for)."""
    absent: tuple[str, ...]
    """Branches with none of their tables."""
    behind: tuple[str, ...]
    """Branches older than this release."""
    stamped: bool
    """False for a database made by 0.1.0 and not yet stamped."""


def read_revisions(conn: Connection, schema: str | None) -> Revisions:
    """Where the database stands. `StorageError` when it is newer than this release."""
    script = script_directory()
    context = MigrationContext.configure(
        conn, opts={"version_table": VERSION_TABLE, "version_table_schema": schema}
    )
    inspector = inspect(conn)
    stamped = inspector.has_table(VERSION_TABLE, schema=schema)
    has_meta = inspector.has_table(meta.name, schema=schema)
    if has_meta:
        _check_schema_version(conn)
    if stamped:
        current = context.get_current_heads()
    elif has_meta:
        current = _revisions_of_0_1_0(conn)
    else:
        current = ()
    for revision in current:
        try:
            script.get_revision(revision)
        except (RevisionError, CommandError):
            raise StorageError(
                f"the database's fastapi-issues tables are at revision {revision}, newer than "
                "this release knows; upgrade fastapi-issues"
            ) from None
    absent, behind = [], []
    for branch in BRANCHES:
        head = script.get_revision(f"{branch}@head")
        assert head is not None
        mine = {rev.revision for rev in script.iterate_revisions(head.revision, "base")}
        if not mine & set(current):
            absent.append(branch)
        elif head.revision not in current:
            behind.append(branch)
    return Revisions(tuple(sorted(current)), tuple(absent), tuple(behind), stamped)


def _revisions_of_0_1_0(conn: Connection) -> tuple[str, ...]:
    keys = set(conn.scalars(select(meta.c.key)))
    return tuple(revision for key, revision in _FIRST_REVISIONS.items() if key in keys)


def _check_schema_version(conn: Connection) -> None:
    # 0.1.0's own record, still kept: a release that bumps it is newer than this one.
    version = conn.scalar(select(meta.c.value).where(meta.c.key == "schema_version")) or ""
    if not version.isdigit():
        raise StorageError(f"table {meta.name} holds no valid schema_version")
    if int(version) > SCHEMA_VERSION:
        raise StorageError(
            f"the database's fastapi-issues tables are at schema version {version}, "
            f"newer than this release knows ({SCHEMA_VERSION}); upgrade fastapi-issues"
        )


def upgrade(
    conn: Connection,
    branches: tuple[str, ...],
    *,
    schema: str | None,
    on_step: StepListener | None = None,
    on_progress: ProgressListener | None = None,
) -> Revisions:
    """Stamp a 0.1.0 database, then bring `branches` to this release's head. `on_progress`
    is told how many of the revisions to stamp or apply are done, after each.

    Returns where the database stood before.
    """
    if schema is not None and conn.dialect.name == "postgresql":
        conn.execute(CreateSchema(schema, if_not_exists=True))
    before = read_revisions(conn, schema)
    counted = None
    if on_progress is not None:
        counted = _Counter(on_progress, _steps_to_take(before, branches))
    config = _config(conn, schema, on_step, counted)
    if not before.stamped and before.current:
        command.stamp(config, list(before.current))
    for branch in branches:
        if branch in before.absent or branch in before.behind:
            command.upgrade(config, f"{branch}@head")
    return before


class _Counter:
    """Counts the revisions done for an `on_progress` listener."""

    def __init__(self, listener: ProgressListener, total: int) -> None:
        self._listener, self._total, self._done = listener, total, 0
        listener("revisions", 0, total)

    def __call__(self, revisions: int) -> None:
        self._done += revisions
        self._listener("revisions", self._done, max(self._total, self._done))


def _steps_to_take(before: Revisions, branches: tuple[str, ...]) -> int:
    """The revisions `upgrade` will stamp or apply, counted before it starts."""
    script = script_directory()
    steps = 0 if before.stamped else len(before.current)
    for branch in branches:
        if branch not in before.absent and branch not in before.behind:
            continue
        mine = {rev.revision for rev in script.iterate_revisions(f"{branch}@head", "base")}
        at = [revision for revision in before.current if revision in mine]
        pending = script.iterate_revisions(f"{branch}@head", at[0] if at else "base")
        steps += sum(1 for _ in pending)
    return steps


def require_current(
    conn: Connection,
    branch: str,
    *,
    schema: str | None,
    auto_upgrade: bool,
    where: str,
) -> None:
    """Bring `branch` to this release's head when allowed: always when its tables are
    absent (they are created) or the database was made by 0.1.0 (it is stamped), else only
    with `auto_upgrade`. Otherwise `StorageError` naming the database and the command."""
    if schema is not None and conn.dialect.name == "postgresql":
        conn.execute(CreateSchema(schema, if_not_exists=True))
    state = read_revisions(conn, schema)
    if branch in state.behind and not auto_upgrade:
        option = "" if schema is None else f" --schema {schema}"
        raise StorageError(
            f"the database {where} holds fastapi-issues tables older than this release "
            f"(revision {', '.join(state.current)}); run: {UPGRADE_COMMAND} --url "
            f"'{where}'{option}, or pass auto_upgrade=True"
        )
    if state.stamped and branch not in state.absent and branch not in state.behind:
        return
    upgrade(conn, (branch,), schema=schema)
