"""The `fastapi-issues` command: manage users, make secrets, migrate stores, upgrade a
SQL database's tables, prune the event log.

Each command is added by one small `add_*_command(commands)` function listed in `COMMANDS`;
it builds its parser and points `run` at a handler taking the parsed arguments and returning
the exit status. Handlers raise `CommandError` for anything the user got wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import SecretStr, ValidationError

from fastapi_issues.progress import ProgressReporter
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.urls import StoreURL, close_store, open_issue_store, prepare_store

if TYPE_CHECKING:
    from fastapi_issues.auth.users import UserStore

    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["COMMANDS", "CommandError", "build_parser", "main"]

DEFAULT_STORAGE_URL = "data/issues.json"
STORAGE_URL_ENV = "ISSUES_STORAGE_URL"

T = TypeVar("T")


class CommandError(Exception):
    """Bad input or a failed command; `main` prints the message and exits with status 1."""


# -- shared helpers ----------------------------------------------------------------------


def add_storage_url_option(parser: argparse.ArgumentParser) -> None:
    """`--storage-url`, for every command that opens a store."""
    parser.add_argument(
        "--storage-url",
        metavar="URL",
        help=(
            f"the issue store: a path to the issues JSON file, json:///path, memory://, "
            f"sqlite:///path or postgresql://... (default: ${STORAGE_URL_ENV}, else "
            f"{DEFAULT_STORAGE_URL}); users live in users.json beside the issues file, or "
            "in the same database"
        ),
    )


def storage_url(args: argparse.Namespace) -> str:
    """The store URL from `--storage-url`, the environment, or the default."""
    url: str | None = args.storage_url
    return url or os.environ.get(STORAGE_URL_ENV) or DEFAULT_STORAGE_URL


def require_auth_extra() -> None:
    """Raise `CommandError` unless the `auth` extra is installed."""
    try:
        import fastapi_issues.auth  # noqa: F401
    except ImportError as exc:
        raise CommandError(str(exc)) from None


def open_users(args: argparse.Namespace, *, create: bool = False) -> UserStore:
    """The user store the arguments name; `CommandError` if it cannot be opened."""
    require_auth_extra()
    from fastapi_issues.auth.urls import open_user_store
    from fastapi_issues.auth.users import UserStoreNotFound

    try:
        where = StoreURL.parse(storage_url(args), what="user store")
        store = open_user_store(where, create=create)
    except UserStoreNotFound as exc:
        raise CommandError(f"{exc}; check --storage-url, or add a user first") from None
    except (ValueError, StorageError) as exc:
        raise CommandError(str(exc)) from None
    if where.backend == "memory":
        print("warning: memory:// keeps nothing once this command ends", file=sys.stderr)
    return store


def command_group(
    commands: Subcommands, name: str, help: str, description: str | None = None
) -> Subcommands:
    """A command with actions of its own (`user add`, `db upgrade`): its action parsers."""
    group = commands.add_parser(name, help=help, description=description)
    return group.add_subparsers(dest="action", required=True, metavar="ACTION")


def run_with(store: object, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work()` on a new event loop, then close `store` (`close_store`).

    Store errors become `CommandError`s.
    """

    async def run() -> T:
        try:
            return await work()
        finally:
            await close_store(store)

    try:
        return asyncio.run(run())
    except StorageError as exc:
        raise CommandError(str(exc)) from None


def describe(error: ValidationError) -> str:
    """A validation error as one line naming each bad field."""
    problems = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "input"
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{field.replace('_', ' ')}: {message}")
    return "; ".join(problems)


# -- user --------------------------------------------------------------------------------


