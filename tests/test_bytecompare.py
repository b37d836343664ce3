"""Byte-compare subsignatures: parsing, number reading and evaluation."""

from __future__ import annotations

import pytest

from clamkit.engine.logic import byte_compare_matches
from clamkit.signatures.bytecompare import c_integer, parse_byte_compare, read_number
from clamkit.signatures.model import ByteCompareBase, ByteComparison, SignatureError


def test_full_syntax() -> None:
    sub = parse_byte_compare("3(<<0x10#hle8#>5,<0x20)")
    assert sub.trigger == 3
    assert sub.offset == -16
    assert sub.base is ByteCompareBase.HEX
    assert sub.little_endian and sub.exact
    assert sub.length == 8
    assert sub.comparisons == (ByteComparison(">", 5), ByteComparison("<", 32))


@pytest.mark.parametrize(
    ("text", "offset", "base", "little", "length"),
    [
        ("0(>>4#db4#=1)", 4, ByteCompareBase.DECIMAL, False, 4),
        ("0(>>010#d4#=1)", 8, ByteCompareBase.DECIMAL, False, 4),  # C octal
        ("0(0#ib1#=1)", 0, ByteCompareBase.BINARY, False, 1),
        ("0(#il8#=1)", 0, ByteCompareBase.BINARY, True, 8),
        ("0(>>2#ab0x10#=1)", 2, ByteCompareBase.AUTO, False, 16),
    ],
)
def test_options(text: str, offset: int, base: ByteCompareBase, little: bool, length: int) -> None:
    sub = parse_byte_compare(text)
    assert (sub.offset, sub.base, sub.little_endian, sub.length) == (offset, base, little, length)
    assert sub.comparisons


@pytest.mark.parametrize("text", ["0(>>4#h4#=1)", "0(>>4#i2#=1)", "0(>>4#e4#=1)"])
def test_options_the_reference_can_never_evaluate_keep_no_comparison(text: str) -> None:
    assert parse_byte_compare(text).comparisons == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(>>4#hb4#=1)", "subsignature index"),
        ("x(>>4#hb4#=1)", "subsignature index"),
        ("65(>>4#hb4#=1)", "max 64"),
        ("0(>>4#hb4#=1", "closing"),
        ("0(>>4#hb4)", "offset#options#comparisons"),
        ("0(>>4#hb4#=1#2)", "offset#options#comparisons"),
        ("0(4#hb4#=1)", "offset must be"),
        ("0(>4#hb4#=1)", "offset must be"),
        ("0(>>x#hb4#=1)", "invalid offset"),
        ("0(>>4#hd4#=1)", "conflicting number types"),
        ("0(>>4#dl4#=1)", "conflicting endianness"),
        ("0(>>4#ld4#=1)", "decimal cannot be little endian"),
        ("0(>>4#lb4#=1)", "conflicting endianness"),
        ("0(>>4#hz4#=1)", "unknown option"),
        ("0(>>4#hb#=1)", "invalid byte length"),
        ("0(>>4#hb0#=1)", "invalid byte length"),
        ("0(>>4#hb4x#=1)", "invalid byte length"),
        ("0(>>4#ib3#=1)", "binary length"),
        ("0(>>4#ib16#=1)", "binary length"),
        ("0(>>4#hb19#=1)", "hex length"),
        ("0(>>4#hb4#1)", "invalid comparison"),
        ("0(>>4#hb4#=1,=2,=3)", "at most two"),
        ("0(>>4#hb4#=1x)", "invalid comparison"),
    ],
)
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        parse_byte_compare(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("10", 10), ("-10", -10), ("0x1f", 31), ("010", 8), ("0", 0), ("  7", 7), ("+3", 3)],
)
def test_c_integer(text: str, value: int) -> None:
    assert c_integer(text) == value


@pytest.mark.parametrize("text", ["", "x", "0x", "08", "1 ", "1_0"])
def test_c_integer_refuses_leftovers(text: str) -> None:
    assert c_integer(text) is None


@pytest.mark.parametrize(
    ("options", "field", "value"),
    [
        ("hb4", b"1234", 0x1234),
        ("hb4", b"12zz", 0x12),
        ("hb4", b"zzzz", 0),
        ("hb6", b"0x1234", 0x1234),
        ("hl4", b"3412", 0x1234),
        ("hl3", b"123", 0x2301),
        ("hl1", b"a", 0xA),
        ("db4", b"1234", 1234),
        ("db4", b"  12", 12),
        ("db4", b"-012", -12),
        ("ab6", b"0x00ff", 255),
        ("ab4", b"0099", 99),
        ("ib2", b"\x01\x02", 0x0102),
        ("il2", b"\x01\x02", 0x0201),
        ("il8", b"\xff" * 8, -1),
    ],
)
def test_read_number(options: str, field: bytes, value: int) -> None:
    assert read_number(parse_byte_compare(f"0(>>1#{options}#=0)"), field) == value


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ("hbe4", b"12zz"),
        ("dbe4", b"  12"),
        ("ab2", b"12"),  # auto needs three characters to decide
        ("al4", b"1234"),  # auto found decimal, which cannot be little endian
        ("hle3", b"123"),  # the padded little-endian digits are not all consumed
    ],
)
def test_read_number_failures(options: str, field: bytes) -> None:
    assert read_number(parse_byte_compare(f"0(>>1#{options}#=0)"), field) is None


DATA = b"....ABCD1234....ABCD0099...."


@pytest.mark.parametrize(
    ("text", "starts", "expected"),
    [
        ("0(>>4#db4#=1234)", [4], True),
        ("0(>>4#db4#=1234)", [4, 16], False),  # the last counted match decides
        ("0(>>4#db4#=99)", [4, 16], True),
        ("0(>>4#db4#>1000,<2000)", [4], True),
        ("0(>>4#db4#>1000,<1200)", [4], False),
        ("0(<<4#ib1#=0x2e)", [4], False),  # offset 0 is refused by the reference
        ("0(<<3#ib1#=0x2e)", [4], True),
        ("0(>>24#db4#=0)", [4], False),  # past the end
        ("0(>>4#db4#=1234)", [], False),  # trigger did not match
        ("0(>>4#h4#=4660)", [4], False),  # never evaluable
    ],
)
def test_byte_compare_matches(text: str, starts: list[int], expected: bool) -> None:
    assert byte_compare_matches(parse_byte_compare(text), DATA, starts) is expected
