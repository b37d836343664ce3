"""The fast constructors build exactly what the dataclasses themselves build."""

from __future__ import annotations

import dataclasses

import pytest

from clamkit.engine.bodyregex import Anchor
from clamkit.signatures.construct import constructor
from clamkit.signatures.model import (
    ANY_OFFSET,
    BodySubsignature,
    HashAlgorithm,
    HashSignature,
    Literal,
    LogicalSignature,
    Pattern,
    SubRef,
    SubsignatureModifiers,
    TargetDescription,
)

PATTERN = Pattern((Literal(b"AB"),), "4142")
EXAMPLES = [
    (Literal, (b"AB",)),
    (Pattern, ((Literal(b"AB"),), "4142")),
    (HashSignature, ("Sig", HashAlgorithm.MD5, b"\x01" * 16, 68, None, 80)),
    (BodySubsignature, (ANY_OFFSET, PATTERN, SubsignatureModifiers(nocase=True))),
    (LogicalSignature, ("Sig", TargetDescription(), SubRef(0), (), "Sig;Target:0;0;4142")),
    (Anchor, (b"AB", False, 1, None)),
]


@pytest.mark.parametrize(("cls", "values"), EXAMPLES)
def test_same_object_as_the_class_builds(cls: type, values: tuple) -> None:
    built = constructor(cls)(*values)
    expected = cls(*values)
    assert type(built) is cls
    assert built == expected and hash(built) == hash(expected) and repr(built) == repr(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.__setattr__(dataclasses.fields(cls)[0].name, None)


def test_every_field_is_required() -> None:
    with pytest.raises(TypeError):
        constructor(HashSignature)("Sig", HashAlgorithm.MD5, b"", 68)


@dataclasses.dataclass(slots=True)
class _Mutable:
    value: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@pytest.mark.parametrize("cls", [_Mutable, _Checked, int])
def test_only_plain_frozen_slots_dataclasses(cls: type) -> None:
    with pytest.raises(TypeError):
        constructor(cls)