def add_user_command(commands: Subcommands) -> None:
    """`user add|disable|enable|passwd|logout-all|list|check`."""
    actions = command_group(
        commands, "user", "add, disable, enable, list or check users, set passwords, revoke tokens"
    )

    add = actions.add_parser("add", help="create a user (the password is asked twice)")
    add.add_argument("username")
    add.add_argument("--email")
    add.add_argument("--full-name")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input, for scripts",
    )
    add_storage_url_option(add)
    add.set_defaults(run=run_user_add)

    for name, disabled in (("disable", True), ("enable", False)):
        revokes = " and revoke their tokens" if disabled else ""
        toggle = actions.add_parser(name, help=f"{name} a user{revokes}")
        toggle.add_argument("username")
        add_storage_url_option(toggle)
        toggle.set_defaults(run=run_user_set_disabled, disabled=disabled)

    passwd = actions.add_parser(
        "passwd", help="set a user's password (asked twice) and revoke their tokens"
    )
    passwd.add_argument("username")
    passwd.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input, for scripts",
    )
    add_storage_url_option(passwd)
    passwd.set_defaults(run=run_user_passwd)

    logout_all = actions.add_parser(
        "logout-all", help="revoke every token of a user (they log in again)"
    )
    logout_all.add_argument("username")
    add_storage_url_option(logout_all)
    logout_all.set_defaults(run=run_user_logout_all)

    listing = actions.add_parser("list", help="list users (never their password hashes)")
    add_storage_url_option(listing)
    listing.set_defaults(run=run_user_list)

    check = actions.add_parser(
        "check",
        help="list usernames that collide (differ only in case or width); exit 1 if any",
        description=(
            "Usernames are unique case-insensitively (NFKC, case-folded), but users made "
            "before that may collide. Lists each group and exits with status 1 if there are "
            "any; nothing is changed. A login by a name that is none of a group's exactly is "
            "refused until the group is resolved."
        ),
    )
    add_storage_url_option(check)
    check.set_defaults(run=run_user_check)


def read_new_password(args: argparse.Namespace) -> str:
    """The new user's password, from standard input or asked twice on the terminal."""
    if args.password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        password = getpass.getpass("Password: ")
        if password and getpass.getpass("Repeat password: ") != password:
            raise CommandError("the passwords do not match")
    if not password:
        raise CommandError("the password is empty")
    return password


def run_user_add(args: argparse.Namespace) -> int:
    require_auth_extra()
    from fastapi_issues.auth.passwords import Passwords
    from fastapi_issues.auth.users import (
        AmbiguousUsername,
        NewUser,
        UserExists,
        UserInDB,
        UserNotFound,
        UserRegistration,
    )

    try:
        details = NewUser(username=args.username, email=args.email, full_name=args.full_name)
    except ValidationError as exc:
        raise CommandError(describe(exc)) from None
    store = open_users(args, create=True)

    async def add() -> None:
        # Fail before asking for a password; `create` checks again, atomically.
        try:
            existing = await store.get(args.username)
        except AmbiguousUsername as exc:
            raise UserExists(args.username, exc.candidates[0]) from None
        except UserNotFound:
            pass
        else:
            raise UserExists(args.username, existing.username)
        password = read_new_password(args)
        try:
            registration = UserRegistration(**details.model_dump(), password=SecretStr(password))
        except ValidationError as exc:
            raise CommandError(describe(exc)) from None
        hashed = await Passwords().hash(registration.password.get_secret_value())
        await store.create(UserInDB(**details.model_dump(), hashed_password=SecretStr(hashed)))

    run_with(store, add)
    print(f"created user {args.username!r}")
    return 0


def run_user_set_disabled(args: argparse.Namespace) -> int:
    require_auth_extra()
    from fastapi_issues.auth.accounts import set_disabled

    store = open_users(args)
    # The stored name: the one given may be another form of it.
    user = run_with(store, lambda: set_disabled(store, args.username, args.disabled))
    done = "disabled user {!r} and revoked their tokens" if args.disabled else "enabled user {!r}"
    print(done.format(user.username))
    return 0


def run_user_passwd(args: argparse.Namespace) -> int:
    require_auth_extra()
    from fastapi_issues.auth.accounts import change_password
    from fastapi_issues.auth.passwords import Passwords
    from fastapi_issues.auth.users import check_password

    store = open_users(args)

    async def passwd() -> str:
        # Fail before asking for a password when there is no such user.
        await store.get(args.username)
        password = read_new_password(args)
        try:
            check_password(SecretStr(password))
        except ValueError as exc:
            raise CommandError(f"password: {exc}") from None
        user = await change_password(store, Passwords(), args.username, password)
        return user.username

    name = run_with(store, passwd)
    print(f"changed the password of {name!r} and revoked their tokens")
    return 0


def run_user_logout_all(args: argparse.Namespace) -> int:
    require_auth_extra()
    from fastapi_issues.auth.accounts import log_out_everywhere

    store = open_users(args)
    user = run_with(store, lambda: log_out_everywhere(store, args.username))
    print(f"revoked every token of {user.username!r}")
    return 0


