"""The one way SQL stores turn a failed statement into a `StorageError`.

SQLAlchemy's exception text ends with the statement and `[parameters: ...]`, and those hold
what was being written: a user's password hash, an issue's text. The message made here keeps
the driver's error and the kind of statement (`INSERT INTO users`), never the statement's
text or its parameters, so it can go to the log and to `str(exc)` safely.
"""

from __future__ import annotations

import asyncio
import re
from typing import NoReturn

from sqlalchemy.exc import SQLAlchemyError

from fastapi_issues.storage.errors import StorageError

__all__ = [
    "DATABASE_ERRORS",
    "database_error",
    "describe_database_error",
    "raise_database_error",
]

DATABASE_ERRORS = (SQLAlchemyError, OSError, asyncio.TimeoutError)
"""What a database call raises when the database fails, not the code. A connect timeout is
`asyncio.TimeoutError`, an `OSError` only from Python 3.11 on: named, 3.10 gets a 503 too."""

# asyncpg names a parameter it cannot encode and shows its value: keep the name only.
_ARGUMENT_VALUE = re.compile(r"(query argument \$\d+): .*", re.DOTALL)
# PostgreSQL quotes the input it could not read as a type (a value we sent).
_INPUT_VALUE = re.compile(r"(invalid input (?:syntax |value )?for [^:]+): .*", re.DOTALL)
_STATEMENT_KIND = re.compile(
    r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM|SELECT|WITH|CREATE|ALTER|DROP|BEGIN|COMMIT)"
    r"(?:\s+(?:ONLY\s+)?([\w.\"]+))?",
    re.IGNORECASE,
)
_MAX_DETAIL = 300


def _statement_kind(statement: object) -> str | None:
    if not isinstance(statement, str):
        return None
    match = _STATEMENT_KIND.match(statement)
    if match is None:
        return None
    verb = " ".join(match.group(1).upper().split())
    table = match.group(2)
    # A SELECT's first word after the verb is a column, not a table.
    if table is None or verb in {"SELECT", "WITH", "BEGIN", "COMMIT"}:
        return verb
    return f"{verb} {table}"


def _driver_error(exc: BaseException) -> BaseException:
    # SQLAlchemy wraps the driver's exception in `orig`; its own text adds the statement
    # and the parameters, which are what must not be shown.
    original = getattr(exc, "orig", None)
    return original if isinstance(original, BaseException) else exc


def _redacted(message: str) -> str:
    message = _ARGUMENT_VALUE.sub(r"\1", message)
    return _INPUT_VALUE.sub(r"\1", message)


def describe_database_error(exc: BaseException, statement: str | None = None) -> str:
    """`ErrorType: the driver's message (in INSERT INTO users)`: what failed, without the
    statement's text or parameters. `statement` is the SQL, when `exc` does not carry it."""
    driver = _driver_error(exc)
    lines = str(driver).strip().splitlines()
    message = _redacted(lines[0])[:_MAX_DETAIL] if lines else ""
    kind = _statement_kind(getattr(exc, "statement", None) or statement)
    described = f"{type(driver).__name__}: {message}" if message else type(driver).__name__
    return f"{described} (in {kind})" if kind else described


def _safe_cause(exc: BaseException) -> BaseException | None:
    # The driver's own exception shows no statement or parameters, unless it quotes a
    # value (then nothing is chained): a traceback of the StorageError may print it.
    driver = _driver_error(exc)
    text = str(driver)
    return driver if _redacted(text) == text else None


def database_error(exc: BaseException, statement: str | None = None) -> StorageError:
    """The `StorageError` for `exc`, to `raise` as it is (not `from exc`).

    Its cause is the driver's exception, for debugging, never SQLAlchemy's wrapper, whose
    text holds the parameters; and the exception being handled is not shown with it.
    """
    error = StorageError(f"database error: {describe_database_error(exc, statement)}")
    # Setting the cause also sets __suppress_context__: tracebacks leave out `exc`.
    error.__cause__ = _safe_cause(exc)
    error.__suppress_context__ = True
    return error


def raise_database_error(exc: BaseException, statement: str | None = None) -> NoReturn:
    """Raise `database_error(exc)`."""
    raise database_error(exc, statement)
