"""Numbers and invariant expressions written as text, parsed without eval or sympify.

Lattice presets, user lattices and stored descriptor specs write numbers as text ("1/2",
"sqrt(3)/2", "-0.25") and invariants as expressions in the stencil outputs y0, y1, …. The
text is parsed by `ast.parse(mode="eval")` and only this whitelist is built: int and decimal
literals, + - * / and unary + -, parentheses, `sqrt(x)`, `**` with a rational literal
exponent (nested exponents multiply to at most `MAX_POWER`), and in expressions the symbols
y0 … y(n-1). Anything else — names, attributes, other calls, subscripts, strings, lambdas,
over-long text — raises `GroupTheoryError` naming the text and what is allowed.

    to_sympy("sqrt(3)/2")        # the sympy value, exactly as sympify would build it
    to_float("sqrt(3)/2")        # a float; this module imports sympy only when asked to
    to_expression("y0**2 + y1**2", 2)

Decimal literals become sympy Floats with the precision of their digits, as in sympify.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from fractions import Fraction
from functools import cache
from numbers import Integral, Rational, Real
from typing import Any, NamedTuple

from .errors import GroupTheoryError

MAX_NUMBER_LENGTH = 200
MAX_EXPRESSION_LENGTH = 100_000
MAX_POWER = 64
MAX_DEPTH = 100

NUMBER_SYNTAX = ("int and decimal literals, + - * /, parentheses, sqrt(x), "
                 f"** with a rational literal exponent (at most {MAX_POWER})")

def _divide(a, b):
    if b == 0:
        raise ZeroDivisionError
    return a / b


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: _divide}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_SYMBOL = re.compile(r"y(0|[1-9][0-9]*)")
_SYNTAX_NAMES = {ast.Attribute: "attribute access", ast.Subscript: "a subscript",
                 ast.Lambda: "a lambda", ast.Compare: "a comparison", ast.BoolOp: "and/or",
                 ast.IfExp: "a conditional expression", ast.JoinedStr: "an f-string"}


class _Refused(Exception):
    """Internal: the reason a text is refused."""


class _Arithmetic(NamedTuple):
    """How the whitelisted syntax is evaluated: exact (sympy) or float."""

    integer: Callable[[int], Any]
    decimal: Callable[[str, float], Any]  # (literal as written, its float value)
    sqrt: Callable[[Any], Any]
    power: Callable[[Any, Fraction], Any]
    finite: Callable[[Any], bool]


def _sqrt(root: Callable, is_negative: Callable) -> Callable:
    def sqrt(x):
        if is_negative(x):
            raise _Refused("sqrt of a negative number")
        return root(x)

    return sqrt


def _float_power(base: float, exponent: Fraction) -> float:
    value = base ** (exponent.numerator / exponent.denominator)
    if isinstance(value, complex):
        raise _Refused("a fractional power of a negative number")
    return value


_FLOAT = _Arithmetic(integer=float, decimal=lambda text, value: value,
                     sqrt=_sqrt(math.sqrt, lambda x: x < 0), power=_float_power,
                     finite=math.isfinite)


@cache
def _sympy_arithmetic() -> _Arithmetic:
    import sympy as sp

    return _Arithmetic(
        integer=sp.Integer, decimal=lambda text, value: sp.Float(text.replace("_", "")),
        sqrt=_sqrt(sp.sqrt, lambda x: x.is_negative is True),
        power=lambda base, e: base ** sp.Rational(e.numerator, e.denominator),
        finite=lambda value: not value.has(sp.zoo, sp.nan, sp.oo, -sp.oo))


def _exponent(node: ast.expr) -> Fraction:
    """A rational literal exponent: 2, -1, (3/2), (-1/2)."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        sign, node = (-1 if isinstance(node.op, ast.USub) else 1), node.operand
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        numerator, denominator = node.left, node.right
    else:
        numerator, denominator = node, ast.Constant(1)
    if isinstance(numerator, ast.UnaryOp) and isinstance(numerator.op, ast.USub):
        sign, numerator = -sign, numerator.operand
    parts = [getattr(n, "value", None) for n in (numerator, denominator)]
    if not all(isinstance(p, int) and not isinstance(p, bool) for p in parts) or not parts[1]:
        raise _Refused("an exponent must be an integer or a fraction of integer literals")
    if max(parts) > MAX_POWER:
        raise _Refused(f"an exponent's numerator and denominator must be at most {MAX_POWER}")
    return sign * Fraction(*parts)


