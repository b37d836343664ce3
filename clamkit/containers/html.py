"""HTML as a container: the ``data:`` URIs (RFC 2397) of its links and sources.

Strategy: the reference turns each ``data:`` URI that is the value of an
attribute (of any tag; character references decoded, ``data:`` in lower
case and first) into a small mail (``From html-normalise``, the media type as
Content-type, ``Content-transfer-encoding: base64`` when the URI says
``;base64``) and scans that, so the chain of containers is HTML, mail, then
the decoded data.  The same mail is the member here, percent escapes of
plain URIs already decoded, as the reference writes them.  Tags and
attributes are read by the standard library's ``HTMLParser``, which skips
comments and script text as the reference's normaliser does.  Only the first
MaxHTMLNormalize bytes are looked at, as for the normalised views.  The
normalised views themselves are the matcher's business, not a container's.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from html.parser import HTMLParser

from clamkit.containers.base import Alert, Extraction, Member
from clamkit.containers.transfer import bounded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import (
    HEAD_SIZE,
    FileType,
    detect_file_type,
    refine_file_type,
    utf16le_as_ascii,
)

__all__ = ["FORMAT", "HtmlFormat", "data_uri_mails"]

_DATA_PREFIX = "data:"
_URI_MARKERS = (b"data:", b"data&", b"&#")
_BASE64_SUFFIX = b";base64"


class _DataUriCollector(HTMLParser):
    """Attribute values of real tags (not comments, not script text) that are ``data:`` URIs.

    The reference checks the value after decoding its character references
    and before anything else: ``DATA:`` or a leading blank is no URI.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.uris: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.uris += [v for _, v in attrs if v is not None and v.startswith(_DATA_PREFIX)]

    handle_startendtag = handle_starttag


def data_uri_mails(html: bytes) -> Iterator[bytes]:
    """The mail the reference writes for each ``data:`` URI in ``html``."""
    # Parsing is slow; a page that holds no "data:" even through a character
    # reference (no letter of it has a named one, ':' has "&colon;") has none.
    if not any(marker in html for marker in _URI_MARKERS):
        return
    collector = _DataUriCollector()
    # Latin-1 maps every byte to one character and back.
    collector.feed(html.decode("latin-1"))
    collector.close()
    for uri in collector.uris:
        media_type, _, payload_text = uri[len(_DATA_PREFIX) :].partition(",")
        media = media_type.strip().encode("latin-1")
        payload = payload_text.encode("latin-1")
        head = b"From html-normalise\nContent-type: " + media + b"\n"
        if media.lower().endswith(_BASE64_SUFFIX):
            head += b"Content-transfer-encoding: base64\n"
        else:
            payload = urllib.parse.unquote_to_bytes(payload)
        yield head + b"\n" + payload


class HtmlFormat:
    """HTML pages: ``CL_TYPE_HTML``, ASCII text found to be HTML once wholly read, UTF-16 HTML."""

    name = "html"
    # The reference scans a page's normalised views as one child object
    # (one level down, one file toward MaxFiles); the scanner accounts for it.
    normalised_views = True

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        if file_type is FileType.CL_TYPE_HTML_UTF16:
            return True
        # Plain text whose HTML tags come after the head is HTML on the reference too.
        return refine_file_type(file_type, data) is FileType.CL_TYPE_HTML

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        limit = extraction.options.max_htmlnormalize or len(data)
        page = bytes(data[:limit])
        if detect_file_type(page[:HEAD_SIZE], len(data)) is FileType.CL_TYPE_HTML_UTF16:
            # Read narrowed to one byte a unit, as the reference reads it.
            page = utf16le_as_ascii(page)
        for mail in data_uri_mails(page):
            member = bounded_member("rfc2397", mail, extraction)
            if member is None:
                return
            yield member


FORMAT = HtmlFormat()
