"""The headers of a paginated answer: `X-Total-Count` and `Link` (RFC 8288)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from fastapi import Request, Response

__all__ = ["link_header", "page_headers", "set_page_headers"]


def link_header(request: Request, page: int, last: int) -> str:
    """Links to the first, previous, next and last pages of what `request` asked for."""
    # What `request.url.include_query_params(page=n)` gives, with the URL parsed once
    # rather than once per link: the other parameters in order, then `page`.
    url = request.url
    base = str(url.replace(query="")) + "?"
    if url.query:
        pairs = parse_qsl(url.query, keep_blank_values=True)
        kept = urlencode([(k, v) for k, v in pairs if k != "page"])
        if kept:
            base += kept + "&"

    def link(number: int, rel: str) -> str:
        return f'<{base}page={number}>; rel="{rel}"'

    links = [link(1, "first")]
    if page > 1:
        links.append(link(min(page - 1, last), "prev"))
    if page < last:
        links.append(link(page + 1, "next"))
    links.append(link(last, "last"))
    return ", ".join(links)


def page_headers(request: Request, page: int, limit: int, total: int) -> dict[str, str]:
    """`X-Total-Count` and `Link` for page `page` of `total` items, `limit` a page."""
    last = max(1, -(-total // limit))
    return {"X-Total-Count": str(total), "Link": link_header(request, page, last)}


def set_page_headers(
    request: Request, response: Response, page: int, limit: int, total: int
) -> None:
    """Put `page_headers` on `response`."""
    response.headers.update(page_headers(request, page, limit, total))
