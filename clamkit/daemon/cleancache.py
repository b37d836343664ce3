"""The clean-file cache: content found clean once is not scanned again.

A table of MD5 digests (16 bytes each, content plus nothing else: the
engine and its options are fixed for the life of a pool) in one anonymous
shared mapping that the pool leader makes before it forks, so what one
worker learns every worker knows.  A reload builds a new pool and with it an
empty table: verdicts of the old databases never survive them.

Each digest has a home slot and three after it; a new digest takes the first
empty one, else replaces its home slot.  Workers write without a lock: two
writers racing on one slot can leave a torn mixture of two digests, which
matches no file, so the worst case is a miss, never a wrong verdict.
"""

from __future__ import annotations

import hashlib
import mmap

DIGEST_SIZE = 16
PROBES = 4
EMPTY = bytes(DIGEST_SIZE)


def md5_of(path: str) -> tuple[bytes, int]:
    """A file's MD5 digest and size, in one read: the cache's key, and the
    hash ExtendedDetectionInfo logs."""
    with open(path, "rb") as file:
        digest = hashlib.file_digest(file, "md5").digest()
        return digest, file.tell()


class CleanCache:
    def __init__(self, entries: int) -> None:
        self.slots = max(PROBES, entries)
        self._table = mmap.mmap(-1, self.slots * DIGEST_SIZE)

    def _homes(self, digest: bytes) -> range:
        home = int.from_bytes(digest[:8], "little") % self.slots
        return range(home, home + PROBES)

    def _at(self, slot: int) -> bytes:
        start = (slot % self.slots) * DIGEST_SIZE
        return self._table[start : start + DIGEST_SIZE]

    def __contains__(self, digest: bytes) -> bool:
        return any(self._at(slot) == digest for slot in self._homes(digest))

    def add(self, digest: bytes) -> None:
        slots = self._homes(digest)
        chosen = slots[0]
        for slot in slots:
            held = self._at(slot)
            if held == digest:
                return
            if held == EMPTY:
                chosen = slot
                break
        start = (chosen % self.slots) * DIGEST_SIZE
        self._table[start : start + DIGEST_SIZE] = digest
