"""Cloudflare's JSON envelope, for every answer of the emulated API, errors included.

``{"success": bool, "errors": [{"code", "message"}], "messages": [], "result": ...}``. Handlers
raise :class:`ApiError`; the app turns it (and anything unexpected) into an envelope, so a
client never sees HTML or a bare 500 from us.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from ..protocol import (  # the API's codes (PROTOCOL.md section 6), re-exported for the emulator
    AUTH_ERROR,
    BAD_REQUEST,
    BODY_TOO_LARGE,
    DISPATCH_SCRIPT_NOT_FOUND,
    INVALID_SCRIPT_NAME,
    METHOD_NOT_ALLOWED,
    NO_ROUTE,
    SCRIPT_NOT_FOUND,
    SERVICE_NOT_FOUND,
    TOO_MANY_FILES,
    UNKNOWN_ERROR,
    UPLOAD_TOKEN_INVALID,
)

__all__ = [
    "AUTH_ERROR",
    "BAD_REQUEST",
    "BODY_TOO_LARGE",
    "DISPATCH_SCRIPT_NOT_FOUND",
    "INVALID_SCRIPT_NAME",
    "METHOD_NOT_ALLOWED",
    "NO_ROUTE",
    "SCRIPT_NOT_FOUND",
    "SERVICE_NOT_FOUND",
    "TOO_MANY_FILES",
    "UNKNOWN_ERROR",
    "UPLOAD_TOKEN_INVALID",
    "URL_TOO_LONG",
    "HEADERS_TOO_LARGE",
    "ApiError",
    "envelope",
    "error_response",
]

# Cloudflare's edge answers an over-long URL (414) or oversized headers (431) before the API sees
# the request, with a page of its own; the emulator answers with an envelope, under codes of its own.
URL_TOO_LONG = 10028
HEADERS_TOO_LARGE = 10029


class ApiError(Exception):
    """An error answer: HTTP status, Cloudflare error code, and a message for a person."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def envelope(result: Any = None, status: int = 200, extra: dict[str, Any] | None = None) -> Response:
    """A successful envelope around ``result``."""
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if extra:
        body.update(extra)
    return Response(_dump(body), status, media_type="application/json")


def error_response(err: ApiError) -> Response:
    body = {
        "success": False,
        "errors": [{"code": err.code, "message": err.message}],
        "messages": [],
        "result": None,
    }
    return Response(_dump(body), err.status, media_type="application/json")


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
