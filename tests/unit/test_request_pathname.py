"""The pathname the preview works on: what the platform's URL parser makes of a request target."""

from __future__ import annotations

import pytest

from assetsync.protocol.assetrules.urls import request_pathname


@pytest.mark.parametrize(
    ("raw", "pathname"),
    [
        (b"/[boop]", "/[boop]"),  # kept: the worker, not the parser, redirects it
        (b"/%5Bboop%5D", "/%5Bboop%5D"),
        (b"/\xc3\xa9 x", "/%C3%A9%20x"),  # raw UTF-8 and a space: percent-encoded byte by byte
        (b"/\xa0", "/%A0"),  # a byte that is not UTF-8 stays that byte
        (b'/a"<>`{}', "/a%22%3C%3E%60%7B%7D"),
        (b"/blog/../test", "/test"),
        (b"/blog/%2E%2E/test", "/test"),
        (b"/a/./b/.", "/a/b/"),
        (b"/a\\b", "/a/b"),
        (b"", "/"),
        (b"/%2F/x", "/%2F/x"),  # an encoded slash is no separator for the parser
    ],
)
def test_request_pathname_is_what_the_url_parser_gives(raw: bytes, pathname: str) -> None:
    assert request_pathname(raw) == pathname
