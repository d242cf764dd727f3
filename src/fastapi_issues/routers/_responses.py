"""How the routers document their error answers in OpenAPI."""

from __future__ import annotations

from typing import Any

from fastapi import status
from pydantic import BaseModel

__all__ = [
    "BODY_ERRORS",
    "MALFORMED_IF_MATCH",
    "ErrorMessage",
    "Responses",
    "common_errors",
    "error",
]

Responses = dict[int | str, dict[str, Any]]
"""The `responses` of a route, as `APIRouter.add_api_route` takes them."""


class ErrorMessage(BaseModel):
    """The body of every error the issue routes raise themselves."""

    detail: str


def error(code: int, description: str) -> Responses:
    """One error answer with an `ErrorMessage` body."""
    return {code: {"model": ErrorMessage, "description": description}}


def common_errors(*, auth: bool, policy: bool, what: str) -> Responses:
    """The errors every route of a router may answer: 503, and 401 and 403 when it has
    auth and a policy."""
    errors = error(
        status.HTTP_503_SERVICE_UNAVAILABLE, f"The {what} store cannot be reached or read."
    )
    if auth:
        errors.update(error(status.HTTP_401_UNAUTHORIZED, "Missing or invalid credentials."))
    if policy:
        errors.update(
            error(status.HTTP_403_FORBIDDEN, "The authorization policy does not allow this.")
        )
    return errors


BODY_ERRORS: Responses = {
    **error(
        status.HTTP_400_BAD_REQUEST,
        "The body cannot be parsed (not UTF-8, or nested too deeply).",
    ),
    **error(413, "The body is larger than the server accepts."),
}
"""What a route taking a body also answers."""

MALFORMED_IF_MATCH: Responses = error(
    status.HTTP_400_BAD_REQUEST,
    "`If-Match` is neither `*` nor a list of quoted entity tags; or, where the route takes a "
    "body, the body cannot be parsed.",
)
"""What a route honouring `If-Match` also answers; it stands in for the body's 400."""
