"""A route class for routes that take passwords or secrets: their 422 answers never echo one."""

# No `from __future__ import annotations`, as in the router modules that use it.

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

__all__ = ["PROTECTED_FIELDS", "NoSecretEchoRoute"]

PROTECTED_FIELDS = ("password", "secret")
"""Words that make a field's value write-only: a field whose name holds one of them
(`new_password`, `secret`) is never shown back."""

_ECHOED = frozenset({"input", "ctx"})


class NoSecretEchoRoute(APIRoute):
    """A route whose 422 answers leave out what the client sent wherever it may hold a
    password or a secret: FastAPI echoes each invalid value back, and neither belongs in a
    response (or in whatever logs responses on the way).

    Left out: the `input` and `ctx` of an error at a field named with a word of
    `PROTECTED_FIELDS`, and of an error whose input is the whole body or a part holding
    other fields (a body that is a list, a string, or an object that fails as a whole, such
    as a misspelt `{"Secret": ...}`): those echo every value inside them.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def without_secret_echo(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise RequestValidationError(without_secrets(exc.errors())) from None

        return without_secret_echo


def without_secrets(errors: Sequence[Any]) -> list[Any]:
    """`errors` (FastAPI's validation errors) without what may echo a secret."""
    return [
        {key: value for key, value in error.items() if key not in _ECHOED}
        if isinstance(error, dict) and _may_echo_a_secret(error)
        else error
        for error in errors
    ]


def _may_echo_a_secret(error: dict[str, Any]) -> bool:
    loc = tuple(error.get("loc", ()))
    if any(word in str(part).lower() for part in loc for word in PROTECTED_FIELDS):
        return True
    # ("body",) is the body itself; a dict or list holds fields that may be protected.
    return (len(loc) <= 1 and loc[:1] == ("body",)) or isinstance(error.get("input"), dict | list)