def _evaluate(text: str, arithmetic: _Arithmetic, symbols: dict) -> Any:
    """Build the value of `text` from its syntax tree, refusing anything off the whitelist."""

    def visit(node, power: int, depth: int):
        if depth > MAX_DEPTH:
            raise _Refused(f"it is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _Refused(f"the literal {value!r} is not a real number")
            if isinstance(value, int):
                return arithmetic.integer(value)
            return arithmetic.decimal(ast.get_source_segment(text, node), value)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](visit(node.operand, power, depth + 1))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = _exponent(node.right)
            power *= max(abs(exponent.numerator), 1)
            if power > MAX_POWER:
                raise _Refused(f"the exponents multiply to more than {MAX_POWER}")
            return arithmetic.power(visit(node.left, power, depth + 1), exponent)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](visit(node.left, power, depth + 1),
                                          visit(node.right, power, depth + 1))
        if isinstance(node, ast.Call):
            if (isinstance(node.func, ast.Name) and node.func.id == "sqrt"
                    and len(node.args) == 1 and not node.keywords):
                return arithmetic.sqrt(visit(node.args[0], power, depth + 1))
            raise _Refused("the only call allowed is sqrt(x) with one argument")
        if isinstance(node, ast.Name):
            if node.id in symbols:
                return symbols[node.id]
            if _SYMBOL.fullmatch(node.id) and symbols:
                raise _Refused(f"{node.id} is not among the stencil outputs y0 … "
                               f"y{len(symbols) - 1}")
            raise _Refused(f"the name {node.id!r} is not allowed")
        syntax = _SYNTAX_NAMES.get(type(node), f"the syntax {type(node).__name__}")
        raise _Refused(f"{syntax} is not allowed")

    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise _Refused(f"it does not parse ({error.__class__.__name__})") from None
    try:
        value = visit(tree.body, 1, 0)
    except ZeroDivisionError:
        raise _Refused("division by zero") from None
    except OverflowError:
        raise _Refused("the value overflows a float") from None
    if not arithmetic.finite(value):
        raise _Refused("the value is not finite")
    return value


def _parse(text: str, arithmetic: _Arithmetic, symbols: dict, limit: int, subject: str,
           syntax: str):
    """`subject` names the refused text through "{}", e.g. "{} is not a real number"."""
    shown = text if len(text) <= 60 else f"{text[:57]}..."
    try:
        if len(text) > limit:
            raise _Refused(f"it is longer than {limit} characters")
        return _evaluate(text, arithmetic, symbols)
    except _Refused as reason:
        raise GroupTheoryError(f"{subject.format(repr(shown))}: {reason}; "
                               f"allowed: {syntax}") from None


def to_sympy(value):
    """The exact sympy value of `value`: text (whitelist above), int, Fraction, float (as a
    sympy Float) or a sympy number (returned as is)."""
    import sympy as sp

    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, str):
        return _parse(value, _sympy_arithmetic(), {}, MAX_NUMBER_LENGTH,
                      "{} is not a real number", NUMBER_SYNTAX)
    if isinstance(value, bool):
        raise GroupTheoryError(f"{value!r} is not a real number")
    if isinstance(value, Integral):
        return sp.Integer(int(value))
    if isinstance(value, Rational):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, Real):
        return sp.Float(float(value))
    raise GroupTheoryError(f"{value!r} is not a real number; give an int, a Fraction, a "
                           f"float or text with {NUMBER_SYNTAX}")


def to_float(value) -> float:
    """`value` (text as for `to_sympy`, or a real number) as a float, without sympy."""
    if isinstance(value, str):
        return _parse(value, _FLOAT, {}, MAX_NUMBER_LENGTH, "{} is not a real number",
                      NUMBER_SYNTAX)
    if isinstance(value, Real) and not isinstance(value, bool):
        return float(value)
    raise GroupTheoryError(f"{value!r} is not a real number; give a number or text with "
                           f"{NUMBER_SYNTAX}")


@cache
def _symbols(n: int) -> dict:
    import sympy as sp

    return {f"y{k}": sp.Symbol(f"y{k}", real=True) for k in range(n)}


def to_expression(text: str, n_symbols: int):
    """The sympy expression of `text` in the real symbols y0 … y(n_symbols - 1)."""
    if not isinstance(text, str):
        raise GroupTheoryError(f"an invariant expression must be text, got {text!r}")
    return _parse(text, _sympy_arithmetic(), _symbols(n_symbols), MAX_EXPRESSION_LENGTH,
                  "invariant expression {} is refused",
                  f"the symbols y0 … y{n_symbols - 1}, {NUMBER_SYNTAX}")
