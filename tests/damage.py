"""Damaged copies of container files, for tests that formats fail cleanly.

A format's ``members()`` may raise only what the scanner takes for a
damaged container (``CORRUPT_INPUT``); anything else would end a whole
scan.  ``mutations`` makes reproducible damaged copies of a good file.
"""

from __future__ import annotations

import random

from clamkit.engine.scanner import _CORRUPT_INPUT_ERRORS

# What the scanner catches from a format: the rest of the scan goes on.
CORRUPT_INPUT = _CORRUPT_INPUT_ERRORS


def mutations(seed: bytes, count: int, rng_seed: int = 20261124) -> list[bytes]:
    """``count`` damaged copies of ``seed``: bytes changed, cut out, inserted, or the end cut."""
    rng = random.Random(rng_seed)
    out = []
    for _ in range(count):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(max(len(data), 1))
            kind = rng.random()
            if kind < 0.5 and data:
                data[at] = rng.randrange(256)
            elif kind < 0.7:
                del data[at : at + rng.randint(1, 50)]
            elif kind < 0.85:
                data[at:at] = rng.randbytes(rng.randint(1, 20))
            else:
                del data[at:]
        out.append(bytes(data))
    return out
