"""Workers KV's rules, as code, once: its limits, error codes, API paths and what it refuses.

The facts come from the platform's public docs and SDK schemas (key at most 512 bytes, value at
most 25 MiB, metadata at most 1024 bytes serialized, expirations at least 60 s ahead, lists of at
most 1000 keys, 10,000 pairs per bulk request) and, for the wording of refusals, from the messages
the platform's KV answers with (miniflare's KV validator restates them). The emulator's store and
REST routes check with these functions, so the binding a Worker reads through and the REST API
refuse the same things with the same words.

Pure values and checks: no I/O.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from . import BAD_REQUEST, BODY_TOO_LARGE

# -- limits ----------------------------------------------------------------------------------------

MAX_KEY_BYTES = 512  # a key's UTF-8 length
MAX_VALUE_BYTES = 25 * 1024 * 1024  # 26,214,400; exactly this size is allowed
MAX_METADATA_BYTES = 1024  # the metadata's JSON serialization
MIN_EXPIRATION_TTL = 60  # seconds; an absolute expiration must be this far ahead too
MAX_LIST_KEYS = 1000  # per page of a key listing, and its default
MIN_REST_LIST_KEYS = 10  # the REST listing's `limit` floor (the API schema's minimum)
MAX_TITLE_CHARS = 512  # a namespace's title
MAX_BULK_PAIRS = 10_000  # pairs (or keys) in one bulk write (or delete)
MAX_BULK_BODY = 100 * 1000 * 1000  # "the entire request size must be less than 100 megabytes"
MAX_BULK_GET_KEYS = 100

# -- error codes of the API's envelope ----------------------------------------------------------------

KEY_NOT_FOUND = 10009  # "get: 'key not found'"
NAMESPACE_NOT_FOUND = 10013  # "get: 'namespace not found'" (and put:, remove key:, list keys: ...)
TITLE_EXISTS = 10014  # "a namespace with this account ID and title already exists" (HTTP 400)


class KvError(ValueError):
    """A KV request refused: HTTP status, envelope code, and the platform's message."""

    def __init__(self, status: int, message: str, code: int = BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# -- paths, relative to the API base ----------------------------------------------------------------


def kv_path(account: str, namespace: str | None = None) -> str:
    """The account's KV namespaces, or one of them (``/values/{key}``, ``/keys``, ``/bulk`` below it)."""
    base = f"/accounts/{account}/storage/kv/namespaces"
    return f"{base}/{namespace}" if namespace is not None else base


# -- checks ------------------------------------------------------------------------------------------


def check_key(key: str, what: str = "Key") -> bytes:
    """``key`` as UTF-8, or the platform's refusal: empty, ``.`` or ``..``, over 512 bytes (414)."""
    if key == "":
        raise KvError(400, f"{what} names must not be empty")
    if key in (".", ".."):
        raise KvError(400, f'Illegal key name "{key}". Please use a different name.')
    return check_key_length(key)


def check_key_length(key: str) -> bytes:
    """``key`` (or a listing's prefix) as UTF-8, if it fits in a key's 512 bytes."""
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError:
        raise KvError(400, f"the key {key!r} is not valid UTF-8 (it holds a lone surrogate)") from None
    if len(raw) > MAX_KEY_BYTES:
        raise KvError(414, f"UTF-8 encoded length of {len(raw)} exceeds key length limit of {MAX_KEY_BYTES}.")
    return raw


def check_value_size(size: int) -> None:
    if size > MAX_VALUE_BYTES:
        raise KvError(413, f"Value length of {size} exceeds limit of {MAX_VALUE_BYTES}.", BODY_TOO_LARGE)


def metadata_json(metadata: Any) -> str | None:
    """The metadata as the compact JSON stored with a key (None: no metadata), at most 1024 bytes."""
    if metadata is None:
        return None
    try:
        text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise KvError(400, f"metadata must be JSON ({exc})") from None
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise KvError(400, "metadata must be valid UTF-8 (it holds a lone surrogate)") from None
    if size > MAX_METADATA_BYTES:
        raise KvError(
            413, f"Metadata length of {size} exceeds limit of {MAX_METADATA_BYTES}.", BODY_TOO_LARGE
        )
    return text


_INTEGER = re.compile(r"-?[0-9]+")


def _whole(raw: Any) -> int | None:
    """A count of seconds as a request gives it (an int, an integral float, or decimal digits)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if math.isfinite(raw) and raw.is_integer() else None
    if isinstance(raw, str):
        text = raw.strip()
        if _INTEGER.fullmatch(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if math.isfinite(number) and number.is_integer() else None
    return None


def expiration_of(now: float, expiration: Any = None, expiration_ttl: Any = None) -> int | None:
    """The absolute expiration (unix seconds) a write asks for, or None for a key that never
    expires. ``expiration_ttl`` wins over ``expiration`` when both are given, as on the platform;
    each must put the expiry at least 60 s after ``now``."""
    at = int(now)
    if expiration_ttl is not None:
        ttl = _whole(expiration_ttl)
        if ttl is None or ttl <= 0:
            raise KvError(
                400, f"Invalid expiration_ttl of {expiration_ttl}. Please specify integer greater than 0."
            )
        if ttl < MIN_EXPIRATION_TTL:
            raise KvError(
                400,
                f"Invalid expiration_ttl of {expiration_ttl}. "
                f"Expiration TTL must be at least {MIN_EXPIRATION_TTL}.",
            )
        return at + ttl
    if expiration is None:
        return None
    when = _whole(expiration)
    if when is None or when <= at:
        raise KvError(
            400,
            f"Invalid expiration of {expiration}. Please specify integer greater than the current "
            "number of seconds since the UNIX epoch.",
        )
    if when < at + MIN_EXPIRATION_TTL:
        raise KvError(
            400,
            f"Invalid expiration of {expiration}. "
            f"Expiration times must be at least {MIN_EXPIRATION_TTL} seconds in the future.",
        )
    return when


def list_limit(raw: Any, minimum: int = 1) -> int:
    """A listing's page size: ``raw`` (None: the default, 1000) checked to be ``minimum``-1000."""
    if raw is None or raw == "":
        return MAX_LIST_KEYS
    limit = _whole(raw)
    if limit is None or limit < minimum or limit > MAX_LIST_KEYS:
        raise KvError(
            400, f"Invalid limit of {raw}. Please specify an integer from {minimum} to {MAX_LIST_KEYS}."
        )
    return limit


def check_title(title: Any) -> str:
    """A namespace title: a non-empty string of at most 512 characters."""
    if not isinstance(title, str) or not title.strip():
        raise KvError(400, 'a namespace needs a title: send {"title": "..."} (a non-empty string)')
    if len(title) > MAX_TITLE_CHARS:
        raise KvError(400, f"the title is {len(title)} characters, over the limit of {MAX_TITLE_CHARS}")
    return title
