"""bzip2 files; only the first of concatenated streams is read, as on the reference.

Strategy: ``streams.StreamFormat`` with the standard library's decoder,
output bounded by the member budget.
"""

from clamkit.containers import streams
from clamkit.engine.filetypes import FileType

__all__ = ["FORMAT"]

FORMAT = streams.StreamFormat(
    "bzip2", FileType.CL_TYPE_BZ, streams.bzip2, b"BZh", concatenated=False
)
