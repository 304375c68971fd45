"""The one validation layer for every config value, and the configs' JSON round trip.

A value is checked the same way whether it comes from a preset, a JSON file, a run's config.json or a
command-line flag: against its field's type hint (bool is no integer, an integer is a number, floats
must be finite) and its FieldRule (`register_field_rules`). `config_from_dict` checks every value it
rebuilds.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from gigagan.errors import GigaGANError

__all__ = [
    "FIELD_RULES",
    "NON_EMPTY",
    "NON_NEGATIVE",
    "POSITIVE",
    "PROBABILITY",
    "RESOLUTION",
    "FieldRule",
    "at_least",
    "check_fields",
    "check_per_level",
    "check_resolution",
    "check_value",
    "config_from_dict",
    "config_to_dict",
    "config_to_json",
    "describe_allowed",
    "field_hints",
    "field_rule",
    "register_field_rules",
]

T = TypeVar("T")


@dataclass(frozen=True)
class FieldRule:
    """What a config field allows beyond its type: a numeric range, a set of choices, a power of two,
    a non-empty string, an ordered (min, max) pair. List and tuple fields apply it to every item."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False  # the minimum itself is refused
    exclusive_maximum: bool = False
    choices: tuple[str, ...] | None = None
    power_of_two: bool = False
    nonempty: bool = False
    ordered: bool = False  # a pair: the first item at most the second
    min_items: int = 0  # lists: at least this many items

    def bounds(self) -> str:
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}")
        return " and ".join(parts)

    def accepts(self, value: Any) -> bool:
        if self.choices is not None and value not in self.choices:
            return False
        if self.nonempty and isinstance(value, str) and not value.strip():
            return False
        if isinstance(value, bool) or not isinstance(value, int | float):
            return True
        if self.minimum is not None and (value <= self.minimum if self.exclusive_minimum else value < self.minimum):
            return False
        if self.maximum is not None and (value >= self.maximum if self.exclusive_maximum else value > self.maximum):
            return False
        return not self.power_of_two or (int(value) == value and value >= 1 and not int(value) & (int(value) - 1))


def at_least(minimum: float) -> FieldRule:
    return FieldRule(minimum=minimum)


POSITIVE = FieldRule(minimum=0, exclusive_minimum=True)
NON_NEGATIVE = FieldRule(minimum=0)
PROBABILITY = FieldRule(minimum=0, maximum=1)
NON_EMPTY = FieldRule(nonempty=True)
RESOLUTION = FieldRule(minimum=4, power_of_two=True)

# config class -> field -> rule; subclasses inherit their bases' rules (see `field_rule`)
FIELD_RULES: dict[type, dict[str, FieldRule]] = {}


def register_field_rules(cls: type, rules: dict[str, FieldRule]) -> None:
    """Add (or replace) the FieldRules of a config dataclass's fields."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(rules) - names)
    if unknown:
        raise ValueError(f"{cls.__name__} has no fields {', '.join(unknown)}")
    FIELD_RULES.setdefault(cls, {}).update(rules)


def field_rule(cls: type, name: str) -> FieldRule | None:
    """The FieldRule of `cls.name` (looked up along the class's bases), or None."""
    for klass in cls.__mro__:
        rule = FIELD_RULES.get(klass, {}).get(name)
        if rule is not None:
            return rule
    return None


@functools.cache
def field_hints(cls: type) -> dict[str, Any]:
    """The resolved type hints of a config dataclass's fields."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _optional_parts(hint: Any) -> tuple[Any, bool]:
    """(the hint without None, whether None is allowed)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        allows_none = len(args) < len(typing.get_args(hint))
        return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), allows_none  # noqa: UP007
    return hint, False


def _items_hint(hint: Any) -> Any | None:
    """The item hint of a list[X] / tuple[X, ...] / tuple[X, X] hint, else None."""
    if typing.get_origin(hint) in (list, tuple):
        return typing.get_args(hint)[0]
    return None


