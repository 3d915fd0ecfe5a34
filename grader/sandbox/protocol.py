"""Framing of the messages between the grader and a worker.

Each message is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON (an
object). Reading is bounded in size and in time: the size is checked against the cap before
a byte of the body is read, and one deadline covers the header and the whole body, however
slowly the other side drips its bytes. JSON with NaN or Infinity (literal or overflowing,
like ``1e999``) is refused. Both sides use these functions; the grader treats everything a
worker sends as hostile.

The JSON functions are bound when this module is imported (in the zygote, before any
student code runs), so a submission that replaces ``json.dumps`` or ``json.loads`` in its
worker changes nothing here.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import time

from grader.errors import ProtocolError

HEADER = struct.Struct(">I")
#: Largest message a worker may send (an answer with a 100,000-element array fits).
MAX_WORKER_MESSAGE = 8 * 1024 * 1024
#: Largest message the grader sends (hidden inputs and a submission of at most 1 MB).
MAX_GRADER_MESSAGE = 4 * 1024 * 1024
#: Largest read or write in one system call.
_CHUNK = 1 << 16

_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


class Timeout(ProtocolError):
    """The other side did not answer (or did not take a message) in time."""


class Closed(ProtocolError):
    """The other side closed the channel (the worker exited or was killed)."""


def _reject_constant(name: str):
    raise ValueError(f"invalid output: {name} is not allowed")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"invalid output: {text[:20]} is not a finite number")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def encode_message(message: dict) -> bytes:
    """A framed message."""
    body = _ENCODER.encode(message).encode("utf-8")
    return HEADER.pack(len(body)) + body


def _wait(fd: int, writing: bool, deadline: float | None) -> None:
    """Block until ``fd`` is ready (readable, or writable); :class:`Timeout` at the deadline.

    Without a deadline it waits as long as it takes.
    """
    left = None
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout("no answer in time" if not writing else "the other side does not read")
    if hasattr(select, "poll"):  # select() cannot watch descriptors above 1023
        poller = select.poll()
        poller.register(fd, select.POLLOUT if writing else select.POLLIN)
        ready = poller.poll(None if left is None else max(1, int(left * 1000)))
    else:  # pragma: no cover - systems without poll()
        lists = ([], [fd]) if writing else ([fd], [])
        ready = any(select.select(lists[0], lists[1], [], left)[:2])
    if not ready:
        raise Timeout("no answer in time" if not writing else "the other side does not read")


def write_message(fd: int, message: dict, *, deadline: float | None = None) -> None:
    """Write one framed message to a file descriptor.

    With a ``deadline`` (and a non-blocking descriptor) a reader that stops reading raises
    :class:`Timeout` instead of blocking the writer for ever.
    """
    data = memoryview(encode_message(message))
    while data:
        if deadline is not None:
            _wait(fd, True, deadline)
        try:
            written = os.write(fd, data[:_CHUNK])
        except BlockingIOError:
            _wait(fd, True, deadline)
            continue
        data = data[written:]


def read_message(fd: int, *, deadline: float | None = None, max_size: int = MAX_WORKER_MESSAGE) -> dict:
    """Read one framed message; :class:`Timeout` after ``deadline`` (a ``time.monotonic``)."""
    (length,) = HEADER.unpack(_read_exactly(fd, HEADER.size, deadline))
    if length > max_size:
        raise ProtocolError(f"message of {length} bytes exceeds the {max_size}-byte cap")
    body = _read_exactly(fd, length, deadline)
    try:
        message = _DECODER.decode(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"malformed message: {str(exc)[:200]}") from None
    if type(message) is not dict:
        raise ProtocolError("a message must be a JSON object")
    return message


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        if deadline is not None:
            _wait(fd, False, deadline)
        try:
            chunk = os.read(fd, min(remaining, _CHUNK))
        except BlockingIOError:
            _wait(fd, False, deadline)
            continue
        if not chunk:
            raise Closed("channel closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
