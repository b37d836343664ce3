"""Uuencoded files as containers: every ``begin`` ... ``end`` block is a member.

Strategy: ClamAV types a file that starts with ``begin `` as uuencoded and
decodes it whatever scan options are set (no clamd.conf switch governs it);
the blocks are found and decoded by ``transfer``.
"""

from __future__ import annotations

from collections.abc import Iterator

from clamkit.containers.base import Alert, Extraction, Member
from clamkit.containers.transfer import bounded_member, find_uuencoded
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

__all__ = ["FORMAT", "UuencodedFormat"]


class UuencodedFormat:
    """Files typed ``CL_TYPE_UUENCODED``."""

    name = "uuencoded"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_UUENCODED

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        for name, decoded in find_uuencoded(bytes(data)):
            member = bounded_member(name, decoded, extraction)
            if member is None:
                return
            yield member


FORMAT = UuencodedFormat()
