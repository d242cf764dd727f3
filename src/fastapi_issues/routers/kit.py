"""The parts a router outside this package is built from: the kernel's route registration,
error tables, the documented error responses, the page headers, the body checks, and the
route class whose 422s never echo a password or a secret.

The auth package's routers are built from these, so that every route of the package goes
through one kernel; a host app's own routers may use them too. This module is the one public
door to the kernel: no other package imports a private module of this one.
"""

from fastapi_issues.routers._errors import ErrorRule, ErrorTable
from fastapi_issues.routers._json_body import reject_ambiguous_json
from fastapi_issues.routers._kernel import (
    DEFAULT_MAX_BODY_SIZE,
    add_route,
    answer_other_methods,
    operation_id,
)
from fastapi_issues.routers._no_echo import NoSecretEchoRoute
from fastapi_issues.routers._pages import set_page_headers
from fastapi_issues.routers._params import PageNumber
from fastapi_issues.routers._responses import BODY_ERRORS, ErrorMessage, Responses

__all__ = [
    "BODY_ERRORS",
    "DEFAULT_MAX_BODY_SIZE",
    "ErrorMessage",
    "ErrorRule",
    "ErrorTable",
    "NoSecretEchoRoute",
    "PageNumber",
    "Responses",
    "add_route",
    "answer_other_methods",
    "operation_id",
    "reject_ambiguous_json",
    "set_page_headers",
]