def run_user_list(args: argparse.Namespace) -> int:
    store = open_users(args)
    users = run_with(store, store.list)
    rows = [("USERNAME", "EMAIL", "FULL NAME", "STATUS")]
    rows += [
        (u.username, u.email or "-", u.full_name or "-", "disabled" if u.disabled else "active")
        for u in users
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[3]]))
    return 0


def run_user_check(args: argparse.Namespace) -> int:
    from fastapi_issues.auth.users import normalize_username, username_collisions

    store = open_users(args)
    users = run_with(store, store.list)
    groups = username_collisions(user.username for user in users)
    if not groups:
        print(f"{len(users)} users; no usernames collide")
        return 0
    print(f"{len(groups)} groups of usernames collide (they differ only in case or width):")
    for names in groups:
        print(f"  {normalize_username(names[0])}: {', '.join(repr(name) for name in names)}")
    print(
        "Each still logs in by its exact name; any other form of it is refused. Resolve each "
        "group in the store (rename or remove all but one); until then, disable those you do "
        "not trust with `fastapi-issues user disable NAME` (exact names are matched first)."
    )
    return 1


# -- secret ------------------------------------------------------------------------------


def add_secret_command(commands: Subcommands) -> None:
    """`secret`: print a fresh signing key for FASTAPI_ISSUES_SECRET_KEY."""
    secret = commands.add_parser(
        "secret", help="print a fresh random secret for FASTAPI_ISSUES_SECRET_KEY"
    )
    secret.set_defaults(run=run_secret)


def run_secret(args: argparse.Namespace) -> int:
    import secrets

    print(secrets.token_urlsafe(48))
    return 0


# -- migrate -----------------------------------------------------------------------------


