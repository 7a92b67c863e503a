"""Kinds of number columns: whole numbers (their range per size and signedness), exact
decimals (precision and scale checked, never rounded) and floats; NaN and infinities where
the database has them."""

from __future__ import annotations

import decimal
import math
import re
from typing import Any

from sqlalchemy import Column
from sqlalchemy.engine import Dialect

from webapp.database.dialects import decimal_digit_limit, has_infinite_floats, integers_are_64_bit
from webapp.values.kinds import (
    INT64_MAX,
    INT64_MIN,
    SPECIAL_NUMBERS,
    BadKey,
    FieldError,
    ValueKind,
    need_dialect,
)

INTEGER_BITS = {"SmallInteger": 16, "Integer": 32, "BigInteger": 64}


class IntKind(ValueKind):
    family = "number"
    parse_as = "int"
    accepted = (int,)
    noun = "whole numbers"
    hint = "a whole number"

    def __init__(self, column: Column, dialect: Dialect | None) -> None:
        super().__init__(column, dialect)
        bits = 64
        for cls in type(column.type).__mro__:
            if cls.__name__ in INTEGER_BITS:
                bits = INTEGER_BITS[cls.__name__]
                break
        if dialect is not None and integers_are_64_bit(dialect):
            bits = 64
        self.bits = bits
        self.unsigned = bool(getattr(column.type, "unsigned", False))
        self.maximum = 2**64 - 1 if self.unsigned else INT64_MAX

    def parse_key(self, text: str) -> Any:
        """A whole number in the column's range (a key beyond it names no row)."""
        try:
            value = int(text)
        except ValueError:
            raise BadKey(text) from None
        self.check_range(value)
        return value

    def check_range(self, value: Any) -> None:
        bits = self.bits
        low, high = (0, 2**bits) if self.unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1))
        if not low <= value < high:
            raise BadKey(str(value))

    def parse_input(self, text: str) -> Any:
        cleaned = text.strip()
        if not re.fullmatch(r"[+-]?\d+", cleaned):
            raise FieldError("Enter a whole number, like 42 or -7.")
        value = int(cleaned)
        if not INT64_MIN <= value <= self.maximum:
            raise FieldError("This number is too large for the column.")
        return value


class DecimalKind(ValueKind):
    family = "number"
    parse_as = "decimal"
    noun = "numbers"

    def __init__(self, column: Column, dialect: Dialect | None) -> None:
        super().__init__(column, dialect)
        self.precision = getattr(column.type, "precision", None)
        self.scale = getattr(column.type, "scale", None) or 0
        if self.precision is not None:
            self.hint = f"up to {self.precision - self.scale} digits, {self.scale} after the point"
        else:
            self.hint = "an exact decimal number"

    def parse_key(self, text: str) -> Any:
        if self.python_type is not decimal.Decimal:
            return text
        try:
            return decimal.Decimal(text)
        except (ValueError, decimal.InvalidOperation):
            raise BadKey(text) from None

    def editable(self, value: Any) -> bool:
        """An infinite decimal (SQLite's DECIMAL holding 1e400) is kept as it is where the
        form cannot take one."""
        if isinstance(value, decimal.Decimal) and not value.is_finite() and not self.special:
            return False
        return super().editable(value)

    def check_range(self, value: Any) -> None:
        if isinstance(value, decimal.Decimal) and not value.is_finite() and not self.special:
            raise BadKey(str(value))

    def parse_input(self, text: str) -> Any:
        cleaned = text.strip()
        if cleaned.lower() in SPECIAL_NUMBERS and self.special:
            return decimal.Decimal(cleaned)
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", cleaned):
            raise FieldError("Enter a decimal number, like 12.50.")
        value = decimal.Decimal(cleaned)
        precision, scale = self.precision, self.scale
        digits, exponent = _significant_digits(value)
        if precision is not None and value:
            if -exponent > scale:
                raise FieldError(f"At most {scale} digits after the point.")
            if value.adjusted() + 1 > precision - scale:
                raise FieldError(f"At most {precision - scale} digits before the point.")
        limit = decimal_digit_limit(need_dialect(self.dialect))
        if limit is not None and len(digits) > limit:
            raise FieldError(f"This database keeps only {limit} significant digits of a decimal.")
        return value


def _significant_digits(value: decimal.Decimal) -> tuple[tuple[int, ...], int]:
    """The digits and exponent without trailing zeros (Decimal.normalize would round to the
    context's 28 digits)."""
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    while len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    return digits, exponent


class FloatKind(ValueKind):
    family = "number"
    parse_as = "float"
    accepted = (float, int)
    noun = "numbers"
    hint = "a number"

    def parse_key(self, text: str) -> Any:
        try:
            return float(text)
        except ValueError:
            raise BadKey(text) from None

    @property
    def infinite(self) -> bool:
        """Whether the column may hold infinite floats (and so be filtered for them)."""
        return self.special or (self.dialect is not None and has_infinite_floats(self.dialect))

    def check_range(self, value: Any) -> None:
        if isinstance(value, float) and not self.holds(value):
            raise BadKey(str(value))

    def holds(self, value: float) -> bool:
        """Whether the column can hold this float (NaN and infinities where the database
        has them)."""
        if math.isfinite(value) or self.special:
            return True
        return self.infinite and not math.isnan(value)

    def parse_input(self, text: str) -> Any:
        try:
            value = float(text.strip())
        except ValueError:
            raise FieldError("Enter a number, like 3.25 or 1e-3.") from None
        if not self.holds(value):
            raise FieldError("Enter a finite number.")
        return value
