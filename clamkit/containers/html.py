"""HTML as a container: the ``data:`` URIs (RFC 2397) of its links and sources.

Strategy: the reference turns each ``data:`` URI in an ``href`` or ``src``
attribute into a small mail (``From html-normalise``, the media type as
Content-type, ``Content-transfer-encoding: base64`` when the URI says
``;base64``) and scans that, so the chain of containers is HTML, mail, then
the decoded data.  The same mail is the member here, percent escapes of
plain URIs already decoded, as the reference writes them.  Only the first
MaxHTMLNormalize bytes are looked at, as for the normalised views.  The
normalised views themselves are the matcher's business, not a container's.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator

from clamkit.containers.base import Alert, Extraction, Member
from clamkit.containers.transfer import bounded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType, refine_file_type

__all__ = ["FORMAT", "HtmlFormat", "data_uri_mails"]

_DATA_URI = re.compile(
    rb"""\b(?:href|src)[ \t\r\n]*=[ \t\r\n]*(?:"[ \t]*data:([^,"]*),([^"]*)"""
    rb"""|'[ \t]*data:([^,']*),([^']*)|data:([^,\s>]*),([^\s>]*))""",
    re.IGNORECASE,
)
_BASE64_SUFFIX = b";base64"


def data_uri_mails(html: bytes) -> Iterator[bytes]:
    """The mail the reference writes for each ``data:`` URI in ``html``."""
    for found in _DATA_URI.finditer(html):
        groups = found.groups()
        media_type, payload = next(
            (groups[i], groups[i + 1]) for i in (0, 2, 4) if groups[i] is not None
        )
        head = b"From html-normalise\nContent-type: " + media_type.strip() + b"\n"
        if media_type.lower().rstrip().endswith(_BASE64_SUFFIX):
            head += b"Content-transfer-encoding: base64\n"
        else:
            payload = urllib.parse.unquote_to_bytes(payload)
        yield head + b"\n" + payload


class HtmlFormat:
    """HTML pages (``CL_TYPE_HTML``, and ASCII text found to be HTML once wholly read)."""

    name = "html"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        # Plain text whose HTML tags come after the head is HTML on the reference too.
        return refine_file_type(file_type, data) is FileType.CL_TYPE_HTML

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        limit = extraction.options.max_htmlnormalize or len(data)
        for mail in data_uri_mails(bytes(data[:limit])):
            member = bounded_member("rfc2397", mail, extraction)
            if member is None:
                return
            yield member


FORMAT = HtmlFormat()
