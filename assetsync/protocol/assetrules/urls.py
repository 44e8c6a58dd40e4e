"""URL syntax as Cloudflare's asset worker reads it, for ``_redirects`` and ``_headers`` alike.

Both files are parsed by workers-shared's ``validateUrl`` and matched on paths its ``decodePath``
and ``encodePath`` produce; those, and the JavaScript (``trim``, ``\\s``, ``decodeURIComponent``)
and WHATWG URL behaviour (dot segments, percent-encode sets) they rely on, are here once, so the
two files cannot read a URL two ways. Pure and I/O-free.
"""

from __future__ import annotations

import re
from urllib.parse import quote

# What JavaScript's String.prototype.trim and \s treat as whitespace (Python's str.isspace differs:
# it includes U+001C-U+001F and U+0085, and excludes U+FEFF).
JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_WS_RUN = re.compile(f"[{JS_WHITESPACE}]+")
_JS_TRIM = re.compile(f"^[{JS_WHITESPACE}]+|[{JS_WHITESPACE}]+$")


def js_trim(s: str) -> str:
    """``s.trim()`` as JavaScript does it."""
    return _JS_TRIM.sub("", s)


def js_split_whitespace(s: str) -> list[str]:
    """``s.split(/\\s+/)`` as JavaScript does it (``s`` already trimmed)."""
    return _JS_WS_RUN.split(s)


# WHATWG percent-encode sets, beyond C0 controls and everything above U+007E (always encoded).
PATH_ENCODE = frozenset(' "#<>?`{}')
QUERY_ENCODE = frozenset(' "#<>')
FRAGMENT_ENCODE = frozenset(' "<>`')


def pct_encode(s: str, extra: frozenset[str]) -> str:
    """Percent-encode C0 controls, DEL and non-ASCII (as UTF-8) and the characters in ``extra``."""
    out: list[str] = []
    for ch in s:
        o = ord(ch)
        if o < 0x20 or o >= 0x7F or ch in extra:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        else:
            out.append(ch)
    return "".join(out)


_PCT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_BAD_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _decode_run(m: re.Match[str]) -> str:
    return bytes.fromhex(m.group().replace("%", "")).decode("utf-8")


def decode_uri_component(s: str) -> str:
    """``decodeURIComponent(s)``, or ``s`` unchanged where JavaScript would throw (bad ``%``, bad UTF-8)."""
    if "%" not in s or _BAD_PCT.search(s):
        return s
    try:
        return _PCT_RUN.sub(_decode_run, s)
    except UnicodeDecodeError:
        return s


def decode_segments(text: str) -> str:
    """``decodeURIComponent`` on each ``/`` segment: an encoded ``/`` stays encoded."""
    return "/".join(decode_uri_component(seg) for seg in text.split("/"))


def decode_path(pathname: str) -> str:
    """The asset worker's ``decodePath``: decode each ``/`` segment, then collapse runs of ``/``."""
    return collapse_slashes(decode_segments(pathname))


_SLASHES = re.compile(r"/+")


def collapse_slashes(path: str) -> str:
    """Each run of ``/`` as one."""
    return _SLASHES.sub("/", path)


_URI_COMPONENT_SAFE = "!*'()"  # plus ASCII letters, digits and "_.-~", which quote never encodes


def encode_path(pathname: str) -> str:
    """The asset worker's ``encodePath``: ``encodeURIComponent`` on each ``/`` segment.

    Lone surrogates (where JavaScript would throw and keep the segment raw) are encoded as if they
    were valid code points, so the result is always ASCII and fit for a ``Location`` header.
    """
    return "/".join(
        quote(seg, safe=_URI_COMPONENT_SAFE, encoding="utf-8", errors="surrogatepass")
        for seg in pathname.split("/")
    )


def split_reference(s: str) -> tuple[str, str | None, str | None]:
    """Split a URL reference into path, query (without ``?``) and fragment (without ``#``)."""
    fragment: str | None = None
    hash_at = s.find("#")
    if hash_at != -1:
        s, fragment = s[:hash_at], s[hash_at + 1 :]
    query: str | None = None
    q_at = s.find("?")
    if q_at != -1:
        s, query = s[:q_at], s[q_at + 1 :]
    return s, query, fragment


_SINGLE_DOT = frozenset({".", "%2e"})
_DOUBLE_DOT = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})


