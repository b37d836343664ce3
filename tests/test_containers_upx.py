"""UPX: the NRV2B/2D/2E decoders on streams built here, and ClamAV's UPX-packed test file.

``encode`` writes UCL streams the way UPX lays them out (32-bit
little-endian bit words, most significant bit first, each reserved where
its first bit is needed, bytes in between), so each decoder is checked on
literals, matches (new and repeated offsets, short and long lengths, far
offsets) and the end marker; the corpus file checks NRV2B against real
UPX output and the rebuilt image against the reference's.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from containers_support import (
    SHARED_TESTSIG,
    TESTSIG_NAME,
    TestExtraction,
    clamav_testsig_engine,
    corpus_file,
    members_of,
)

from clamkit.containers import upx
from clamkit.containers.base import ContainerError, Member
from clamkit.engine import ScanOptions

_END = 0xFFFFFFFF


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()
        self.word_at = -1
        self.used = 32

    def bit(self, value: int) -> None:
        if self.used == 32:
            self.word_at = len(self.out)
            self.out += bytes(4)
            self.used = 0
        self.used += 1
        if value:
            word = int.from_bytes(self.out[self.word_at : self.word_at + 4], "little")
            word |= 1 << (32 - self.used)
            self.out[self.word_at : self.word_at + 4] = word.to_bytes(4, "little")

    def gamma(self, value: int) -> None:
        digits = bin(value)[3:]
        for index, digit in enumerate(digits):
            self.bit(int(digit))
            self.bit(index == len(digits) - 1)

    def paired_gamma(self, value: int) -> None:
        rounds = [(value & 1, None)]
        value >>= 1
        while value > 1:
            value += 2
            rounds.append(((value >> 1) & 1, value & 1))
            value >>= 2
        for first, second in reversed(rounds):
            self.bit(first)
            self.bit(second is None)
            if second is not None:
                self.bit(second)


def encode(variant: str, items: list[bytes | tuple[int, int]]) -> bytes:
    """A stream of literals (bytes) and matches ((offset, length) copying ``length`` bytes)."""
    writer = _Writer()
    last = 1
    for item in [*items, None]:
        if isinstance(item, bytes):
            for byte in item:
                writer.bit(1)
                writer.out.append(byte)
            continue
        writer.bit(0)
        offset, length = item if item is not None else (0, 0)
        far = offset > (0xD00 if variant == "nrv2b" else 0x500)
        count = length - 1 - far
        if variant == "nrv2b":
            if item is not None and offset == last:
                writer.gamma(2)
            else:
                raw = _END if item is None else offset - 1
                writer.gamma((raw >> 8) + 3)
                writer.out.append(raw & 0xFF)
                if item is None:
                    break
            writer.bit(count >> 1 if count <= 3 else 0)
            writer.bit(count & 1 if count <= 3 else 0)
            if count > 3:
                writer.gamma(count - 2)
        else:
            low = 1 if variant == "nrv2e" and count <= 2 else 0
            if variant == "nrv2d":
                low = count >> 1 if count <= 3 else 0
            if item is not None and offset == last:
                writer.paired_gamma(2)
                writer.bit(low)
            else:
                raw = _END if item is None else ((offset - 1) << 1) | (1 - low)
                writer.paired_gamma((raw >> 8) + 3)
                writer.out.append(raw & 0xFF)
                if item is None:
                    break
            if variant == "nrv2d":
                writer.bit(count & 1 if count <= 3 else 0)
                if count > 3:
                    writer.gamma(count - 2)
            elif low:
                writer.bit(count - 1)
            elif count in (3, 4):
                writer.bit(1)
                writer.bit(count - 3)
            else:
                writer.bit(0)
                writer.gamma(count - 3)
        last = offset
    return bytes(writer.out)


def expand(items: list[bytes | tuple[int, int]]) -> bytes:
    out = bytearray()
    for item in items:
        if isinstance(item, bytes):
            out += item
        else:
            for _ in range(item[1]):
                out.append(out[-item[0]])
    return bytes(out)


def _items(rng: random.Random) -> list[bytes | tuple[int, int]]:
    items: list[bytes | tuple[int, int]] = [rng.randbytes(300)]
    size = 300
    for _ in range(200):
        if rng.random() < 0.3:
            piece = rng.randbytes(rng.randint(1, 40))
            items.append(piece)
            size += len(piece)
            continue
        offset = rng.choice([1, 2, 7, 255, 256, 0x500, 0x501, 0xD00, 0xD01, rng.randint(1, size)])
        offset = min(offset, size)
        # A far match is at least 3 bytes long: its length code starts higher.
        shortest = 3 if offset > 0x500 else 2
        for _repeat in range(1 + (rng.random() < 0.3)):  # sometimes the same offset again
            length = max(shortest, rng.choice([2, 3, 4, 5, 6, 20, 300]))
            items.append((offset, length))
            size += length
    return items


@pytest.mark.parametrize("variant", ["nrv2b", "nrv2d", "nrv2e"])
def test_decoders_on_built_streams(variant: str) -> None:
    rng = random.Random(variant)
    for _ in range(5):
        items = _items(rng)
        stream = encode(variant, items)
        expected = expand(items)
        assert upx.nrv_decompress(b"junk" + stream, 4, 1 << 20, variant) == (expected, False)
        assert upx.nrv_decompress(stream, 0, 100, variant) == (expected[:100], True)
        with pytest.raises(ContainerError):
            upx.nrv_decompress(stream[: len(stream) // 2], 0, 1 << 20, variant)


def test_a_match_before_the_start_is_refused() -> None:
    with pytest.raises(ContainerError):
        upx.nrv_decompress(encode("nrv2b", [b"ab", (3, 2)]), 0, 1 << 20, "nrv2b")


def test_corpus_file_is_unpacked_as_the_reference_rebuilds_it() -> None:
    packed = corpus_file("clam-upx.exe")
    (member,) = members_of(upx.FORMAT, packed)
    assert isinstance(member, Member) and not member.truncated
    # The reference's rebuilt image is 20,480 bytes and ends with the test executable.
    assert len(member.data) == 20480
    assert bytes(member.data).endswith(corpus_file("clam.exe"))
    engine = clamav_testsig_engine()
    assert engine.scan_bytes(packed).names == (TESTSIG_NAME,)
    assert engine.scan_bytes(packed, ScanOptions(scan_pe=False)).names == ()
    assert engine.scan_bytes(corpus_file("clam.exe")).names == (TESTSIG_NAME,)


def test_budget_cuts_the_image() -> None:
    (member,) = members_of(upx.FORMAT, corpus_file("clam-upx.exe"), TestExtraction(budget=4096))
    assert isinstance(member, Member) and member.truncated and len(member.data) == 4096


def test_limits_like_the_reference(reference_clamscan: str, tmp_path: Path) -> None:
    path = tmp_path / "clam-upx.exe"
    path.write_bytes(corpus_file("clam-upx.exe"))
    for option, field, value in (
        ("--max-recursion", "max_recursion", 2),
        ("--max-recursion", "max_recursion", 3),
        ("--max-files", "max_files", 2),
        ("--max-files", "max_files", 3),
    ):
        command = [reference_clamscan, "--no-summary", "-z", "--alert-exceeds-max=yes"]
        command += [f"{option}={value}", "-d", str(SHARED_TESTSIG / "clamav.hdb"), str(path)]
        output = subprocess.run(command, capture_output=True, text=True, check=False).stdout
        reference = {line.rsplit(": ", 1)[1].removesuffix(" FOUND") for line in output.splitlines()}
        options = ScanOptions(alert_exceeds_max=True, allmatch=True, **{field: value})
        ours = set(clamav_testsig_engine().scan_bytes(path.read_bytes(), options).names)
        assert (ours or {"OK"}) == reference, (option, value)