_PLURALS = {bool: "booleans", int: "integers", float: "finite numbers", str: "strings"}


def _describe_type(hint: Any) -> str:
    base, allows_none = _optional_parts(hint)
    origin, args = typing.get_origin(base), typing.get_args(base)
    if base is Any:
        text = "any value"
    elif base is bool:
        text = "true or false"
    elif base is int:
        text = "an integer"
    elif base is float:
        text = "a finite number"
    elif base is str:
        text = "a string"
    elif origin is list or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        text = f"a list of {_PLURALS.get(args[0], 'items')}"
    elif origin is tuple:
        text = f"a list of {len(args)} {_PLURALS.get(args[0], 'items')}"
    elif origin is dict or dataclasses.is_dataclass(base):
        text = "a JSON object"
    else:
        text = str(base)
    return f"{text} or null" if allows_none else text


def describe_allowed(hint: Any, rule: FieldRule | None) -> str:
    """What a field with this type hint and rule allows, in words (e.g. 'an integer >= 1')."""
    base, allows_none = _optional_parts(hint)
    items = _items_hint(base) is not None
    rule = rule or FieldRule()
    if rule.choices is not None and not items:
        text = f"one of {', '.join(rule.choices)}"
    elif rule.power_of_two and not items:
        text = " ".join(filter(None, ["a power of two", rule.bounds()]))
    elif rule.nonempty and not items:
        text = "a non-empty string"
    else:
        text = _describe_type(base)
        if rule.bounds() and not items:
            text += f" {rule.bounds()}"
    if items:
        if rule.min_items:
            at_least_n = "a non-empty list of " if rule.min_items == 1 else f"a list of at least {rule.min_items} "
            text = text.replace("a list of ", at_least_n, 1)
        words = [
            f"one of {', '.join(rule.choices)}" if rule.choices is not None else "",
            "non-empty" if rule.nonempty else "",
            "a power of two" if rule.power_of_two else "",
            rule.bounds(),
        ]
        if any(words):
            text += ", each " + " ".join(filter(None, words))
        if rule.ordered:
            text += ", the first at most the second"
    return f"{text} or null" if allows_none else text


def _has_type(hint: Any, value: Any) -> bool:
    """Whether a JSON-like value fits a type hint (an int fits float; bool fits neither)."""
    base, allows_none = _optional_parts(hint)
    if value is None:
        return allows_none or base is Any
    origin, args = typing.get_origin(base), typing.get_args(base)
    if base is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(arg, value) for arg in args)
    if base is bool:
        return isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if base is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if base is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and all(_has_type(args[0], item) for item in value)
    if origin is tuple:
        if not isinstance(value, tuple | list):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_has_type(args[0], item) for item in value)
        return len(value) == len(args) and all(_has_type(arg, item) for arg, item in zip(args, value))
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(key, str) for key in value)
    if dataclasses.is_dataclass(base):
        return isinstance(value, base)
    return True  # a hint this checker does not know is not checked


def _rule_accepts(hint: Any, rule: FieldRule | None, value: Any) -> bool:
    if rule is None or value is None:
        return True
    base, _ = _optional_parts(hint)
    if _items_hint(base) is None:
        return rule.accepts(value)
    items = list(value)
    if rule.ordered and len(items) == 2 and items[0] > items[1]:
        return False
    if len(items) < rule.min_items:
        return False
    return all(rule.accepts(item) for item in items)


