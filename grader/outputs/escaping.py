"""Student-controlled text made safe for each format it lands in.

Every string a student controls (file and member names, notebook lines, exception messages,
type names) passes through one of these on its way into an output:

========================= ===========================================================
:func:`md_text`           Markdown (the student's report, Gradescope's ``md`` outputs,
                          the summary): one line, every Markdown and HTML character
                          escaped, so nothing renders as a heading, a link, an image,
                          emphasis, a table cell or raw HTML
:func:`md_code`           a file name in Markdown: one line in a code span whose fence
                          no backtick in the name can close
:func:`terminal_text`     the terminal: one line, no control characters (no escapes)
:func:`html_text`         text an LMS renders as HTML (Moodle's feedback comments): one
                          line, ``& < >`` as character references, so no tag, image,
                          script or entity a student wrote renders (quotes stay: the text
                          is element content, never an attribute value)
:func:`csv_cell`          every CSV cell of text a student controls (never the LMS's own
                          identifiers and cells, which its import matches: see
                          ``canvas`` and ``moodle``): a cell that a spreadsheet would
                          read as a formula (it starts with ``=``, ``+``, ``-``, ``@``,
                          a tab or a carriage return) gets a leading ``'``, as the OWASP
                          "CSV Injection" guidance describes; plain numbers stay numbers
:func:`quoted_error`      exception text from student code, quoted in feedback: capped,
                          one line, with host details (absolute paths, account records,
                          addresses, the host's name) replaced by placeholders
========================= ===========================================================

The summary's HTML escapes its cells with :func:`html.escape` where it is built.
"""

from __future__ import annotations

import html
import re
import socket

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#!&{}])")
#: The first characters that make a spreadsheet evaluate a cell (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$")


def one_line(text: object, limit: int | None = None) -> str:
    """Printable text on one line: newlines and control characters become single spaces."""
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if not text.isprintable():  # (most text is: then this per-character pass is not needed)
        text = "".join(c if c.isprintable() else " " for c in text)
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 3)] + "..."
    return text


def md_escape(text: str) -> str:
    """Text shown literally in Markdown: feedback quotes student output (exception messages,
    type names), which must never render as links, images, HTML or emphasis."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def md_text(text: object, limit: int | None = None) -> str:
    """Student-controlled text as one literal line of Markdown."""
    return md_escape(one_line(text, limit))


def md_code(text: object, limit: int | None = None) -> str:
    """Student-controlled text as one Markdown code span: nothing inside renders (no HTML, no
    emphasis); the fence is one backtick longer than any run of backticks in the text."""
    text = one_line(text, limit)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def terminal_text(text: object, limit: int | None = None) -> str:
    """Student-controlled text for the terminal: one line, no escape sequences."""
    return one_line(text, limit)


def html_text(text: object, limit: int | None = None) -> str:
    """Text as one literal line of HTML (Moodle renders feedback comments as HTML)."""
    return html.escape(one_line(text, limit), quote=False)


def csv_cell(value: object) -> object:
    """A CSV cell that no spreadsheet evaluates: text starting with ``= + - @``, a tab or a
    carriage return gets a leading apostrophe; numbers (also ``-1.5``) are left as they are,
    so LMS imports still read their grades."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.match(text):
        return "'" + text
    return text


def csv_row(values) -> list:
    """:func:`csv_cell` of every cell of a row."""
    return [csv_cell(v) for v in values]


# ---------------------------------------------------------------------------
# Exception text from student code
# ---------------------------------------------------------------------------

#: ``name:x:1000:1000:...`` (passwd), ``name:x:27:...`` (group) and shadow-like records.
_ACCOUNT = re.compile(r"[\w.-]*:[^:\s]*:\d+:(?:\d+:)?[^\s]*")
#: Absolute POSIX paths (``/etc/passwd``, ``/proc/1/cmdline``, mount points, home folders).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~/-])/[^\s'\"`,;:()\[\]{}<>|]+")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_IPV6 = re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b")
_MAC = re.compile(r"\b(?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}\b")


def _host_names() -> tuple[str, ...]:
    try:
        names = {socket.gethostname(), socket.getfqdn()}
    except OSError:
        return ()
    return tuple(sorted((n for n in names if n and len(n) >= 4 and n != "localhost"), key=len, reverse=True))


_HOST_NAMES = _host_names()  # read once, at import: the trusted side's own host


def strip_host_details(text: str) -> str:
    """``text`` without what student code could only have read from the host: absolute paths
    (and so file contents quoted with their names, mount tables, process command lines),
    account records, network addresses and the host's name become placeholders."""
    text = _ACCOUNT.sub("<account record>", text)
    text = _MAC.sub("<address>", text)
    text = _IPV6.sub("<address>", text)
    text = _ABSOLUTE_PATH.sub("<path>", text)
    text = _IPV4.sub("<address>", text)
    for name in _HOST_NAMES:
        text = re.sub(re.escape(name), "<host>", text, flags=re.IGNORECASE)
    return text


def quoted_error(text: object, limit: int) -> str:
    """Exception text from student code, safe to quote in feedback: one line, host details
    stripped, at most ``limit`` characters."""
    return one_line(strip_host_details(one_line(text)), limit)
