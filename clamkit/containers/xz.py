"""xz files.  Bare ``.lzma`` files have no file type of their own on the reference
(it leaves them undecoded), so only xz is read.

Strategy: ``streams.StreamFormat`` with the standard library's decoder,
output bounded by the member budget.
"""

from clamkit.containers import streams
from clamkit.engine.filetypes import FileType

__all__ = ["FORMAT"]

FORMAT = streams.StreamFormat(
    "xz", FileType.CL_TYPE_XZ, streams.xz, b"\xfd7zXZ\x00", concatenated=True
)