def add_migrate_command(commands: Subcommands) -> None:
    """`migrate --from URL --to URL`."""
    migrate = commands.add_parser(
        "migrate",
        help="copy every issue and user from one store to another",
        description=(
            "Copy every issue (ids, times, reporter, version and order kept) and every user "
            "from one store to another, e.g. --from data/issues.json --to sqlite:///issues.db. "
            "Records the target already has are skipped, so it is safe to run again."
        ),
    )
    migrate.add_argument("--from", dest="source", required=True, metavar="URL")
    migrate.add_argument("--to", dest="target", required=True, metavar="URL")
    migrate.add_argument("--no-users", action="store_true", help="copy the issues only")
    migrate.set_defaults(run=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    from fastapi_issues.migrate import migrate

    if args.source == args.target:
        raise CommandError("--from and --to name the same store")
    progress = ProgressReporter()
    work = migrate(args.source, args.target, users=not args.no_users, progress=progress)
    try:
        report = asyncio.run(work)
    except (ValueError, StorageError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        progress.close()
    print(f"issues: {report.issues_copied} copied, {report.issues_already_present} already there")
    # Only for deployments that have any, so that others see no change.
    for name, copied, present in [
        ("labels", report.labels_copied, report.labels_already_present),
        ("comments", report.comments_copied, report.comments_already_present),
    ]:
        if copied or present:
            print(f"{name}: {copied} copied, {present} already there")
    if not args.no_users:
        print(f"users: {report.users_copied} copied, {report.users_already_present} already there")
    return 0


# -- db ----------------------------------------------------------------------------------


def add_db_command(commands: Subcommands) -> None:
    """`db upgrade|current|history`: the SQL tables' revisions (Alembic)."""
    actions = command_group(
        commands,
        "db",
        "upgrade a SQL database's tables to this release, or show their revision",
        "The fastapi-issues tables of a SQLite or PostgreSQL database are versioned "
        "(Alembic, in its own table fastapi_issues_alembic_version). Run `db upgrade` "
        "after installing a new release, before starting the app.",
    )
    upgrade = actions.add_parser(
        "upgrade",
        help="bring the tables to this release (one transaction; a database made by 0.1.0 "
        "is recognised)",
    )
    current = actions.add_parser("current", help="show the revisions the database is at")
    for parser in (upgrade, current):
        parser.add_argument(
            "--url",
            metavar="URL",
            help=f"sqlite:///path or postgresql://... (default: ${STORAGE_URL_ENV})",
        )
        parser.add_argument("--schema", help="the PostgreSQL schema the stores were given")
    upgrade.set_defaults(run=run_db_upgrade)
    current.set_defaults(run=run_db_current)
    history = actions.add_parser("history", help="list the revisions this release knows")
    history.set_defaults(run=run_db_history)


def database_url(args: argparse.Namespace) -> str:
    """The SQL database from `--url` or the environment; `CommandError` for any other store."""
    url: str | None = args.url or os.environ.get(STORAGE_URL_ENV)
    if not url:
        raise CommandError(f"give --url, or set ${STORAGE_URL_ENV}")
    try:
        is_sql = StoreURL.parse(url).is_sql
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if not is_sql:
        raise CommandError("db commands need a SQL database URL (sqlite:/// or postgresql://)")
    return url


def _sql_extra() -> ModuleType:
    try:
        import fastapi_issues.storage.sql as sql
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    return sql


def _describe_revisions(revisions: Any) -> list[str]:
    lines = [f"{revision}" for revision in revisions.current] or ["no fastapi-issues tables"]
    if revisions.behind:
        lines.append(f"older than this release: {', '.join(revisions.behind)}")
    if revisions.current and not revisions.stamped:
        lines.append("made by 0.1.0; `db upgrade` records its revisions")
    return lines


def run_db_upgrade(args: argparse.Namespace) -> int:
    sql = _sql_extra()
    url = database_url(args)
    steps: list[str] = []
    progress = ProgressReporter()

    def report(line: str) -> None:
        steps.append(line)
        progress.clear()  # the line goes where the progress bar was, which follows it
        print(line, flush=True)

    work = sql.upgrade_database(url, schema=args.schema, on_step=report, progress=progress)
    try:
        after = asyncio.run(work)
    except (ValueError, StorageError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        progress.close()
    if not steps:
        print("already at this release")
    print(f"at: {', '.join(after.current)}")
    return 0


def run_db_current(args: argparse.Namespace) -> int:
    sql = _sql_extra()
    url = database_url(args)
    try:
        revisions = asyncio.run(sql.database_revisions(url, schema=args.schema))
    except (ValueError, StorageError) as exc:
        raise CommandError(str(exc)) from None
    for line in _describe_revisions(revisions):
        print(line)
    return 0


def run_db_history(args: argparse.Namespace) -> int:
    sql = _sql_extra()
    for script in sql.history():
        down = script.down_revision or "base"
        print(f"{down} -> {script.revision} ({', '.join(script.branch_labels)}): {script.doc}")
    return 0


# -- events ------------------------------------------------------------------------------


def add_events_command(commands: Subcommands) -> None:
    """`events prune --before DATE`: the event log's retention."""
    actions = command_group(
        commands,
        "events",
        "manage the event log (issue timelines and the live feed)",
        "Every write records events; the log grows until pruned. Prune it on a schedule "
        "(cron) to keep the history you need; ids are never reused, so live readers "
        "resuming by id are unaffected.",
    )
    prune = actions.add_parser(
        "prune",
        help="delete the events made before a date",
        description=(
            "Delete the events made before DATE (ISO 8601: 2026-01-31, or a time such as "
            "2026-01-31T12:00:00+01:00; a date or a time without an offset is UTC)."
        ),
    )
    prune.add_argument("--before", required=True, metavar="DATE", type=_moment)
    add_storage_url_option(prune)
    prune.set_defaults(run=run_events_prune)


def _moment(text: str) -> datetime:
    """`--before`'s value: an ISO 8601 date or time, UTC unless it names an offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or time (e.g. 2026-01-31)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def run_events_prune(args: argparse.Namespace) -> int:
    from fastapi_issues.storage.protocols import EventStore

    try:
        store = open_issue_store(storage_url(args))
    except (ValueError, StorageError) as exc:
        raise CommandError(str(exc)) from None
    if not isinstance(store, EventStore):
        raise CommandError("this store keeps no event log")

    async def prune() -> int:
        await prepare_store(store)
        return await store.prune_events(before=args.before)

    pruned = run_with(store, prune)
    print(
        f"pruned {pruned} event{'' if pruned == 1 else 's'} made before {args.before.isoformat()}"
    )
    return 0


# -- the entry point ---------------------------------------------------------------------

COMMANDS: list[Callable[[Subcommands], None]] = [
    add_user_command,
    add_secret_command,
    add_migrate_command,
    add_db_command,
    add_events_command,
]
"""The functions that add each top-level command to the parser, in help order."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastapi-issues", description="Manage a fastapi-issues deployment."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default: `sys.argv[1:]`) and return its exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        status: int = args.run(args)
    except CommandError as exc:
        print(f"fastapi-issues: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    return status