def check_value(cls: type, name: str, value: Any, label: str | None = None) -> None:
    """Check one value for field `name` of config class `cls`: a GigaGANError that names `label` (default
    the field), the bad value and what is allowed."""
    hint = field_hints(cls)[name]
    rule = field_rule(cls, name)
    if not _has_type(hint, value) or not _rule_accepts(hint, rule, value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise GigaGANError(f"{label or name} must be {describe_allowed(hint, rule)}, got {shown}")


def check_fields(config: Any, where: str | None = None) -> None:
    """Check every field of a config dataclass (nested configs included) against its type and FieldRule.

    `where` prefixes the field names in the message ("training" -> "training.loss.r1_gamma")."""
    prefix = where or type(config).__name__
    for name in field_hints(type(config)):
        value = getattr(config, name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_fields(value, f"{prefix}.{name}")
        else:
            check_value(type(config), name, value, f"{prefix}.{name}")


def shown(value: Any) -> str:
    """A value as an error message shows it: its repr, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def finite_number(value: Any, name: str, minimum: float | None = None, exclusive: bool = False) -> float:
    """`value` as a finite float (no nan or inf), at least (or, `exclusive`, above) `minimum` when one is
    given; else a one-line GigaGANError. The CLI's float options and the web studio share it."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    low = minimum is not None and (number <= minimum if exclusive else number < minimum)
    if not math.isfinite(number) or low:
        bound = "" if minimum is None else f" {'>' if exclusive else '>='} {minimum:g}"
        raise GigaGANError(f"{name} must be a finite number{bound}, got {shown(value)}")
    return number


# --------------------------------------------------------------------------------------------
# Checks across fields, for the configs' `validate`


def check_resolution(resolution: int) -> None:
    if resolution < 4 or resolution & (resolution - 1):
        raise GigaGANError(f"resolution must be a power of two of at least 4, got {resolution}")


def check_per_level(config: Any, names: tuple[str, ...], num_levels: int) -> None:
    for name in names:
        values = getattr(config, name)
        if len(values) != num_levels:
            raise GigaGANError(
                f"{type(config).__name__}.{name} needs {num_levels} entries (one per level from 4 to "
                f"{config.resolution}), got {len(values)}"
            )


# --------------------------------------------------------------------------------------------
# JSON round trip


def config_to_dict(config: Any) -> dict[str, Any]:
    """A plain, JSON-ready dict of a (nested) config dataclass."""
    return dataclasses.asdict(config)


def config_from_dict(cls: type[T], data: dict[str, Any], where: str | None = None) -> T:
    """Rebuild a config dataclass from `config_to_dict` output (a JSON object); unknown keys are refused.

    Every value is checked against its field's type and FieldRule (`check_fields`): a one-line
    GigaGANError names the field (prefixed with `where`, default the class name), the bad value and
    what is allowed. Integers become floats where a float belongs, JSON lists tuples."""
    config = _from_dict(cls, data, where or cls.__name__)
    check_fields(config, where or cls.__name__)
    return config


def _from_dict(cls: type[T], data: Any, where: str) -> T:
    if not isinstance(data, dict):
        raise GigaGANError(f"{where} must be a JSON object ({cls.__name__}), got {data!r}"[:300])
    hints = field_hints(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise GigaGANError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
    values = {}
    for name, value in data.items():
        nested = _dataclass_in(hints[name])
        if nested and value is not None:
            value = _from_dict(nested, value, f"{where}.{name}")
        else:
            value = _coerced(hints[name], value)
        values[name] = value
    return cls(**values)


def _coerced(hint: Any, value: Any) -> Any:
    """A JSON value in the form its hint wants: an int where a float belongs becomes a float, a list
    where a tuple belongs a tuple (items likewise); anything else is returned as is (and checked later)."""
    base, _ = _optional_parts(hint)
    origin, args = typing.get_origin(base), typing.get_args(base)
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is tuple and isinstance(value, list | tuple):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerced(args[0], item) for item in value)
        if len(args) == len(value):
            return tuple(_coerced(arg, item) for arg, item in zip(args, value))
        return tuple(value)
    if origin is list and isinstance(value, list):
        return [_coerced(args[0], item) for item in value]
    return value


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass type inside a hint such as `X` or `X | None`, else None."""
    if dataclasses.is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if dataclasses.is_dataclass(arg):
                return arg
    return None


def config_to_json(config: Any) -> str:
    return json.dumps(config_to_dict(config), indent=2, sort_keys=True)
