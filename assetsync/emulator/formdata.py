"""Streaming multipart/form-data for the emulator: parts are handed on as the bytes arrive.

python-multipart does the parsing (a push parser: memory stays bounded whatever the body size);
this module adds the request plumbing, the body-size cap, and clear 4xx errors for malformed
bodies. :func:`read_form` collects small forms (deploy metadata and modules) in memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from .envelope import BAD_REQUEST, BODY_TOO_LARGE, ApiError


class PartSink(Protocol):
    """Receives one part at a time: its headers, its body in pieces, then its end."""

    def begin(self, name: str, filename: str | None, content_type: str | None) -> None: ...
    def data(self, chunk: memoryview) -> None: ...
    def end(self) -> None: ...


def boundary_of(request: Request) -> bytes:
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise ApiError(
            400, BAD_REQUEST, "expected a multipart/form-data body with a boundary (Content-Type header)"
        )
    return params[b"boundary"]


# form-data; name="x"  or  form-data; name="x"; filename="y", with no quotes or escapes inside
_SIMPLE_DISPOSITION = re.compile(rb'form-data; name="([^"\\]*)"(?:; filename="([^"\\]*)")?')


class _Driver:
    """Adapts python-multipart's callbacks to a :class:`PartSink`."""

    def __init__(self, sink: PartSink) -> None:
        self.sink = sink
        self.headers: dict[bytes, bytes] = {}
        self.field = b""
        self.value = b""
        self.parts = 0
        self.open = False

    def on_part_begin(self) -> None:
        self.headers = {}
        self.open = True

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.field.strip().lower()] = self.value.strip()
        self.field = self.value = b""

    def on_headers_finished(self) -> None:
        raw = self.headers.get(b"content-disposition", b"")
        fast = _SIMPLE_DISPOSITION.fullmatch(raw)
        if fast is not None:  # the layout every client sends: no need for the general parser
            name = fast.group(1).decode("utf-8", "replace")
            filename = fast.group(2).decode("utf-8", "replace") if fast.group(2) is not None else None
            raw_type = self.headers.get(b"content-type")
            self.sink.begin(name, filename, raw_type.decode("latin-1") if raw_type else None)
            return
        disposition, params = parse_options_header(raw)
        if disposition != b"form-data" or b"name" not in params:
            raise ApiError(
                400, BAD_REQUEST, f"part {self.parts + 1}: missing Content-Disposition: form-data; name=..."
            )
        name = params[b"name"].decode("utf-8", "replace")
        filename = params[b"filename"].decode("utf-8", "replace") if b"filename" in params else None
        raw_type = self.headers.get(b"content-type")
        self.sink.begin(name, filename, raw_type.decode("latin-1") if raw_type else None)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.sink.data(memoryview(data)[start:end])

    def on_part_end(self) -> None:
        self.parts += 1
        self.open = False
        self.sink.end()


async def stream_form(request: Request, sink: PartSink, max_body: int) -> int:
    """Feed the request's multipart body to ``sink``; returns the number of parts.

    Bodies over ``max_body`` bytes are refused with 413 (before reading, when Content-Length
    says so). A body that does not parse is a 400 naming what is wrong.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise ApiError(
            413,
            BODY_TOO_LARGE,
            f"request body of {int(declared):,} bytes is over the {max_body:,}-byte limit",
        )
    driver = _Driver(sink)
    callbacks = {
        "on_part_begin": driver.on_part_begin,
        "on_header_field": driver.on_header_field,
        "on_header_value": driver.on_header_value,
        "on_header_end": driver.on_header_end,
        "on_headers_finished": driver.on_headers_finished,
        "on_part_data": driver.on_part_data,
        "on_part_end": driver.on_part_end,
    }
    seen = 0
    try:
        parser = MultipartParser(boundary_of(request), callbacks, max_header_size=16384)  # type: ignore[arg-type]
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > max_body:
                raise ApiError(413, BODY_TOO_LARGE, f"request body is over the {max_body:,}-byte limit")
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:  # the parser's errors, a boundary over 256 bytes among them
        raise ApiError(400, BAD_REQUEST, f"malformed multipart body: {exc}") from None
    if driver.open:
        raise ApiError(400, BAD_REQUEST, f"malformed multipart body: part {driver.parts + 1} is cut short")
    if driver.parts == 0:
        raise ApiError(
            400, BAD_REQUEST, "malformed multipart body: no parts (is the closing boundary missing?)"
        )
    return driver.parts


@dataclass(slots=True)
class FormPart:
    name: str
    filename: str | None
    content_type: str | None
    body: bytearray = field(default_factory=bytearray)


class _Collector:
    def __init__(self) -> None:
        self.parts: list[FormPart] = []

    def begin(self, name: str, filename: str | None, content_type: str | None) -> None:
        self.parts.append(FormPart(name, filename, content_type))

    def data(self, chunk: memoryview) -> None:
        self.parts[-1].body += chunk

    def end(self) -> None:
        pass


async def read_form(request: Request, max_body: int) -> list[FormPart]:
    """All parts of a (small) multipart body, in order."""
    collector = _Collector()
    await stream_form(request, collector, max_body)
    return collector.parts