def normalize_path(path: str, *, special: bool = True) -> str:
    """A WHATWG URL path: dot segments (also ``%2e`` forms) resolved, the path set percent-encoded.

    ``special=False`` is a non-special scheme's path, where Node's URL (the parser wrangler runs)
    leaves a path emptied by ``..`` empty: ``relative:///..`` has the pathname ``""``, not ``"/"``.
    """
    segments = path.split("/")[1:] if path.startswith("/") else path.split("/")
    out: list[str] = []
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        low = seg.lower()
        if low in _DOUBLE_DOT:
            popped = bool(out)
            if popped:
                out.pop()
            if i == last and (special or popped):
                out.append("")
        elif low in _SINGLE_DOT:
            if i == last:
                out.append("")
        else:
            out.append(pct_encode(seg, PATH_ENCODE))
    return "/" + "/".join(out) if out or special else ""


def request_pathname(raw: bytes) -> str:
    """``new URL(request.url).pathname`` for a request target's raw path bytes.

    As the WHATWG URL parser does for an ``http(s)`` URL: ``\\`` is a ``/``, dot segments (also
    ``%2e`` forms) are resolved, and bytes outside printable ASCII plus the path percent-encode set
    are percent-encoded, byte by byte (so bytes that are not UTF-8 stay as their own ``%XX``).
    """
    text = "".join(chr(b) if 0x20 < b < 0x7F else f"%{b:02X}" for b in raw.replace(b"\\", b"/"))
    return normalize_path(text or "/")


_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")


def extract_pathname(path: str, include_search: bool, include_hash: bool) -> str:
    """workers-shared ``extractPathname``: ``new URL("//" + path, "relative://")``'s path (+search/hash)."""
    if not path.startswith("/"):
        path = "/" + path
    path = path.rstrip(_C0_OR_SPACE).translate(_TAB_NEWLINE)
    p, query, fragment = split_reference(path)
    out = normalize_path(p, special=False)
    if include_search and query:
        out += "?" + pct_encode(query, QUERY_ENCODE)
    if include_hash and fragment:
        out += "#" + pct_encode(fragment, FRAGMENT_ENCODE)
    return out


_URL_WITH_HOST = re.compile(r"https://+(?P<host>[^/]+)/?(?P<path>.*)", re.DOTALL)
_HOST_WITH_PORT = re.compile(r".*:[0-9]+", re.DOTALL)


def url_has_host(token: str) -> bool:
    """workers-shared ``urlHasHost``: does the token start ``https://`` followed by a host?"""
    return _URL_WITH_HOST.match(token) is not None


def validate_url(
    token: str,
    *,
    only_relative: bool,
    disallow_ports: bool,
    include_search: bool = False,
    include_hash: bool = False,
) -> tuple[str | None, str]:
    """workers-shared ``validateUrl``: ``(normalised, "")`` or ``(None, error message)``."""
    m = _URL_WITH_HOST.match(token)
    if m is not None:
        host = m.group("host")
        if only_relative:
            return None, f"Only relative URLs are allowed. Skipping absolute URL {token}."
        if disallow_ports and _HOST_WITH_PORT.fullmatch(host):
            return None, f"Specifying ports is not supported. Skipping absolute URL {token}."
        return f"https://{host}{extract_pathname(m.group('path'), include_search, include_hash)}", ""
    if not token.startswith("/") and only_relative:
        token = "/" + token
    if token.startswith("/"):
        return extract_pathname(token, include_search, include_hash), ""
    if only_relative:
        return None, "URLs should begin with a forward-slash."
    return None, (
        "URLs should either be relative (e.g. begin with a forward-slash), "
        'or use HTTPS (e.g. begin with "https://").'
    )


def request_hostname(host: str | None) -> str | None:
    """The ``hostname`` of a ``Host`` value: lower-cased, without its port."""
    if host is None:
        return None
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() and port.isascii() else host


def origin_host(host: str | None) -> str | None:
    """The host and port of an ``https`` origin for a ``Host`` value (``:443`` dropped)."""
    if host is None:
        return None
    host = host.strip().lower()
    return host[:-4] if host.endswith(":443") else host


def search_string(query: str) -> str:
    """``URL.search`` for a raw query string given with or without its ``?``: ``""`` when empty."""
    if query.startswith("?"):
        query = query[1:]
    return "?" + pct_encode(query, QUERY_ENCODE) if query else ""
