import hashlib
import hmac
import json
import os

from fastapi import FastAPI, Header, HTTPException, Request, Response

# The secret the hook was registered with; never in the code.
SECRET = os.environ["ISSUES_WEBHOOK_SECRET"].encode()

app = FastAPI()
# Deliveries already handled. In production: a table with the id
# as its unique key, so that a retry is recognised after a restart.
handled: dict[str, dict] = {}


def signed(body: bytes, signature: str | None) -> bool:
    """Whether `X-Issues-Signature-256` signs these exact bytes."""
    digest = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    expected = f"sha256={digest}".encode()
    # Constant time: a forger learns nothing from how long it takes.
    return hmac.compare_digest(expected, (signature or "").encode())


@app.post("/hooks/issues", status_code=204)
async def receive(
    request: Request,
    x_issues_event: str = Header(),
    x_issues_delivery: str = Header(),
    x_issues_signature_256: str | None = Header(default=None),
) -> Response:
    # The raw bytes: JSON parsed and encoded again would not match.
    body = await request.body()
    if not signed(body, x_issues_signature_256):
        raise HTTPException(401, "Bad signature")
    # At least once: a retry repeats the same delivery id.
    if x_issues_delivery not in handled:
        handled[x_issues_delivery] = handle(x_issues_event, json.loads(body))
    return Response(status_code=204)


def handle(event_type: str, event: dict) -> dict:
    # Answer quickly (within 10 s); hand slow work to a queue.
    print(event_type, event.get("issue_id"))
    return event
