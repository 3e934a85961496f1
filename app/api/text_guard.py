"""One gate for every string a request carries: no NUL, other C0 controls, DEL or C1 controls.

PostgreSQL cannot store NUL in ``text`` (the statement fails, which was a 500 on
every field that no model checked: the login e-mail, ``?number=%00``), and the
other controls have no business in a help desk's texts. Checking each model's
fields one by one forgets some; this middleware checks the path, the query
string, the headers and every string (keys included) of a JSON body before any
route runs, and answers 422 with the usual problem body. Tab, line feed and
carriage return are allowed in bodies (they are how texts are written).

Multipart bodies are not buffered here: their JSON ``payload`` part is checked
with :func:`forbidden_in` by ``api/body.py``, and file names are sanitised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""C0 controls but tab, LF and CR; DEL; C1 controls."""

# A JSON text can only carry a forbidden character as a \\u escape, a raw DEL or a raw
# (UTF-8 encoded) C1 control: bodies without any of these need no parsing here.
_SUSPECT_JSON = re.compile(
    rb"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\u00[89][0-9a-fA-F]|\x7f|\xc2[\x80-\x9f]"
)

MAX_BUFFERED = 1024 * 1024
"""JSON bodies are bounded by ``BodyLimitMiddleware`` (outside this one) to this size; a
route it exempts (the bulk import) gets a larger body unbuffered and checks it itself."""


def forbidden_in(value: str) -> bool:
    """Whether ``value`` holds a control character a stored text may not hold."""
    return bool(_FORBIDDEN.search(value))


def _walk(value: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, str):
        if forbidden_in(value):
            yield loc
    elif isinstance(value, dict):
        for key, item in value.items():
            if forbidden_in(key):
                yield (*loc, key.encode("unicode_escape").decode("ascii"))
            else:
                yield from _walk(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, (*loc, i))


def json_issues(raw: bytes, loc: tuple[str | int, ...] = ("body",)) -> list[tuple[str | int, ...]]:
    """The places in a JSON document that hold a forbidden character (none if not JSON)."""
    if not _SUSPECT_JSON.search(raw):
        return []
    try:
        document = json.loads(raw)
    except ValueError:
        return []  # not JSON: the route's own parsing answers 400
    return list(_walk(document, loc))[:20]


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _query_issues(query: bytes) -> list[tuple[str | int, ...]]:
    issues: list[tuple[str | int, ...]] = []
    for pair in query.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        name_text = _decode(unquote_to_bytes(name.replace(b"+", b" ")))
        value_text = _decode(unquote_to_bytes(value.replace(b"+", b" ")))
        if forbidden_in(name_text):
            issues.append(("query", name_text.encode("unicode_escape").decode("ascii")))
        elif forbidden_in(value_text):
            issues.append(("query", name_text))
    return issues


def request_issues(scope: Scope) -> list[tuple[str | int, ...]]:
    """The places outside the body (path, query, headers) holding a forbidden character."""
    issues: list[tuple[str | int, ...]] = []
    if forbidden_in(str(scope.get("path", ""))):
        issues.append(("path",))
    issues.extend(_query_issues(scope.get("query_string", b"")))
    for name, value in scope.get("headers", []):
        if forbidden_in(_decode(value)):
            issues.append(("header", name.decode("latin-1")))
    return issues


def _replaying(first: Message, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()

    return replay


class ControlCharacterMiddleware:
    """Refuses (422) a request whose path, query, headers or JSON body holds a control."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        issues = request_issues(scope)
        if issues:
            await self._refuse(scope, receive, send, issues)
            return
        content_type = b""
        for name, value in scope.get("headers", []):
            if name == b"content-type":
                content_type = value.lower()
                break
        if not (content_type.startswith(b"application/json") or b"+json" in content_type):
            await self.app(scope, receive, send)
            return
        # Buffer the JSON body (bounded outside by BodyLimitMiddleware), check it, replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away: let the app see that.
                await self.app(scope, _replaying(message, receive), send)
                return
            body = message.get("body", b"")
            size += len(body)
            if size > MAX_BUFFERED:
                # Only a route that bounds a larger body itself gets here (BodyLimitMiddleware
                # exempts the bulk import, which checks its JSON with json_issues): pass the
                # body on whole, from what was buffered, and stream the rest.
                first = {
                    "type": "http.request",
                    "body": b"".join(chunks) + body,
                    "more_body": message.get("more_body", False),
                }
                await self.app(scope, _replaying(first, receive), send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        body_issues = json_issues(raw)
        if body_issues:
            await self._refuse(scope, receive, send, body_issues)
            return
        message = {"type": "http.request", "body": raw, "more_body": False}
        await self.app(scope, _replaying(message, receive), send)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, issues: list[tuple[str | int, ...]]
    ) -> None:
        from app.api.problems import problem_response

        response = problem_response(
            Request(scope),
            422,
            slug="validation-error",
            title="Validation error",
            detail="The request is not valid; see errors.",
            errors=[
                {
                    "loc": list(loc),
                    "msg": "control characters are not allowed",
                    "type": "value_error",
                }
                for loc in issues
            ],
        )
        await response(scope, receive, send)
