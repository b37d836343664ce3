"""Fast positional constructors for frozen slots dataclasses.

Strategy: a frozen dataclass's ``__init__`` stores each field through
``object.__setattr__``, a generic call that costs about 100 ns a field; a
load builds half a million model objects and a compile a hundred thousand
anchors.  ``constructor(cls)`` writes, once per class, a function that
creates the instance and stores each field through its slot descriptor
directly.  The result is the same object the class's own constructor makes
(the tests compare them); only the hot paths use it, for the classes they
build by the hundred thousand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["constructor"]

T = TypeVar("T")


def constructor(cls: type[T]) -> Callable[..., T]:
    """``cls(*fields)`` for a frozen slots dataclass, all fields given in order."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__name__} is not a frozen slots dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} checks its fields in __post_init__")
    names = [field.name for field in dataclasses.fields(cls)]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    namespace.update({f"_set_{name}": getattr(cls, name).__set__ for name in names})
    stores = "".join(f"    _set_{name}(instance, {name})\n" for name in names)
    source = (
        f"def build({', '.join(names)}):\n    instance = _new(_cls)\n{stores}    return instance\n"
    )
    # The source holds nothing but the class's own field names.
    exec(source, namespace)
    build = namespace["build"]
    build.__qualname__ = build.__name__ = f"build_{cls.__name__}"
    return build
