"""Framing of the messages between the grader and a worker.

Each message is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON (an
object). Reading is bounded in size and in time; JSON with NaN or Infinity is refused.
Both sides use these functions; the grader treats everything a worker sends as hostile.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time

from .errors import ProtocolError

HEADER = struct.Struct(">I")
#: Largest message a worker may send (an answer with a 100,000-element array fits).
MAX_WORKER_MESSAGE = 8 * 1024 * 1024
#: Largest message the grader sends (hidden inputs and a submission of at most 1 MB).
MAX_GRADER_MESSAGE = 4 * 1024 * 1024


class Timeout(ProtocolError):
    """The other side did not answer in time."""


class Closed(ProtocolError):
    """The other side closed the channel (the worker exited or was killed)."""


def _reject_constant(name: str):
    raise ValueError(f"invalid output: {name} is not allowed")


def encode_message(message: dict) -> bytes:
    """A framed message."""
    body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return HEADER.pack(len(body)) + body


def write_message(fd: int, message: dict) -> None:
    """Write one framed message to a file descriptor (blocking)."""
    data = memoryview(encode_message(message))
    while data:
        written = os.write(fd, data)
        data = data[written:]


def read_message(fd: int, *, deadline: float | None = None, max_size: int = MAX_WORKER_MESSAGE) -> dict:
    """Read one framed message; :class:`Timeout` after ``deadline`` (a ``time.monotonic``)."""
    (length,) = HEADER.unpack(_read_exactly(fd, HEADER.size, deadline))
    if length > max_size:
        raise ProtocolError(f"message of {length} bytes exceeds the {max_size}-byte cap")
    body = _read_exactly(fd, length, deadline)
    try:
        message = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
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
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("no answer in time")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise Timeout("no answer in time")
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise Closed("channel closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
