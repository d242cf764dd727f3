"""A dependency that refuses JSON bodies Python parses but nothing should act on.

`json.loads` keeps the last of duplicate keys (a proxy or another parser may keep the first,
and the two then disagree on what was sent), accepts `NaN` and `Infinity` (not JSON, and
unencodable in a response), and lets `\\ud800`-style escapes through as lone surrogates (not
text: no UTF-8 file, database or response can hold them). Each of these gets a 422 here,
before the body reaches a model or a store.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from fastapi import Request
from fastapi.exceptions import RequestValidationError

__all__ = ["reject_ambiguous_json"]


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            # repr() escapes lone surrogates, so the message itself stays encodable.
            raise _Refused(f"Duplicate key {key[:40]!r} in a JSON object")
        obj[key] = value
    return obj


def _no_constant(name: str) -> NoReturn:
    raise _Refused(f"{name} is not a JSON number")


async def reject_ambiguous_json(request: Request) -> None:
    """Raise a 422 for duplicate keys, `NaN`/`Infinity` or lone surrogates in the body."""
    body = await request.body()  # cached: FastAPI has already read it
    if not body:
        return
    try:
        value = json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except _Refused as exc:
        raise _invalid(exc.message) from None
    except UnicodeEncodeError:
        raise _invalid("Text contains a lone surrogate (an unpaired \\ud800-\\udfff)") from None
    except (ValueError, RecursionError):
        # Not JSON at all: FastAPI's own parsing has already answered, or will.
        return


def _invalid(message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": message}])
