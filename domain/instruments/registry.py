"""The instruments there are: every spec module of this package, found when it is imported.

A spec module is a module of `domain.instruments` (other than `spec`, `registry` and `scoring`)
with a module-level `SPEC`. Adding an instrument is adding such a module: `Instrument` accepts its
name at once, in commands, events, API bodies and workflow messages alike.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any, ClassVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticKnownError, core_schema

from domain.instruments.spec import InstrumentSpec

PACKAGE = __name__.rpartition(".")[0]
_NOT_SPECS = frozenset({"registry", "scoring", "spec"})


def _discover() -> dict[str, InstrumentSpec]:
    found: dict[str, InstrumentSpec] = {}
    modules = pkgutil.iter_modules(sys.modules[PACKAGE].__path__)
    for module in sorted(modules, key=lambda m: m.name):
        if module.name in _NOT_SPECS or module.name.startswith("_") or module.ispkg:
            continue
        spec = getattr(importlib.import_module(f"{PACKAGE}.{module.name}"), "SPEC", None)
        if not isinstance(spec, InstrumentSpec):
            raise TypeError(f"{PACKAGE}.{module.name} defines no SPEC = InstrumentSpec(...)")
        if spec.name in found:
            raise ValueError(f"two specs name the instrument {spec.name}")
        found[spec.name] = spec
    return found


# Every instrument's spec by name. Filled once, here; a test may add a spec of its own to it.
SPECS: dict[str, InstrumentSpec] = _discover()


def specs() -> tuple[InstrumentSpec, ...]:
    """Every spec, in the order instruments are listed and asked."""
    return tuple(sorted(SPECS.values(), key=lambda s: (s.position, s.name)))


_MEMBERS: dict[str, Instrument] = {}


class Instrument(str):
    """An instrument's name ("phq9"), always one with a spec: checked wherever it is read.

    Like the enum it replaces, it is the name itself (equal to, hashed and serialised as the
    string), one object per name (`is` compares), with `.value` and the constants below, which
    name the instruments code refers to; a new instrument needs none.
    """

    __slots__ = ()

    PHQ9: ClassVar[Instrument]
    GAD7: ClassVar[Instrument]
    PCL5: ClassVar[Instrument]
    CSSRS: ClassVar[Instrument]

    def __new__(cls, value: str) -> Instrument:
        if value not in SPECS:
            raise ValueError(f"{value!r} is not a known instrument")
        member = _MEMBERS.get(value)
        if member is None:
            member = _MEMBERS[value] = super().__new__(cls, value)
        return member

    @property
    def value(self) -> str:
        return str.__str__(self)

    @property
    def spec(self) -> InstrumentSpec:
        return SPECS[self.value]

    def __repr__(self) -> str:
        return f"Instrument({self.value!r})"

    def __reduce__(self) -> tuple[type[Instrument], tuple[str]]:
        return Instrument, (self.value,)

    @classmethod
    def all(cls) -> tuple[Instrument, ...]:
        return tuple(cls(s.name) for s in specs())

    @classmethod
    def _validate(cls, value: str) -> Instrument:
        try:
            return cls(value)
        except ValueError:  # the same words as an enum's: the names allowed, never the input
            raise PydanticKnownError("enum", {"expected": _expected()}) from None

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls._validate,
            core_schema.str_schema(),
            serialization=core_schema.to_string_ser_schema(),
            ref="Instrument",
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"enum": [s.name for s in specs()], "title": "Instrument", "type": "string"}


def _expected() -> str:
    names = [repr(s.name) for s in specs()]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


Instrument.PHQ9 = Instrument("phq9")
Instrument.GAD7 = Instrument("gad7")
Instrument.PCL5 = Instrument("pcl5")
Instrument.CSSRS = Instrument("cssrs")


def spec_of(instrument: str) -> InstrumentSpec:
    """The spec of an instrument by name; ValueError for a name without one."""
    return Instrument(instrument).spec


def baseline_instruments() -> tuple[Instrument, ...]:
    """The instruments screened before the consultation may complete."""
    return tuple(Instrument(s.name) for s in specs() if s.baseline)


def follow_up_instruments() -> tuple[Instrument, ...]:
    """The instruments asked at the check-ins after a course that gave a dose."""
    return tuple(Instrument(s.name) for s in specs() if s.follow_up)
