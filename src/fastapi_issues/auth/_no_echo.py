"""A route class for routes that take passwords: their 422 answers never echo one."""

# No `from __future__ import annotations`, as in the router modules that use it.

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

__all__ = ["NoPasswordEchoRoute"]


class NoPasswordEchoRoute(APIRoute):
    """A route whose 422 answers leave out the input of `password` fields: FastAPI echoes
    each invalid value back, and a password does not belong in a response (or in whatever
    logs responses on the way)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def without_password_echo(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise RequestValidationError(_without_passwords(exc.errors())) from None

        return without_password_echo


def _without_passwords(errors: Sequence[Any]) -> list[Any]:
    return [
        {key: value for key, value in error.items() if key not in {"input", "ctx"}}
        if isinstance(error, dict) and any("password" in str(part) for part in error.get("loc", ()))
        else error
        for error in errors
    ]
