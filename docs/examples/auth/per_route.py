from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, status

from fastapi_issues import JSONFileIssueStore, make_issue_router


async def current_user(x_user: Annotated[str | None, Header()] = None) -> str:
    # Stands in for your real auth.
    if not x_user:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Who are you?")
    return x_user


# --8<-- [start:routes]
async def require_admin(user: Annotated[str, Depends(current_user)]) -> None:
    if user != "ada":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Only admins may delete issues"
        )


app = FastAPI()
store = JSONFileIssueStore("data/issues.json")
app.include_router(
    make_issue_router(
        store,
        auth_dependency=current_user,
        exclude={"update"},  # serve PATCH only, no PUT
        dependencies={"delete": [Depends(require_admin)]},
    )
)
# --8<-- [end:routes]
