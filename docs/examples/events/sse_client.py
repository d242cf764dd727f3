"""Follow the event stream from Python, with httpx."""

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx


def events(
    base_url: str,
    last_event_id: int | None = None,
    token: str | None = None,
) -> Iterator[dict[str, Any]]:
    """The events after `last_event_id` (from now, when None), as they come."""
    headers = {"Accept": "text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    # A heartbeat comes every 15 s: a read waiting 60 s means a dead link.
    timeout = httpx.Timeout(10, read=60)
    url = f"{base_url}/api/v1/events/stream"
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as r:
        r.raise_for_status()
        data: list[str] = []
        for line in r.iter_lines():
            if line.startswith("data:"):
                data.append(line.removeprefix("data:").removeprefix(" "))
            elif line == "" and data:  # a blank line ends an event
                yield json.loads("\n".join(data))
                data = []
            # `id:` and `event:` repeat what the JSON holds; lines
            # starting with ":" are heartbeats.


def follow(
    base_url: str, token: str | None = None, last_id: int | None = None
) -> Iterator[dict[str, Any]]:
    """Every event after `last_id` (from now, when None), across drops."""
    while True:
        try:
            for event in events(base_url, last_id, token):
                last_id = event["id"]
                yield event
        except httpx.TransportError:
            pass  # dropped, or the server is restarting
        time.sleep(1)  # then resume after the last event seen
