"""Default authentication: argon2 passwords, JWT bearer tokens, a user store, `/token`.

Needs the `auth` extra: `pip install "fastapi-issues[auth]"`. Everything here is optional;
`make_issue_router(auth_dependency=...)` takes any dependency of your own instead.

    from fastapi_issues.auth import (
        AuthEnvSettings, current_active_user, make_auth_router, open_user_store,
    )

    settings = AuthEnvSettings().auth_settings()   # FASTAPI_ISSUES_SECRET_KEY, .env
    users = open_user_store("data/issues.json")   # data/users.json
    app.include_router(make_auth_router(users, settings))
    app.include_router(
        make_issue_router(store, auth_dependency=current_active_user(users, settings))
    )
"""

from typing import TYPE_CHECKING, Any

try:
    import jwt  # noqa: F401
    import pwdlib  # noqa: F401
    import pydantic_settings  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        f"fastapi_issues.auth needs the 'auth' extra ({exc.name} is missing): "
        'pip install "fastapi-issues[auth]"'
    ) from exc

from fastapi_issues.auth.admin import make_user_admin_router
from fastapi_issues.auth.dependencies import (
    UserDependency,
    current_active_user,
    current_user,
    websocket_user,
)
from fastapi_issues.auth.passwords import Passwords
from fastapi_issues.auth.router import AccessToken, make_auth_router
from fastapi_issues.auth.settings import (
    AuthEnvSettings,
    AuthSettings,
    AuthSettingsError,
    generate_secret,
)
from fastapi_issues.auth.stores import InMemoryUserStore, JSONFileUserStore
from fastapi_issues.auth.throttle import (
    InMemoryThrottleStorage,
    LoginThrottle,
    LoginThrottled,
    RateLimit,
    RegistrationThrottle,
    RegistrationThrottled,
    SharedThrottleStorage,
    ThrottleRule,
    ThrottleStorage,
)
from fastapi_issues.auth.throttle_stores import JSONFileThrottleStorage, throttle_storage_for
from fastapi_issues.auth.tokens import InvalidToken, create_access_token, decode_access_token
from fastapi_issues.auth.urls import open_user_store
from fastapi_issues.auth.users import (
    AmbiguousUsername,
    NewUser,
    User,
    UserExists,
    UserInDB,
    UserNotFound,
    UserRegistration,
    UserStore,
    UserStoreNotFound,
    UserUpdate,
    normalize_username,
    username_collisions,
)

if TYPE_CHECKING:
    from fastapi_issues.auth.sql import SQLUserStore

__all__ = [
    "AccessToken",
    "AmbiguousUsername",
    "AuthEnvSettings",
    "AuthSettings",
    "AuthSettingsError",
    "InMemoryThrottleStorage",
    "InMemoryUserStore",
    "InvalidToken",
    "JSONFileThrottleStorage",
    "JSONFileUserStore",
    "LoginThrottle",
    "LoginThrottled",
    "NewUser",
    "Passwords",
    "RateLimit",
    "RegistrationThrottle",
    "RegistrationThrottled",
    "SQLUserStore",
    "SharedThrottleStorage",
    "ThrottleRule",
    "ThrottleStorage",
    "User",
    "UserDependency",
    "UserExists",
    "UserInDB",
    "UserNotFound",
    "UserRegistration",
    "UserStore",
    "UserStoreNotFound",
    "UserUpdate",
    "create_access_token",
    "current_active_user",
    "current_user",
    "decode_access_token",
    "generate_secret",
    "make_auth_router",
    "make_user_admin_router",
    "normalize_username",
    "open_user_store",
    "throttle_storage_for",
    "username_collisions",
    "websocket_user",
]


def __getattr__(name: str) -> Any:
    # Imported on first use, so auth works without SQLAlchemy installed.
    if name == "SQLUserStore":
        from fastapi_issues.auth.sql import SQLUserStore

        return SQLUserStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
