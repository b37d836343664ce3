"""Container formats: archives, compressions, encodings and documents.

Each format is one module exposing one ``ContainerFormat`` object (see
``base``).  ``FORMATS`` lists them in the order the scanner tries them, each
with the ``ScanOptions`` switch that gates it: the reference stops opening
archives and compressions under ``ScanArchive no`` but still decodes mail,
HTML, PDF, OLE2 and TNEF, each under its own switch.
"""

from clamkit.containers import (
    ar,
    arj,
    binhex,
    bzip2,
    cab,
    chm,
    cpio,
    embedded,
    gzip,
    html,
    iso9660,
    lha,
    mail,
    nsis,
    ole2,
    onenote,
    partitions,
    pdf,
    rawstreams,
    rtf,
    screnc,
    sevenzip,
    sis,
    szdd,
    tar,
    tnef,
    upx,
    uuencode,
    xz,
    zip,
)
from clamkit.containers.base import ContainerFormat

__all__ = ["FORMATS", "Registered"]

Registered = tuple[ContainerFormat, str | None]
"""A format and the name of the ``ScanOptions`` field that must be true to
open it (None: no switch governs it, it is always opened)."""

# To register a format, append ``(module.FORMAT, "scan_<switch>")``.
FORMATS: tuple[Registered, ...] = (
    (zip.FORMAT, "scan_archive"),
    (gzip.FORMAT, "scan_archive"),
    (bzip2.FORMAT, "scan_archive"),
    (xz.FORMAT, "scan_archive"),
    # Read by clamkit only: the reference has no reader for these three.
    (rawstreams.ZSTD_FORMAT, "scan_archive"),
    (rawstreams.LZMA_ALONE_FORMAT, "scan_archive"),
    (ar.FORMAT, "scan_archive"),
    (tar.FORMAT, "scan_archive"),
    (cpio.FORMAT, "scan_archive"),
    (sevenzip.FORMAT, "scan_archive"),
    (iso9660.FORMAT, "scan_archive"),
    (partitions.MBR_FORMAT, "scan_archive"),
    (partitions.GPT_FORMAT, "scan_archive"),
    (partitions.APM_FORMAT, "scan_archive"),
    (nsis.FORMAT, "scan_archive"),
    (upx.FORMAT, "scan_pe"),
    (embedded.PE_FORMAT, "scan_pe"),
    (embedded.SFX_FORMAT, "scan_archive"),
    (mail.FORMAT, "scan_mail"),
    # The reference decodes uuencoded files whatever ScanMail and ScanArchive say.
    (uuencode.FORMAT, None),
    (binhex.FORMAT, "scan_archive"),
    (rtf.FORMAT, "scan_archive"),
    (pdf.FORMAT, "scan_pdf"),
    (ole2.FORMAT, "scan_ole2"),
    (tnef.FORMAT, "scan_mail"),
    (html.FORMAT, "scan_html"),
    (onenote.FORMAT, "scan_onenote"),
    # Decoded on the reference whatever ScanHTML and ScanArchive say.
    (screnc.FORMAT, None),
    (arj.FORMAT, "scan_archive"),
    (cab.FORMAT, "scan_archive"),
    (chm.FORMAT, "scan_archive"),
    (lha.FORMAT, "scan_archive"),
    (sis.FORMAT, "scan_archive"),
    (szdd.FORMAT, "scan_archive"),
)
